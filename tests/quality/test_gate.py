"""End to end: a failing suite stops ingest_day from publishing; the previous partition stays."""

from __future__ import annotations

import hashlib
import shutil

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.quality.conftest import LAST, point_env_at


def _digest(folder) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_gate_blocks_publication_and_keeps_previous_partition(lake, spark, tmp_path, monkeypatch) -> None:
    from riskpipe.ingest.pipeline import PublicationBlocked, ingest_day
    from riskpipe.quality import gate
    from tests.quality.conftest import _settings

    data_dir = tmp_path / "data"
    shutil.copytree(lake.data_dir, data_dir)
    point_env_at(monkeypatch, data_dir)  # the gate reads settings like the CLI does
    s = _settings(data_dir)
    # the card processor starts sending unknown customer numbers for every other transaction
    landing = next((s.landing / "transactions" / f"dt={LAST}").glob("*.parquet"))
    tbl = pq.read_table(landing)
    cust = tbl["cust_no"].to_numpy().copy()
    cust[::2] = 900_000 + cust[::2]
    pq.write_table(tbl.set_column(tbl.schema.get_field_index("cust_no"), "cust_no",
                                  pc.cast(cust, tbl.schema.field("cust_no").type)), landing)
    published = s.silver / "transactions" / f"dt={LAST}"
    before = _digest(published)

    with pytest.raises(PublicationBlocked) as err:
        ingest_day("transactions", LAST, gate=gate, settings=s, spark=spark)
    msg = str(err.value)
    assert "transactions" in msg and "reference:customer_id" in msg and "C00900" in msg
    assert _digest(published) == before  # nothing published: the previous partition is untouched
    summary = s.runs / "validate" / "transactions" / f"dt={LAST}" / "latest.json"
    assert '"passed": false' in summary.read_text()


def test_cli_validate_passes_and_fails_with_exit_code(lake, spark, tmp_path, monkeypatch) -> None:
    from pyspark.sql import functions as F

    from riskpipe.cli import app
    from tests.quality.conftest import _settings

    res = CliRunner().invoke(app, ["validate", "--date", str(LAST), "--dataset", "customers",
                                   "--dataset", "applications"], env={"COLUMNS": "300", "RISKPIPE_DATA_DIR": str(lake.data_dir)})
    assert res.exit_code == 0, res.output
    assert "customers" in res.output and "passed" in res.output

    # a copy of the lake whose applications partition has an unknown purpose
    data_dir = tmp_path / "data"
    shutil.copytree(lake.data_dir, data_dir)
    s = _settings(data_dir)
    part = s.silver / "applications" / f"dt={LAST}"
    spark.read.parquet(str(part)).withColumn("purpose", F.lit("yacht")).coalesce(1).write.parquet(
        str(tmp_path / "bad"))
    shutil.rmtree(part)
    shutil.move(tmp_path / "bad", part)
    point_env_at(monkeypatch, data_dir)
    res = CliRunner().invoke(app, ["validate", "--date", str(LAST), "--dataset", "applications"],
                             env={"COLUMNS": "300"})
    assert res.exit_code == 1, res.output
    assert "allowed:purpose" in res.output and "applications" in res.output
