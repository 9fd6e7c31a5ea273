"""write_partitions: one row order per keyed partition, whichever path writes it."""

from __future__ import annotations

from pathlib import Path


def test_a_keyed_partition_is_written_in_one_order_with_or_without_deduplication(spark, tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from riskpipe.spark.io import write_partitions

    day = dt.date(2026, 1, 1)
    rows = [(f"T{i:013d}", day, i % 7, 1000 - i) for i in range(300)]
    df = spark.createDataFrame(rows, "txn_id string, dt date, amount long, _source_row long")
    keys, sort_cols = ["txn_id"], ["txn_id", "_source_row"]
    # the dedupe path (unique keys: nothing dropped) and the rebuild path (no keep_first)
    write_partitions(df, tmp_path / "dedupe", sort_cols, bucket_cols=keys, keep_first=[F.col("_source_row").desc()])
    write_partitions(df, tmp_path / "rebuild", sort_cols, bucket_cols=keys)
    a = pq.read_table(tmp_path / "dedupe" / f"dt={day}").column("txn_id").to_pylist()
    b = pq.read_table(tmp_path / "rebuild" / f"dt={day}").column("txn_id").to_pylist()
    assert sorted(a) == sorted(r[0] for r in rows)
    assert a == b
    assert a != sorted(a)  # ordered by the key's hash, not by the key
    hashes = [r[0] for r in spark.createDataFrame([(t,) for t in a], "txn_id string")
              .select(F.xxhash64("txn_id")).collect()]
    assert hashes == sorted(hashes)
