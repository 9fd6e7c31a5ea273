"""The dbt project builds on the local (duckdb) target: every dbt test and unit test passes, the
tables match the contract in docs/feature-tables.md, reruns are idempotent, failures are clear."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from riskpipe.errors import ConfigError
from riskpipe.indicators.build import TABLES, IndicatorBuildFailed, build_indicators, dbt_project_dir
from riskpipe.models.labels import dbt_vars as label_dbt_vars
from tests.indicators.conftest import LAST, MID, QUIET

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "feature-tables.md"
ARROW = {"long": "int64", "int": "int32", "double": "double", "string": "string",
         "timestamp": "timestamp[us, tz=UTC]"}


def contract_tables() -> dict[str, list[tuple[str, str | None]]]:
    """Table -> [(column, contract type or None)] parsed from docs/feature-tables.md."""
    text = CONTRACT.read_text()
    out: dict[str, list[tuple[str, str | None]]] = {}
    for m in re.finditer(r"^### (\w+).*?\n(.*?)(?=^###|^\* `label|\Z)", text, re.S | re.M):
        out[m.group(1)] = _columns(" ".join(re.findall(r"`([^`]*)`", m.group(2))))
    for m in re.finditer(r"^\* `(label_\w+)`: `([^`]*)`", text, re.M):
        out[m.group(1)] = _columns(m.group(2))
    return out


def _columns(spec: str) -> list[tuple[str, str | None]]:
    spec = re.sub(r"\([^)]*\)", "", spec)
    cols: list[tuple[str, str | None]] = []
    for item in re.split(r",\s*(?![^{]*\})", spec):
        parts = item.split()
        if not parts:
            continue
        name, typ = parts[0], (parts[1] if len(parts) > 1 else None)
        m = re.match(r"(\w*)\{([^}]*)\}(\w*)", name)
        names = [f"{m.group(1)}{x.strip()}{m.group(3)}" for x in m.group(2).split(",")] if m else [name]
        cols += [(n, typ) for n in names]
    return cols


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_contract_parser_reads_every_table():
    tables = contract_tables()
    assert set(TABLES) <= set(tables)
    assert ("txn_std_90d", "double") in tables["customer_credit_daily"]
    assert ("label", "int") in tables["label_fraud"]


def test_build_runs_every_model_unit_test_and_data_test(built):
    for day, result in built.items():
        assert result.date == day and result.target == "local"
        kinds = {}
        for n in result.nodes:
            kinds.setdefault(n.resource_type, []).append(n.status)
        assert all(s == "success" for s in kinds["model"]), kinds["model"]
        assert len(kinds["unit_test"]) >= 7 and all(s == "pass" for s in kinds["unit_test"])
        assert len(kinds["test"]) >= 150 and all(s == "pass" for s in kinds["test"])
        assert set(result.tables) == set(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_partitions_follow_the_contract(world, built, table):
    expected = contract_tables()[table]
    for day, result in built.items():
        node = result.tables[table]
        path = world.features / table / f"dt={day.isoformat()}" / "data.parquet"
        assert node.path == str(path) and path.is_file()
        schema = pq.read_schema(path)
        assert schema.names == [c for c, _ in expected], f"{table}: column names/order differ from the contract"
        for col, typ in expected:
            want = ARROW[typ] if typ else ("timestamp[us, tz=UTC]" if col.endswith(("_ts", "_at")) else "string")
            assert str(schema.field(col).type) == want, f"{table}.{col}: {schema.field(col).type} != {want}"
        assert node.rows == pq.ParquetFile(path).metadata.num_rows
        assert sorted(p.name for p in path.parent.iterdir()) == ["data.parquet"], "one file per partition"


def test_daily_tables_are_not_empty(built):
    for table in ("customer_credit_daily", "customer_fraud_daily", "loan_early_warning_daily"):
        assert all(r.tables[table].rows > 0 for r in built.values()), table
    assert built[MID].tables["fraud_txn"].rows > 0


def test_rerun_gives_identical_partitions_and_leaves_other_dates_alone(world, built):
    before = {(t, d): sha(r.tables[t].path) for d, r in built.items() for t in TABLES}
    again = build_indicators(MID, world)
    for t in TABLES:
        assert sha(again.tables[t].path) == before[(t, MID)], f"{t} {MID} changed on rerun"
    for d in (LAST, QUIET):
        for t in TABLES:
            assert sha(world.features / t / f"dt={d.isoformat()}" / "data.parquet") == before[(t, d)]


def test_cli_builds_a_date_then_gates_it(world, built, tmp_path, monkeypatch):
    """`riskpipe indicators --date D`: dbt build, the graph job, then the feature gate marks every
    feature table's partition validated (what `riskpipe materialize` requires)."""
    from typer.testing import CliRunner

    from riskpipe.cli import app
    from riskpipe.features.tables import VALIDATED_MARKER
    from riskpipe.quality.features import feature_tables
    from riskpipe.settings import reset_settings

    data = tmp_path / "data"
    shutil.copytree(world.silver, data / "lake" / "silver")
    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(data))
    reset_settings()
    try:
        res = CliRunner().invoke(app, ["indicators", "--date", LAST.isoformat(), "--json"])
    finally:
        reset_settings()
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{"):])
    tables = {n["name"]: n for n in report["nodes"] if n["name"] in TABLES}
    assert set(tables) == set(TABLES)
    assert tables["customer_credit_daily"]["rows"] == built[LAST].tables["customer_credit_daily"].rows
    assert report["graph"] and report["validation"]["failed"] == {}
    assert set(report["validation"]["validated"]) == set(feature_tables())
    for table in feature_tables():
        part = data / "lake" / "features" / table / f"dt={LAST}"
        assert (part / VALIDATED_MARKER).is_file(), table
        assert report["validation"]["validated"][table] == pq.ParquetFile(part / "data.parquet").metadata.num_rows


def test_bad_date_is_a_config_error(world):
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        build_indicators("2026-13-01", world)


def test_a_failing_dbt_test_raises_naming_the_test(world, built, tmp_path):
    """Silver with a negative amount: the staging range test fails and the build says which."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from riskpipe.settings import load_settings

    lake = tmp_path / "lake"
    shutil.copytree(world.silver, lake / "silver")
    part = sorted((lake / "silver" / "transactions").glob("dt=*/*.parquet"))[0]
    tbl = pq.read_table(part)
    amounts = pc.if_else(pa.array([i == 0 for i in range(tbl.num_rows)]), -5.0, tbl["amount"])
    pq.write_table(tbl.set_column(tbl.schema.get_field_index("amount"), "amount", amounts), part)
    bad = load_settings(data_dir=world.data_dir, lake_dir=lake)
    with pytest.raises(IndicatorBuildFailed, match=r"accepted_range_stg_transactions__transactions_amount"):
        build_indicators(MID, bad, select=["stg_transactions__transactions"])


def test_project_dir_is_found():
    assert (dbt_project_dir() / "dbt_project.yml").is_file()


def test_dates_are_checked_before_dbt_runs(world):
    with pytest.raises(ConfigError):
        build_indicators(dt.datetime(2026, 1, 6, 12), world)


def test_docs_describe_every_indicator(world, tmp_path):
    """`dbt docs generate` works and every published column has owner, definition and unit."""
    from dbt.cli.main import dbtRunner

    project = dbt_project_dir()
    res = dbtRunner().invoke([
        "docs", "generate", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet",
        "--vars", json.dumps({"feature_date": MID.isoformat(), "lake_dir": str(world.lake), **label_dbt_vars(world)}),
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")])
    assert res.success, res.exception
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    contract = contract_tables()
    for table in TABLES:
        node = models[table]
        assert node["description"]
        assert [c for c, _ in contract[table]] == list(node["columns"]), table
        for name, col in node["columns"].items():
            meta = col.get("meta") or col.get("config", {}).get("meta", {})
            assert {"owner", "definition", "unit"} <= set(meta), f"{table}.{name}"
            assert col["description"], f"{table}.{name}"
    assert (tmp_path / "target" / "index.html").is_file()


def test_duckdb_memory_limit_reaches_the_build(world, tmp_path):
    """The local target's DuckDB runs under settings.dbt_memory_limit: far too little memory makes the
    build fail naming DuckDB's limit (so the limit is applied), instead of the process growing until the
    kernel kills it; the next build in the process runs under its own limit. A limit that is not a size
    is refused before dbt starts."""
    from riskpipe.settings import SettingsError, load_settings

    lake = tmp_path / "lake"
    shutil.copytree(world.silver, lake / "silver")
    tight = load_settings(data_dir=world.data_dir, lake_dir=lake, dbt_memory_limit="1MB")
    with pytest.raises(IndicatorBuildFailed, match=r"(?i)out of memory.*/976\.5 KiB used"):
        build_indicators(MID, tight, select=["+int_customers_transactions_aggregated"])
    # the builds of one process share one in-memory DuckDB: the next build gets its own limit back
    roomy = load_settings(data_dir=world.data_dir, lake_dir=lake, dbt_memory_limit="2GB")
    result = build_indicators(MID, roomy, select=["+int_customers_transactions_aggregated"])
    assert "int_customers_transactions_aggregated" in {n.name for n in result.models}
    with pytest.raises(SettingsError, match="RISKPIPE_DBT_MEMORY_LIMIT"):
        load_settings(data_dir=world.data_dir, dbt_memory_limit="plenty")
