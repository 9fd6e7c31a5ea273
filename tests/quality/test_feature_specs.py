"""The feature gate: every feature table has a GX spec that agrees with its contract and its dbt tests,
passes on real built partitions, fails for the right expectation on each kind of defect, and a failed
partition is neither marked validated nor materialised."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import functions as F

from riskpipe.features.tables import FEATURE_TABLES, PARTITION_KEY, VALIDATED_MARKER, arrow_schema
from riskpipe.indicators.build import FEATURE_TABLES as DBT_FEATURE_TABLES
from riskpipe.quality import validate_frame
from riskpipe.quality.features import FeaturesBlocked, feature_tables, validate_features
from riskpipe.quality.spec import get_spec
from tests.worlds import STORE_DATES

ROOT = Path(__file__).resolve().parents[2]
LAST = STORE_DATES[-1]
#: every published feature table: the Feast contract's and the dbt-only ones (fraud_txn)
PUBLISHED = sorted(set(FEATURE_TABLES) | set(DBT_FEATURE_TABLES))


def _dbt_columns() -> dict[str, dict[str, dict]]:
    doc = yaml.safe_load((ROOT / "dbt" / "models" / "marts" / "features" / "_features__models.yml").read_text())
    out: dict[str, dict[str, dict]] = {}
    for m in doc["models"]:
        cols = {}
        for c in m.get("columns", []):
            rules: dict = {}
            for t in c.get("data_tests", []):
                if t == "not_null":
                    rules["not_null"] = True
                elif isinstance(t, dict) and "accepted_range" in t:
                    a = t["accepted_range"].get("arguments", t["accepted_range"])
                    rules["range"] = (a.get("min_value"), a.get("max_value"))
                elif isinstance(t, dict) and "accepted_values" in t:
                    a = t["accepted_values"].get("arguments", t["accepted_values"])
                    rules["allowed"] = sorted(a["values"])
            cols[c["name"]] = rules
        out[m["name"]] = cols
    return out


@pytest.mark.parametrize("table", sorted(FEATURE_TABLES))
def test_every_feature_table_has_a_spec_matching_its_contract(table) -> None:
    spec = get_spec(table)
    t = FEATURE_TABLES[table]
    assert spec.layer == "features"
    assert spec.keys.columns == list(t.keys)
    assert [(c.name, c.type) for c in spec.columns] == [*t.columns(), ("dt", "date")]
    for name in (*t.keys, *t.extra_keys, "feature_ts", "created_ts", "dt"):
        assert spec.column(name).not_null is not None, name
    assert spec.partition and spec.partition.event_column == "feature_ts"
    assert spec.freshness and spec.freshness.event_column == "feature_ts"
    assert spec.distribution and spec.distribution.row_count is not None


@pytest.mark.parametrize("table", sorted(set(PUBLISHED) & set(_dbt_columns())))
def test_feature_spec_agrees_with_the_dbt_tests(table) -> None:
    """Ranges and allowed sets are declared twice (dbt tests inside the build, GX at the gate): they
    must say the same thing, so a bound changed in one place and not the other fails here."""
    spec = get_spec(table)
    assert spec.layer == "features"
    assert {c.name for c in spec.columns} == {*_dbt_columns()[table], "dt"}, "columns differ from the dbt model"
    for name, rules in _dbt_columns()[table].items():
        col = spec.column(name)
        if "range" in rules:
            assert col.range is not None, f"{table}.{name}: dbt has a range, the spec none"
            assert (col.range.min, col.range.max) == rules["range"], name
        else:
            assert col.range is None, f"{table}.{name}: the spec has a range dbt does not test"
        assert sorted(col.allowed.values) == rules["allowed"] if "allowed" in rules else col.allowed is None, name
        if rules.get("not_null"):
            assert col.not_null is not None, f"{table}.{name}: dbt tests not_null, the spec does not"


def test_gate_order_puts_referenced_tables_first() -> None:
    order = feature_tables()
    assert set(order) == set(PUBLISHED)
    for name in order:
        for ref in get_spec(name).references:
            assert order.index(ref.dataset) < order.index(name)


def test_built_partitions_passed_the_gate_with_evidence(store_world) -> None:
    for day in STORE_DATES:
        for table in PUBLISHED:
            marker = store_world.features / table / f"{PARTITION_KEY}={day}" / VALIDATED_MARKER
            body = json.loads(marker.read_text())
            assert body["validated_by"] == "great_expectations", (table, day)
            assert body["rows"] > 0 and "unique" in body["checks_passed"], (table, day)
            assert Path(body["summary"]).parent.name == f"dt={day}"
            assert json.loads(Path(body["summary"]).read_text())["dataset"] == table
    # by the last date the trailing partitions are enough for the distribution checks to apply
    body = json.loads((FEATURE_TABLES["customer_credit_daily"].partition(store_world.features, LAST)
                       / VALIDATED_MARKER).read_text())
    assert {"row_count", "mean:bureau_score", "freshness:feature_ts"} <= set(body["checks_passed"])
    first = json.loads((FEATURE_TABLES["customer_credit_daily"].partition(store_world.features, STORE_DATES[0])
                        / VALIDATED_MARKER).read_text())
    assert "row_count" not in first["checks_passed"]  # no history yet: not applied


def _read(spark, settings, table: str, day: dt.date):
    root = settings.features / table
    return spark.read.option("basePath", str(root)).parquet(str(root / f"dt={day.isoformat()}"))


def _first(col: str, value):
    """Replace ``col`` in the first few rows (by key order) with ``value``."""
    def apply(df):
        key = df.columns[0]
        head = [r[0] for r in df.select(key).orderBy(key).limit(3).collect()]
        return df.withColumn(col, F.when(F.col(key).isin(head), F.lit(value)).otherwise(F.col(col)))
    return apply


DEFECTS = {
    # table, defect -> (mutation, the check that must fail)
    "duplicate key": ("customer_credit_daily", lambda df: df.unionByName(df.limit(3)), "unique"),
    "null key": ("customer_fraud_daily", _first("customer_id", None), "not_null:customer_id"),
    "out of range": ("customer_graph_daily", _first("component_bad_share", 1.5), "range:component_bad_share"),
    "not an allowed value": ("customer_credit_daily", _first("region", "ATLANTIS"), "allowed:region"),
    "wrong type": ("customer_fraud_daily", lambda df: df.withColumn("txn_count_24h", F.col("txn_count_24h").cast("double")),
                   "type:txn_count_24h"),
    "missing column": ("loan_early_warning_daily", lambda df: df.drop("paid_ratio"), "schema"),
    "stale feature time": ("customer_credit_daily",
                           lambda df: df.withColumn("feature_ts", F.col("feature_ts") - F.expr("INTERVAL 2 DAYS")),
                           "freshness:feature_ts"),
    "orphan reference": ("loan_early_warning_daily", _first("customer_id", "C_NOBODY"), "reference:customer_id"),
    "row count collapse": ("customer_graph_daily", lambda df: df.limit(max(1, df.count() // 10)), "row_count"),
    # fraud_txn's partition T holds the rows made at T (created_ts): a row made a day later is in the wrong one
    "row in another partition": ("fraud_txn",
                                 lambda df: df.withColumn("created_ts", F.col("created_ts") + F.expr("INTERVAL 1 DAY")),
                                 "partition:dt"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_fails_the_right_expectation(store_world, spark, defect) -> None:
    table, mutate, check = DEFECTS[defect]
    clean = _read(spark, store_world, table, LAST)
    assert validate_frame(table, LAST, clean, store_world).passed
    r = validate_frame(table, LAST, mutate(clean), store_world)
    assert not r.passed
    assert check in r.failed_checks, (defect, r.failed_checks, r.message)
    assert table in r.message


def _validate_cli(data: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    from typer.testing import CliRunner

    from riskpipe.cli import app
    from riskpipe.settings import reset_settings

    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(data))
    reset_settings()
    try:
        return CliRunner().invoke(app, ["validate", "--date", LAST.isoformat(), *args], env={"COLUMNS": "200"})
    finally:
        reset_settings()


def test_a_failed_partition_is_not_marked_nor_materialised(store_world, spark, tmp_path, monkeypatch) -> None:
    """A rebuilt partition with a broken value: the gate raises naming table, check and keys, the old
    marker is gone, the other tables of that date still pass, and materialisation skips the table."""
    from riskpipe.features.materialize import materialize
    from riskpipe.features.store import get_store
    from riskpipe.settings import load_settings

    data = tmp_path / "data"
    shutil.copytree(store_world.data_dir, data)
    s = load_settings(data_dir=data, spark_master="local[2]", spark_shuffle_partitions=2)
    table = "customer_graph_daily"
    part = FEATURE_TABLES[table].partition(s.features, LAST)
    assert (part / VALIDATED_MARKER).is_file()
    # the same gate from the CLI (what a CLI-only user runs before `riskpipe materialize`)
    (part / VALIDATED_MARKER).unlink()
    ok = _validate_cli(data, monkeypatch, "--features", "--dataset", table)
    assert ok.exit_code == 0, ok.output
    assert (part / VALIDATED_MARKER).is_file() and "validated" in ok.output
    broken = _first("component_bad_share", -0.5)(_read(spark, s, table, LAST)).drop("dt").toPandas()
    bad_ids = sorted(broken.loc[broken.component_bad_share < 0, "customer_id"])
    pq.write_table(pa.Table.from_pandas(broken, schema=arrow_schema(FEATURE_TABLES[table]), preserve_index=False),
                   part / "data.parquet")

    with pytest.raises(FeaturesBlocked) as err:
        validate_features(LAST, settings=s, spark=spark)
    msg = str(err.value)
    assert table in msg and "range:component_bad_share" in msg and bad_ids[0] in msg
    assert [r.dataset for r in err.value.results] == [table]
    assert not (part / VALIDATED_MARKER).exists()
    for other in set(PUBLISHED) - {table}:
        assert (s.features / other / f"{PARTITION_KEY}={LAST}" / VALIDATED_MARKER).is_file(), other

    cli = _validate_cli(data, monkeypatch, "--features")
    assert cli.exit_code == 1 and table in cli.output and "FAILED" in cli.output, cli.output
    assert not (part / VALIDATED_MARKER).exists()

    result = materialize(LAST, settings=s, store=get_store(s))
    why = [v for v in result.skipped.values() if f"{table}/dt={LAST}" in v]
    assert why and "not validated" in why[0], result.skipped
    assert result.materialized and all(table not in v for v in result.materialized)
