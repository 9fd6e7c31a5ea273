"""Validation of one day of silver transactions: the Great Expectations suite vs a hand-written pass.

Figure: seconds for ``validate_dataset("transactions", D)``: the full suite from
``expectations/transactions.yml`` (schema and types, key uniqueness, not-null, ranges, allowed sets,
partition/event-date agreement, freshness, the reference to customers, and distribution against
three trailing partitions), run by Great Expectations on the Spark DataFrame, plus its JSON summary
and Data Docs. Steady state of a daily run: the older history partitions' metrics are cached from
earlier days (keyed by their files), yesterday's is measured in this run.
Anchor, same run, same partition: one Spark pass computing the same aggregates by hand (row count,
null count of every column, min/max of every ranged column, out-of-set counts, distinct keys).
Goal: at most 2x. Ratio = figure / anchor: lower is better. Scales: small 500k rows; full 10M.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

from bench import spark_sizes

DAY = dt.date(2026, 1, 4)
HISTORY = 3


def _hand_pass(spark, folder: Path) -> dict:
    """The anchor: every aggregate in one ``agg`` over the partition."""
    from pyspark.sql import functions as F

    from riskpipe.quality.spec import get_spec

    spec = get_spec("transactions")
    df = spark.read.parquet(str(folder))
    aggs = [F.count(F.lit(1)).alias("rows"), F.countDistinct(*spec.keys.columns).alias("distinct_keys")]
    for c in spec.columns:
        if c.name not in df.columns:
            continue
        aggs.append(F.sum(F.col(c.name).isNull().cast("long")).alias(f"null_{c.name}"))
        if c.range:
            aggs += [F.min(c.name).alias(f"min_{c.name}"), F.max(c.name).alias(f"max_{c.name}")]
        if c.allowed:
            aggs.append(F.sum((~F.col(c.name).isin(list(c.allowed.values))).cast("long")).alias(f"bad_{c.name}"))
    aggs += [F.min("event_ts").alias("min_event_ts"), F.max("event_ts").alias("max_event_ts")]
    return df.agg(*aggs).collect()[0].asDict()


def _one(rows: int, work: Path) -> list[dict]:
    from riskpipe.ingest.pipeline import ingest_day
    from riskpipe.quality import validate_dataset
    from riskpipe.settings import load_settings
    from riskpipe.sources.generator import generate
    from riskpipe.spark.session import get_spark

    customers = max(1000, rows // 10)
    s = load_settings(data_dir=work, spark_master="local[*]", spark_shuffle_partitions=8, spark_driver_memory="8g")
    generate(customers=customers, days=1, start=DAY, seed=5, landing=s.landing, ground_truth=s.ground_truth,
             txn_per_customer_day=rows / customers)
    spark = get_spark("bench-validate", s)
    for source in ("customers", "transactions"):
        ingest_day(source, DAY, settings=s, spark=spark)  # no gate: the figure is the validation alone
    part = s.silver / "transactions" / f"dt={DAY}"
    # trailing history for the distribution checks: the same day's files under the previous dates
    for back in range(1, HISTORY + 1):
        shutil.copytree(part, s.silver / "transactions" / f"dt={DAY - dt.timedelta(days=back)}")
    n = spark.read.parquet(str(part)).count()  # warms the JVM and the file cache for both
    validate_dataset("transactions", DAY, s, spark)  # warm-up: GX imports, history metrics cached
    # steady state of a daily run: yesterday's partition is the one history partition not yet measured
    from riskpipe.quality.baselines import _metrics_path

    _metrics_path(s, "transactions", DAY - dt.timedelta(days=1)).unlink()

    t0 = time.perf_counter()
    r = validate_dataset("transactions", DAY, s, spark)
    t_gx = time.perf_counter() - t0

    t0 = time.perf_counter()
    agg = _hand_pass(spark, part)
    t_hand = time.perf_counter() - t0
    assert agg["rows"] == r.rows == n, (agg["rows"], r.rows, n)
    note = (f"{n:,} rows, {len(r.checks)} expectations ({'passed' if r.passed else 'FAILED: ' + ', '.join(r.failed_checks)}), "
            f"{HISTORY} trailing partitions; lower is better")
    return [{"name": f"validate transactions {n / 1e6:g}M rows vs one hand-written Spark pass",
             "figure": round(t_gx, 2), "unit": "s", "anchor": "one Spark agg pass (counts, nulls, min/max, sets)",
             "anchor_figure": round(t_hand, 2), "ratio": round(t_gx / t_hand, 2), "goal": "<= 2.0", "note": note}]


def run(scale: str) -> list[dict]:
    sizes = {"small": [500_000], "full": [10_000_000], "huge": [10_000_000]}[scale]
    return spark_sizes("bench-validate-", sizes, _one)
