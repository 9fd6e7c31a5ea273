"""The command line, and inputs that cannot be read: a clear message naming the file, nothing lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.ingest.conftest import START, make_settings


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clean landing day of 40 customers (copied per test, so each test may break its own)."""
    from riskpipe.sources.generator import DefectRates, generate

    root = tmp_path_factory.mktemp("tiny") / "data"
    s = make_settings(root)
    generate(customers=40, days=1, start=START, seed=2, landing=s.landing, ground_truth=s.ground_truth,
             defects=DefectRates.clean())
    return root


@pytest.fixture
def world(tiny: Path, tmp_path: Path) -> Path:
    shutil.copytree(tiny, tmp_path / "data")
    return tmp_path / "data"


def test_dag_ingest_order_is_the_pipeline_order() -> None:
    import ast

    from riskpipe.ingest.pipeline import ORDER, UPSTREAM
    from riskpipe.sources.config import get_sources

    tree = ast.parse((Path(__file__).parents[2] / "dags" / "risk_daily.py").read_text())
    literal = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body
               if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "").startswith("INGEST_")}
    assert literal["INGEST_ORDER"] == ORDER
    assert literal["INGEST_UPSTREAM"] == UPSTREAM
    for source, ups in UPSTREAM.items():  # ORDER is a topological order of UPSTREAM
        assert all(ORDER.index(u) < ORDER.index(source) for u in ups)
    assert sorted(ORDER) == sorted(get_sources().sources)


def test_cli_ingests_a_date_and_prints_counts(world: Path, monkeypatch: pytest.MonkeyPatch, spark) -> None:
    from riskpipe.cli import app
    from riskpipe.settings import reset_settings

    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(world))
    reset_settings()
    try:
        res = CliRunner().invoke(app, ["ingest", "--date", START.isoformat(), "--source", "customers",
                                       "--source", "transactions", "--no-gate"], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert "customers" in res.output and "transactions" in res.output
        n = len(pd.read_parquet(world / "lake" / "silver" / "customers"))
        assert f"{n:,}" in res.output and n >= 40
        bad = CliRunner().invoke(app, ["ingest", "--date", "2030-01-01", "--no-gate"])
        said = bad.output + str(bad.exception)  # riskpipe.cli.main prints the exception's message
        assert bad.exit_code == 1
        assert "no landing files" in said and "2030-01-01" in said
        bad = CliRunner().invoke(app, ["ingest", "--date", "01/02/2026"])
        assert bad.exit_code == 1 and "YYYY-MM-DD" in str(bad.exception)
    finally:
        reset_settings()


def test_unreadable_parquet_file_is_quarantined_by_name(world: Path, spark) -> None:
    from riskpipe.ingest.pipeline import ingest_day

    s = make_settings(world)
    f = next((s.landing / "transactions" / f"dt={START}").glob("*.parquet"))
    f.write_bytes(b"this is not parquet at all\n" * 10)
    r = ingest_day("transactions", START, settings=s, spark=spark)
    assert r.files_quarantined == 1 and r.rows_read == 0 and r.rows_written == 0
    q = pd.read_parquet(s.quarantine / "transactions")
    rel = str(f.relative_to(s.landing))
    assert list(q["reason"]) == ["unreadable_file"] and list(q["_source_file"]) == [rel]
    assert rel in q["detail"][0]
    assert any(rel in p for p in r.problems)


def test_wrong_delimiter_quarantines_every_row_naming_the_file(world: Path, spark) -> None:
    from riskpipe.ingest.pipeline import ingest_day

    s = make_settings(world)
    f = next((s.landing / "customers" / f"dt={START}").glob("*.csv"))
    lines = f.read_text().splitlines()
    f.write_text("\n".join(line.replace('","', '"|"') for line in lines) + "\n")
    r = ingest_day("customers", START, settings=s, spark=spark)
    assert r.rows_read == len(lines) - 1 == r.rows_quarantined
    assert r.rows_written == 0 and r.partitions == []
    q = pd.read_parquet(s.quarantine / "customers")
    assert q["reason"].str.startswith("missing_column:").all()
    assert any(str(f.relative_to(s.landing)) in p and "header lacks" in p for p in r.problems)
    assert not (s.silver / "customers").exists()


def test_truncated_csv_loses_no_row_silently(world: Path, spark) -> None:
    from riskpipe.ingest.pipeline import ingest_day

    s = make_settings(world)
    f = next((s.landing / "customers" / f"dt={START}").glob("*.csv"))
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 40])  # cut inside the last record
    r = ingest_day("customers", START, settings=s, spark=spark)
    n_lines = len(f.read_text().splitlines()) - 1
    assert r.rows_read == n_lines == r.rows_written + r.rows_quarantined + r.duplicates_dropped
    q = pd.read_parquet(s.quarantine / "customers")
    assert n_lines in set(q["_source_row"]), "the cut record is quarantined with its row number"


def test_gate_failure_publishes_nothing(world: Path, spark) -> None:
    from riskpipe.ingest.pipeline import PublicationBlocked, ingest_day

    class Verdict:
        passed = False
        message = "transactions: expect_column_values_to_not_be_null(amount) failed for txn_id T1, T2"

    s = make_settings(world)
    with pytest.raises(PublicationBlocked, match="expect_column_values_to_not_be_null"):
        ingest_day("transactions", START, settings=s, spark=spark, gate=lambda *_: Verdict())
    assert not (s.silver / "transactions").exists()
    # the run is still on record, unpublished, and the quarantine (what was rejected) is kept
    meta = (s.runs / "ingest" / "transactions" / f"dt={START}" / "latest.json").read_text()
    assert '"published": false' in meta
    # a passing gate publishes the same day
    class Ok:
        passed, message = True, ""

    r = ingest_day("transactions", START, settings=s, spark=spark, gate=lambda *_: Ok())
    assert r.published and len(pd.read_parquet(s.silver / "transactions")) == r.rows_written > 0
