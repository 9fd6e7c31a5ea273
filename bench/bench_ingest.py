"""Ingest of one landing day of transactions: riskpipe's Spark cleaning vs two anchors, same run.

Figure: seconds for ``ingest_day("transactions", D)`` (read with declared schema and row numbers,
parse/check every rule, HMAC card tokens, base-currency amounts, dedupe, quarantine, staged atomic
publish, run metadata) on ``local[*]``.
Anchors, measured in the same run on the same file:
(a) plain Spark: read the Parquet file and write it back as Parquet (the floor of any Spark job);
    goal: cleaning costs at most 1.5x that;
(b) the same cleaning in DuckDB SQL (rules, HMAC via sha256 over the key pads, dedupe by key,
    valid rows and quarantine written as Parquet), what a single-machine user would write;
    goal: Spark within 2x of DuckDB at 10M rows.
Ratios are figure / anchor: lower is better. The note splits riskpipe's time by phase
(``IngestResult.durations``). Scales: small 200k rows; full 1M and 10M rows
(``--scale huge`` adds 30M).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from bench import spark_sizes

DAY = dt.date(2026, 1, 1)
HUGE = True  # `python -m bench --only ingest --scale huge` adds 30M rows


def _duckdb_clean(src: Path, out: Path, key: bytes, fx: dict[str, float]) -> tuple[int, int]:
    import duckdb

    from riskpipe.pii import _pads

    ipad, opad = _pads(key)
    rate = " ".join(f"WHEN '{c}' THEN {r}" for c, r in fx.items())
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""
    CREATE TEMP TABLE checked AS
    WITH src AS (SELECT *, file_row_number + 1 AS _source_row FROM read_parquet('{src}', file_row_number = true)),
    parsed AS (
      SELECT *, upper(trim(currency)) AS p_currency, lower(trim(channel)) AS p_channel,
             upper(trim(merchant_country)) AS p_country, make_timestamp(ts_ms * 1000) AS p_ts,
             nullif(regexp_replace(trim(card_number), '\\D', '', 'g'), '') AS p_card
      FROM src),
    chk AS (
      SELECT *, list_filter([
        CASE WHEN txn_id IS NULL OR trim(txn_id) = '' THEN 'null_required:txn_id' END,
        CASE WHEN cust_no IS NULL THEN 'null_required:cust_no' END,
        CASE WHEN card_number IS NULL OR trim(card_number) = '' THEN 'null_required:card_number' END,
        CASE WHEN ts_ms IS NULL THEN 'null_required:ts_ms' END,
        CASE WHEN amount_minor IS NULL THEN 'null_required:amount_minor' END,
        CASE WHEN amount_minor / 100.0 < 1 OR amount_minor / 100.0 > 100000000 THEN 'out_of_range:amount_minor' END,
        CASE WHEN currency IS NULL OR trim(currency) = '' THEN 'null_required:currency' END,
        CASE WHEN p_currency NOT IN ({", ".join(f"'{c}'" for c in fx)}) THEN 'not_allowed:currency' END,
        CASE WHEN merchant_id IS NULL OR trim(merchant_id) = '' THEN 'null_required:merchant_id' END,
        CASE WHEN merchant_category IS NULL OR trim(merchant_category) = '' THEN 'null_required:merchant_category' END,
        CASE WHEN merchant_country IS NULL OR trim(merchant_country) = '' THEN 'null_required:merchant_country' END,
        CASE WHEN channel IS NULL OR trim(channel) = '' THEN 'null_required:channel' END,
        CASE WHEN p_channel NOT IN ('pos', 'ecom', 'atm', 'p2p') THEN 'not_allowed:channel' END
      ], lambda x: x IS NOT NULL) AS _reasons
      FROM parsed)
    SELECT * FROM chk""")
    con.execute(f"""
    COPY (
      SELECT txn_id, 'C' || lpad(cust_no::VARCHAR, 8, '0') AS customer_id,
        sha256(unhex('{opad.hex()}') || unhex(sha256(unhex('{ipad.hex()}') || encode(p_card)))) AS card_token,
        amount_minor / 100.0 * CASE p_currency {rate} END AS amount, amount_minor / 100.0 AS amount_original,
        p_currency AS currency, trim(merchant_id) AS merchant_id, trim(merchant_category) AS merchant_category,
        p_country AS merchant_country, p_channel AS channel, nullif(trim(device_id), '') AS device_id,
        p_ts AS event_ts, (DATE '{DAY}' + INTERVAL 1 DAY)::TIMESTAMP AS known_at, p_ts::DATE AS dt,
        DATE '{DAY}' AS _landing_dt, '{src.name}' AS _source_file, _source_row
      FROM checked WHERE len(_reasons) = 0
      QUALIFY row_number() OVER (PARTITION BY p_ts::DATE, txn_id ORDER BY _source_row DESC) = 1
      ORDER BY dt, txn_id
    ) TO '{out / "silver"}' (FORMAT parquet, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)""")
    con.execute(f"""
    COPY (SELECT '{src.name}' AS _source_file, _source_row, _reasons[1] AS reason,
                 array_to_string(_reasons, '; ') AS detail
          FROM checked WHERE len(_reasons) > 0 ORDER BY _source_row)
    TO '{out / "quarantine.parquet"}' (FORMAT parquet)""")
    good = con.execute("SELECT count(*) FROM checked WHERE len(_reasons) = 0").fetchone()[0]
    bad = con.execute("SELECT count(*) FROM checked WHERE len(_reasons) > 0").fetchone()[0]
    con.close()
    return good, bad


def _one(rows: int, work: Path) -> list[dict]:
    from riskpipe.ingest.pipeline import ingest_day
    from riskpipe.settings import load_settings
    from riskpipe.sources.config import get_sources
    from riskpipe.sources.generator import generate
    from riskpipe.spark.session import get_spark

    customers = max(1000, rows // 10)
    s = load_settings(data_dir=work, spark_master="local[*]", spark_shuffle_partitions=8, spark_driver_memory="8g")
    generate(customers=customers, days=1, start=DAY, seed=3, landing=s.landing, ground_truth=s.ground_truth,
             txn_per_customer_day=rows / customers)
    src = next((s.landing / "transactions" / f"dt={DAY}").glob("*.parquet"))
    import pyarrow.parquet as pq

    n = pq.ParquetFile(src).metadata.num_rows
    spark = get_spark("bench-ingest", s)
    spark.read.parquet(str(src)).count()  # warm the JVM and the file cache alike for everyone

    t0 = time.perf_counter()
    r = ingest_day("transactions", DAY, settings=s, spark=spark)
    t_spark = time.perf_counter() - t0

    t0 = time.perf_counter()
    spark.read.parquet(str(src)).write.mode("overwrite").parquet(str(work / "plain"))
    t_plain = time.perf_counter() - t0

    t0 = time.perf_counter()
    good, bad = _duckdb_clean(src, work / "duck", s.pii_secret, get_sources().fx_to_base)
    t_duck = time.perf_counter() - t0
    d = r.durations
    note = (f"{n:,} rows; riskpipe wrote {r.rows_written:,}, quarantined {r.rows_quarantined:,}, "
            f"dropped {r.duplicates_dropped:,}; duckdb kept {good:,}, rejected {bad:,}; riskpipe phases (s): "
            f"read {d['read']:.1f}, check pass (every rule, every row; quarantine written) {d['check']:.1f}, "
            f"silver pass (valid rows re-read, tokenised, conformed, deduplicated, sorted, written) "
            f"{d['transform']:.1f}")
    return [
        {"name": f"ingest transactions {n / 1e6:g}M rows vs plain Spark read+write", "figure": round(t_spark, 2),
         "unit": "s", "anchor": "Spark read+write of the same file", "anchor_figure": round(t_plain, 2),
         "ratio": round(t_spark / t_plain, 2), "goal": "<= 1.5", "note": note + "; lower is better"},
        {"name": f"ingest transactions {n / 1e6:g}M rows vs DuckDB SQL", "figure": round(t_spark, 2), "unit": "s",
         "anchor": "same cleaning in DuckDB SQL", "anchor_figure": round(t_duck, 2),
         "ratio": round(t_spark / t_duck, 2), "goal": "<= 2.0 at 10M", "note": note + "; lower is better"},
    ]


def run(scale: str) -> list[dict]:
    sizes = {"small": [200_000], "full": [1_000_000, 10_000_000], "huge": [1_000_000, 10_000_000, 30_000_000]}[scale]
    return spark_sizes("bench-ingest-", sizes, _one)
