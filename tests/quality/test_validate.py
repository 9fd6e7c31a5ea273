"""Suites pass on real silver data and fail for the right expectation on each kind of defect.

Defects are injected into real silver partitions with Spark (the frame is validated, not written).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from riskpipe.quality import validate_dataset, validate_frame
from tests.quality.conftest import INGESTED, LAST, read_partition


@pytest.mark.parametrize("source", INGESTED)
def test_gate_passed_valid_data_of_every_source(lake, source) -> None:
    r = lake.gate_results[source]
    assert r.passed, r.message
    assert r.failed_checks == []
    assert r.partitions  # the staged partitions the gate saw are the ones published
    for part in r.partitions:
        assert (lake.settings.silver / source / f"dt={part}").is_dir()


def test_transactions_gate_applied_distribution_checks(lake) -> None:
    checks = {c.check: c for c in lake.gate_results["transactions"].checks}
    for name in ("row_count", "null_rate:device_id", "mean:amount", "reference:customer_id", "freshness:event_ts"):
        assert checks[name].success, checks[name]


def test_validate_dataset_from_disk_writes_summary_and_data_docs(lake, spark) -> None:
    r = validate_dataset("device_events", LAST, lake.settings, spark)
    assert r.passed, r.message
    assert r.rows > 50
    summary = json.loads(r.summary_path.read_text())
    assert summary["dataset"] == "device_events" and summary["passed"] is True
    assert summary["baseline"]["partitions"] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert r.summary_path.parent == lake.settings.runs / "validate" / "device_events" / f"dt={LAST}"
    assert (r.summary_path.parent / "latest.json").exists()
    docs = lake.settings.reports / "data_docs"
    assert (docs / "index.html").exists()
    assert any(docs.rglob("*device_events*.html")) or "device_events" in (docs / "index.html").read_text()


def test_chargebacks_spec_passes_on_valid_chargebacks(lake, spark) -> None:
    """No chargeback lands within four days (they come 7-60 days later): build valid ones, in Spark,
    for real published transactions of the first days, reported on the last day."""
    txns = read_partition(spark, lake, "transactions", LAST - dt.timedelta(days=2)).orderBy("txn_id").limit(40)
    cb = _chargebacks(txns)
    assert cb.count() == 40
    r = validate_frame("chargebacks", LAST, cb, lake.settings)
    assert r.passed, r.message

    def orphans(n: int):  # the first n chargebacks are for transactions nobody published
        return cb.withColumn("txn_id", F.when(F.col("_source_row") <= n, F.concat(F.lit("T99999999999"), F.col(
            "_source_row").cast("string"))).otherwise(F.col("txn_id")))

    # one in forty: a transaction that lands late (or was quarantined); its chargeback still publishes
    # and labels it once it lands, rather than the whole day's chargebacks being held back
    r = validate_frame("chargebacks", LAST, orphans(1), lake.settings)
    assert r.passed, r.message
    # three in forty (7.5%, over the 5% allowed) is a broken feed or join key
    r = validate_frame("chargebacks", LAST, orphans(3), lake.settings)
    assert not r.passed and r.failed_checks == ["reference:txn_id"]
    assert "T999999999991" in r.message


def test_repayments_gate_lets_an_early_arriving_loan_schedule_through(lake, spark) -> None:
    """A loan's schedule (one row per instalment) can land before its application: a fifth of the
    day's rows without a published loan still publishes; over a quarter is a broken feed."""
    rep = read_partition(spark, lake, "repayments", LAST)
    assert rep.count() >= 20

    def orphans(every: int):  # every n-th row's loan is unknown to the published applications
        return rep.withColumn("loan_id", F.when(F.col("_source_row") % every == 0, F.concat(
            F.lit("L9"), F.col("_source_row").cast("string"))).otherwise(F.col("loan_id")))

    r = validate_frame("repayments", LAST, orphans(5), lake.settings)
    assert r.passed, r.message
    r = validate_frame("repayments", LAST, orphans(3), lake.settings)
    assert not r.passed and r.failed_checks == ["reference:loan_id"], r.message


def _chargebacks(txns):
    ts = F.to_timestamp(F.lit(f"{LAST.isoformat()} 12:00:00")) + F.make_interval(
        mins=F.row_number().over(_w()).cast("int"))
    return txns.select(
        F.concat(F.lit("CB"), F.substring("txn_id", 2, 13)).alias("chargeback_id"),
        "txn_id",
        F.lit("fraud_card_absent").alias("reason_code"),
        F.lit(True).alias("is_fraud"),
        "amount",
    ).withColumn("event_ts", ts).select(
        "*",
        F.to_timestamp(F.lit(f"{(LAST + dt.timedelta(days=1)).isoformat()} 00:00:00")).alias("known_at"),
        F.lit(LAST).cast("date").alias("_landing_dt"),
        F.lit(f"chargebacks/dt={LAST}/chargebacks_{LAST:%Y%m%d}.jsonl").alias("_source_file"),
        F.row_number().over(_w()).cast("long").alias("_source_row"),
        F.lit("test-run").alias("_run_id"),
        F.lit(LAST).cast("date").alias("dt"),
    )


def _w():
    from pyspark.sql import Window

    return Window.orderBy("txn_id")


# ---- one defect at a time: the suite fails for the right expectation ------------------------------------
def _first_rows(col: str, n: int = 3):
    """A condition selecting a few deterministic rows of a partition (by source row)."""
    return F.col("_source_row") <= n


DEFECTS = {
    # name: (dataset, transform, expected failing error checks)
    "null_key": ("transactions", lambda df: df.withColumn(
        "txn_id", F.when(_first_rows("txn_id"), F.lit(None).cast("string")).otherwise(F.col("txn_id"))),
        {"not_null:txn_id"}),
    "duplicate_key": ("transactions", lambda df: df.unionByName(df.filter(_first_rows("txn_id"))),
                      {"unique"}),
    "out_of_range": ("transactions", lambda df: df.withColumn(
        "amount", F.when(_first_rows("amount"), F.lit(-5.0)).otherwise(F.col("amount"))),
        {"range:amount"}),
    "not_allowed_enum": ("transactions", lambda df: df.withColumn(
        "channel", F.when(_first_rows("channel"), F.lit("crypto")).otherwise(F.col("channel"))),
        {"allowed:channel"}),
    "orphan_reference": ("transactions", lambda df: df.withColumn(
        "customer_id", F.when(F.col("_source_row") % 5 == 0, F.lit("C09999999")).otherwise(F.col("customer_id"))),
        {"reference:customer_id"}),
    # the whole delivery is two days old (consistent dt): nothing from the day it claims to be
    "stale_data": ("transactions", lambda df: df.withColumn("event_ts", F.col("event_ts") - F.expr("INTERVAL 2 DAYS"))
                   .withColumn("dt", F.to_date("event_ts")),
                   {"freshness:event_ts"}),
    "row_count_drop": ("device_events", lambda df: df.filter(F.col("_source_row") % 4 == 0),
                       {"row_count"}),
    "null_rate_jump": ("transactions", lambda df: df.withColumn("device_id", F.lit(None).cast("string")),
                       {"null_rate:device_id"}),
    "mean_shift": ("transactions", lambda df: df.withColumn("amount", F.col("amount") * 3),
                   {"mean:amount"}),
    "type_change": ("transactions", lambda df: df.withColumn("merchant_category", F.col("merchant_category").cast("int")),
                    {"type:merchant_category"}),
    "schema_change": ("transactions", lambda df: df.withColumnRenamed("merchant_country", "merchant_cntry"),
                      {"schema", "type:merchant_country", "not_null:merchant_country"}),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_defect_fails_the_right_expectation(lake, spark, defect) -> None:
    dataset, inject, expected = DEFECTS[defect]
    df = inject(read_partition(spark, lake, dataset))
    r = validate_frame(dataset, LAST, df, lake.settings)
    assert not r.passed, f"{defect}: suite passed: {r.message}"
    assert set(r.failed_checks) == expected, r.message
    assert dataset in r.message
    for check in expected:
        assert check in r.message
    summary = json.loads(r.summary_path.read_text())
    assert summary["passed"] is False and set(summary["failed_checks"]) == expected


def test_failure_message_names_failing_keys(lake, spark) -> None:
    df = DEFECTS["out_of_range"][1](read_partition(spark, lake, "transactions"))
    bad_ids = sorted(r.txn_id for r in df.filter(F.col("amount") < 0).select("txn_id").collect())
    r = validate_frame("transactions", LAST, df, lake.settings)
    failure = r.failures[0]
    assert failure.check == "range:amount" and failure.unexpected_count == 3
    assert all(any(t in s for t in bad_ids) for s in failure.sample), failure.sample
    assert bad_ids[0] in r.message and "amount=-5.0" in r.message


def test_warning_severity_is_recorded_but_passes(lake, spark) -> None:
    df = read_partition(spark, lake, "device_events").withColumn("geo_country", F.lit(None).cast("string"))
    r = validate_frame("device_events", LAST, df, lake.settings)
    assert r.passed, r.message
    assert r.warning_checks == ["null_rate:geo_country"]
    assert r.warnings and "null_rate:geo_country" in r.warnings[0]
    summary = json.loads(r.summary_path.read_text())
    assert summary["passed"] is True and summary["warning_checks"] == ["null_rate:geo_country"]


def test_data_docs_index_lists_the_runs_of_every_process(lake, spark) -> None:
    """Each process rebuilds the Data Docs index; it must list earlier processes' runs too."""
    import re

    from riskpipe.quality import validate as v

    v._context.cache_clear()
    validate_dataset("customers", LAST, lake.settings, spark)
    v._context.cache_clear()  # what a new process starts with
    validate_dataset("device_events", LAST, lake.settings, spark)
    index = (lake.settings.reports / "data_docs" / "index.html").read_text()
    for dataset in ("customers", "device_events"):  # the index's table data links each run's page
        assert re.search(rf"validations/{dataset}/{dataset}-{LAST}/\d{{8}}T\d+\.\d+Z/[^'\"]+\.html", index), dataset


def test_history_metrics_are_cached_per_partition_and_refreshed_when_it_changes(lake, spark) -> None:
    import os

    from riskpipe.quality.baselines import _metrics_path, compute_baseline
    from riskpipe.quality.spec import get_spec

    spec = get_spec("transactions")
    first = compute_baseline(spec, LAST, lake.settings, spark)
    assert first is not None and len(first.partitions) >= 3
    paths = {d: _metrics_path(lake.settings, "transactions", dt.date.fromisoformat(d)) for d in first.partitions}
    assert all(p.is_file() for p in paths.values())
    # the cache is what is read: a (forged) cached row count shows up in the baseline
    oldest = first.partitions[0]
    body = json.loads(paths[oldest].read_text())
    body["metrics"]["n"] = 10**9
    paths[oldest].write_text(json.dumps(body))
    assert compute_baseline(spec, LAST, lake.settings, spark).row_count > 10**8
    # a republished partition (its file changed) is measured again
    f = next((lake.settings.silver / "transactions" / f"dt={oldest}").glob("*.parquet"))
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = compute_baseline(spec, LAST, lake.settings, spark)
    assert again.row_count == first.row_count and again.mean == first.mean


def test_data_docs_keep_only_the_newest_runs_per_dataset(lake, spark, tmp_path) -> None:
    """Retention: with RISKPIPE_DATA_DOCS_KEEP_RUNS = 2, a third validation of a dataset deletes the
    oldest run's stored result and page, the index lists the two newest, other datasets are untouched."""
    import re
    import shutil

    from riskpipe.settings import load_settings

    s = load_settings(data_dir=tmp_path / "data", data_docs_keep_runs=2)
    shutil.copytree(lake.settings.lake, s.lake)
    shutil.copytree(lake.settings.reports / "data_docs", s.reports / "data_docs")  # earlier runs, other datasets
    docs = s.reports / "data_docs"
    others = sorted(p.relative_to(docs) for p in (docs / "_results").glob("*/*/*") if p.parent.parent.name != "customers")
    assert others
    shutil.rmtree(docs / "_results" / "customers", ignore_errors=True)
    shutil.rmtree(docs / "validations" / "customers", ignore_errors=True)
    for _ in range(3):
        assert validate_dataset("customers", LAST, s, spark).passed
    kept = sorted((docs / "_results" / "customers").glob("*/*"))
    pages = sorted((docs / "validations" / "customers").glob("*/*"))
    assert len(kept) == 2 and [p.name for p in pages] == [p.name for p in kept]
    index = (docs / "index.html").read_text()
    listed = set(re.findall(rf"validations/customers/customers-{LAST}/(\d{{8}}T\d+\.\d+Z)/", index))
    assert listed == {p.name for p in kept}
    assert sorted(p.relative_to(docs) for p in (docs / "_results").glob("*/*/*")
                  if p.parent.parent.name != "customers") == others


def test_a_parquet_read_validated_without_cache_gives_the_cached_results(lake, spark, tmp_path) -> None:
    """validate_dataset and the ingest gate validate a Parquet read without persisting it (each GX job
    re-reads the files); verdict, counts and failing-key samples are those of the cached path."""
    df = DEFECTS["out_of_range"][1](read_partition(spark, lake, "transactions"))
    df = df.unionByName(df.filter(_first_rows("txn_id", 2)))  # 4 unexpected rows: all in the sample
    df.write.parquet(str(tmp_path / "transactions"))
    on_disk = spark.read.parquet(str(tmp_path / "transactions"))
    cached = validate_frame("transactions", LAST, on_disk, lake.settings)
    uncached = validate_frame("transactions", LAST, on_disk, lake.settings, cache=False)
    assert not uncached.passed and set(uncached.failed_checks) == {"unique", "range:amount"}, uncached.message
    assert uncached.rows == cached.rows
    assert len(uncached.checks) == len(cached.checks) == 49

    def comparable(r):
        return [{**dataclasses.asdict(c), "sample": sorted(c.sample)} for c in r.checks]

    assert comparable(uncached) == comparable(cached)
