"""Ingest one landing day of one source: landing -> silver + quarantine, stage -> gate -> publish.

Rules (the contract data engineers rely on):

* Every record read ends in exactly one place: silver, quarantine (with a machine-readable reason) or
  the duplicates dropped; ``rows_read == rows_written + rows_quarantined + duplicates_dropped`` is
  checked on every run and recorded. A file that cannot be read at all is quarantined as one
  file-level record (``unreadable_file``) and counted in ``files_quarantined``.
* Silver is partitioned by event date (UTC). Rows of landing day D whose event date is earlier
  (late arrivals) are merged into their own partitions. A partition is rebuilt as its existing rows
  from other landing days plus landing D's rows, so re-running D is idempotent and leaves other
  days' contributions alone.
* Deduplication, within an event-date partition, by the source's natural key: the latest version
  wins, ordered by ``version_column`` (descending, when declared), then landing date (later
  wins), then source row (later in the file wins). Rows with the same key in *different*
  partitions are versions in time (a customer update) and are all kept.
* Nothing is visible until complete: partitions are written to staging, checked by the optional
  gate, then swapped in (see :mod:`riskpipe.spark.io`). A blocked gate publishes nothing.
* ``known_at`` (when a row became known) = landing date + 1 day, 00:00 UTC (the day's batch closes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import riskpipe
from riskpipe.errors import RiskpipeError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

#: ingestion order: bureau conforms through published customers
ORDER = ["customers", "applications", "repayments", "transactions", "device_events", "bureau", "chargebacks"]
#: what must be published before a source is ingested: its quality gate checks references into these
#: (expectations/<source>.yml ``references``) and bureau conforms through customers. ORDER respects it;
#: the daily DAG runs sources in parallel along these edges only.
UPSTREAM = {"applications": ["customers"], "repayments": ["applications"], "transactions": ["customers"],
            "device_events": ["customers"], "bureau": ["customers"], "chargebacks": ["transactions"]}


#: rows per silver file: a bigger partition is split by key hash and written by parallel tasks
ROWS_PER_FILE = 500_000


class LandingMissing(RiskpipeError):
    """No landing files for the requested source and day."""


class PublicationBlocked(RiskpipeError):
    """The gate refused the staged partitions: nothing was published."""


class CountMismatch(RiskpipeError):
    """rows_read != written + quarantined + duplicates: a bug, never silently accepted."""


@dataclasses.dataclass
class IngestResult:
    dataset: str
    landing_date: dt.date
    run_id: str
    rows_read: int
    rows_written: int
    rows_quarantined: int
    duplicates_dropped: int
    rows_superseded: int
    files: list[dict[str, Any]]
    files_quarantined: int
    partitions: list[str]
    published: bool
    durations: dict[str, float]
    problems: list[str]
    metadata_path: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["landing_date"] = self.landing_date.isoformat()
        return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _runs_dir(s: Settings, dataset: str, day: dt.date) -> Path:
    return s.runs / "ingest" / dataset / f"dt={day.isoformat()}"


def _previous_partitions(s: Settings, dataset: str, day: dt.date) -> list[str]:
    latest = _runs_dir(s, dataset, day) / "latest.json"
    if latest.exists():
        return list(json.loads(latest.read_text()).get("partitions", []))
    return []


def _customer_lookup(spark: SparkSession, s: Settings) -> DataFrame | None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from riskpipe.spark import io

    cust = io.read_dataset(spark, s.silver / "customers")
    if cust is None:
        return None
    w = Window.partitionBy("national_id_token").orderBy(F.col("updated_at").desc(), F.col("customer_id"))
    return cust.withColumn("_rn", F.row_number().over(w)).filter("_rn = 1").select("national_id_token", "customer_id")


def ingest_day(
    source: str,
    day: dt.date,
    *,
    gate: Callable[[str, dt.date, DataFrame], Any] | None = None,
    publish: bool = True,
    settings: Settings | None = None,
    spark: SparkSession | None = None,
) -> IngestResult:
    """Clean landing day ``day`` of ``source`` into silver and quarantine (see module rules)."""
    from pyspark.sql import functions as F

    from riskpipe.settings import get_settings
    from riskpipe.sources.config import get_sources
    from riskpipe.spark import io
    from riskpipe.spark.session import get_spark
    from riskpipe.transforms import SILVER
    from riskpipe.transforms.common import check, optimizer_fence, quarantine_raw, tokenise
    from riskpipe.transforms.context import Context

    s = settings or get_settings()
    cfg = get_sources()
    spec = cfg[source]
    spark = spark or get_spark(f"riskpipe-ingest-{source}", s)
    t = {"start": time.perf_counter()}
    lake = s.lake
    for name in (source, f"quarantine-{source}"):
        io.recover(lake, name)

    folder = s.landing / source / f"dt={day.isoformat()}"
    files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise LandingMissing(f"no landing files for source {source!r} on {day}: {folder} is empty or missing")
    inputs = [{"file": str(p.relative_to(s.landing)), "sha256": _sha256(p), "bytes": p.stat().st_size} for p in files]
    run_id = hashlib.sha256(json.dumps([source, day.isoformat(), inputs, riskpipe.__version__]).encode()).hexdigest()[:16]
    key = s.pii_secret

    frames, problems = [], []
    for p, meta in zip(files, inputs, strict=True):
        df, probs = io.read_landing(spark, spec, p, meta["file"])
        problems += probs
        if df is not None:
            frames.append(df)
    t["read"] = time.perf_counter()
    staging = lake / "_staging" / source / run_id
    shutil.rmtree(staging, ignore_errors=True)

    # ---- pass 1: parse and check every row; rejected rows -> staged quarantine -------------------------
    landing_dt = F.lit(day).cast("date")
    if frames:
        df = frames[0]
        for f in frames[1:]:
            df = df.unionByName(f)
        checked = optimizer_fence(check(df, spec, cfg))
        ev = F.col(f"p_{spec.event_time.column}").cast("timestamp")
        version = F.col(f"p_{spec.version_column}").cast("timestamp") if spec.version_column else F.lit(None).cast("timestamp")
        ok = F.col("_reasons").isNull()
        valid = checked.filter(ok)
        pii_free = not spec.pii_columns
        raw = F.coalesce(F.col("_raw"), quarantine_raw(checked, spec, key)) if pii_free else quarantine_raw(checked, spec, key)
        rejected = F.struct(
            "_source_file", "_source_row",
            F.col("_reasons")[0].alias("reason"),
            F.concat_ws(" | ", F.concat(F.col("_source_file"), F.lit(" row "), F.col("_source_row").cast("string"),
                                        F.lit(": "), F.concat_ws("; ", "_reasons")), F.col("_detail")).alias("detail"),
            raw.alias("raw"), F.lit(run_id).alias("_run_id"))
        # The one pass that evaluates every rule over every row keeps only what the later steps need
        # from it, per row: the event date of a valid row, or the quarantine record of a rejected one
        # (nulls otherwise, so the cache stays small). Rows read, rows valid per event date and the
        # quarantine then come from the cache, counted on the check itself (independently of both
        # outputs, which are read back from disk for the balance below); the silver pass re-reads the
        # input for the valid rows' columns rather than caching every column of every row.
        narrow = checked.select(F.when(ok, F.to_date(ev)).alias("dt"), F.when(~ok, rejected).alias("_q")).cache()
        rows_read = narrow.count()
        quarantine = narrow.filter(F.col("_q").isNotNull()).select("_q.*")
    else:
        rows_read = 0
        valid = None
        quarantine = spark.createDataFrame([], "_source_file string, _source_row long, reason string, detail string, "
                                               "raw string, _run_id string")
    file_level = [(pr.file, None, pr.reason, pr.detail, None, run_id) for pr in problems
                  if pr.reason == "unreadable_file"]
    if file_level:
        quarantine = quarantine.unionByName(spark.createDataFrame(file_level, quarantine.schema))
    for pr in problems:
        log.warning("%s", pr.detail)
    qstage = staging / "quarantine" / f"dt={day.isoformat()}"
    # repartition, not coalesce: coalesce(1) would pull the whole check of every row into one task
    quarantine.repartition(1).sortWithinPartitions("_source_file", "_source_row").write.mode("overwrite").parquet(
        str(qstage))
    io.finalise_single(qstage)
    rows_quarantined = _parquet_rows(qstage) - len(file_level)
    t["check"] = time.perf_counter()

    # ---- pass 2: valid rows -> tokenise, conform, dedupe with the partitions' other rows -> staged silver
    key_cols = spec.keys
    silver_cols = [c.name for c in spec.silver.columns]
    types = {c.name: c.type for c in spec.silver.columns}
    previous = _previous_partitions(s, source, day)
    new_written = dup_new = superseded = 0
    partitions: list[str] = []
    if valid is not None:
        ctx = Context(customer_by_national_id=_customer_lookup(spark, s) if source == "bureau" else None)
        tok = tokenise(valid, spec, key).withColumn("_meta", F.struct(
            ev.alias("event_ts"), version.alias("_version"), F.col("_source_file"), F.col("_source_row")))
        out = SILVER[source](tok, ctx)
        out = out.select(
            *[F.col(c).cast(types[c]).alias(c) for c in silver_cols],
            F.col("_meta.event_ts").alias("event_ts"),
            F.timestamp_seconds(F.unix_timestamp(F.date_add(landing_dt, 1).cast("timestamp"))).alias("known_at"),
            F.to_date(F.col("_meta.event_ts")).alias("dt"),
            landing_dt.alias("_landing_dt"),
            F.col("_meta._source_file").alias("_source_file"),
            F.col("_meta._source_row").cast("long").alias("_source_row"),
            F.lit(run_id).alias("_run_id"),
            F.col("_meta._version").alias("_version"),
            F.lit(True).alias("_new"),
        )
        new_per_dt = {r[0].isoformat(): r[1] for r in
                      narrow.filter(F.col("_q").isNull()).groupBy("dt").count().collect()}
        narrow.unpersist()
        new_rows = sum(new_per_dt.values())
        affected = sorted(set(new_per_dt) | set(previous))
        root = lake / "silver" / source
        existing_paths = [str(root / f"dt={d}") for d in affected if (root / f"dt={d}").exists()]
        combined, per_dt = out, dict(new_per_dt)
        if existing_paths:
            old = spark.read.option("basePath", str(root)).parquet(*existing_paths)
            old = old.filter(F.col("_landing_dt") != landing_dt)
            vcol = spec.version_column
            old_version = F.col(vcol).cast("timestamp") if vcol and vcol in old.columns else (
                F.col("event_ts") if vcol else F.lit(None).cast("timestamp"))
            old = old.select(*out.columns[:-2], old_version.alias("_version"), F.lit(False).alias("_new"))
            combined = out.unionByName(old)
            for r in old.groupBy("dt").count().collect():
                per_dt[r[0].isoformat()] = per_dt.get(r[0].isoformat(), 0) + r[1]
        # a big day is written as several files by parallel tasks; the file count depends only on the
        # partition's rows, so a rerun writes the same files
        files = {d: -(-n // ROWS_PER_FILE) for d, n in per_dt.items()}
        sort_cols = [*key_cols, "_landing_dt", "_source_row"]
        latest_first = [F.col("_version").desc_nulls_last(), F.col("_landing_dt").desc(),
                        F.col("_source_row").desc(), F.col("_source_file").desc()]
        # every column nullable: a partition rebuilt from earlier files has the same schema (and bytes)
        # as one written from this run's rows alone. The dedupe by key runs on the write's own shuffle
        # and sort (see write_partitions), so the valid rows are shuffled and sorted once.
        partitions = io.write_partitions(_nullable(combined), staging / "silver", sort_cols, files=files,
                                         bucket_cols=key_cols, keep_first=latest_first, drop=["_version", "_new"])
        # a partition this day touched before but no longer has rows for: publish the others' rows only
        for d in affected:
            if d not in partitions and (root / f"dt={d}").exists():
                partitions.append(d)
                io.write_partitions(
                    _nullable(combined.filter((F.col("dt") == F.lit(d).cast("date")) & ~F.col("_new"))
                              .drop("_version", "_new")), staging / "silver", sort_cols, bucket_cols=key_cols)
        # the tally, read back from what was staged (footers, and one column for this day's rows)
        silver_stage = staging / "silver"
        staged_rows = sum(_parquet_rows(silver_stage / f"dt={d}") for d in partitions)
        new_written = (spark.read.parquet(*[str(silver_stage / f"dt={d}") for d in partitions])
                       .filter(F.col("_landing_dt") == landing_dt).count()) if partitions else 0
        dup_new = new_rows - new_written
        superseded = (sum(per_dt.values()) - new_rows) - (staged_rows - new_written)
    t["transform"] = time.perf_counter()

    if rows_read != new_written + rows_quarantined + dup_new:
        raise CountMismatch(f"{source} {day}: rows_read {rows_read} != written {new_written} + quarantined "
                            f"{rows_quarantined} + duplicates {dup_new}")

    # ---- quarantine is always recorded; silver waits for the gate ------------------------------------
    io.swap_in(lake, f"quarantine-{source}", [(qstage, lake / "quarantine" / source / f"dt={day.isoformat()}")], run_id)

    result = IngestResult(
        dataset=source, landing_date=day, run_id=run_id, rows_read=rows_read, rows_written=new_written,
        rows_quarantined=rows_quarantined, duplicates_dropped=dup_new, rows_superseded=superseded, files=inputs,
        files_quarantined=len(file_level), partitions=sorted(partitions), published=False,
        durations={}, problems=[p.detail for p in problems])
    pending = _pending(lake, source, day)
    pending.write_text(json.dumps({"run_id": run_id, "partitions": sorted(partitions)}))
    if gate is not None and partitions:
        staged = spark.read.option("basePath", str(staging / "silver")).parquet(
            *[str(staging / "silver" / f"dt={d}") for d in sorted(partitions)])
        verdict = gate(source, day, staged)
        if not verdict.passed:
            _write_metadata(s, result, t, spark)
            raise PublicationBlocked(f"{source} {day}: not published, the gate failed: {verdict.message} "
                                     f"(staged output kept in {staging})")
    pause_point("staged", s)
    if publish:
        publish_staged(source, day, settings=s)
        result.published = True
    _write_metadata(s, result, t, spark)
    return result


def _nullable(df: DataFrame) -> DataFrame:
    """``df`` with every column nullable, as Parquet files read back always are (a union with an empty
    frame of that schema: the optimizer would fold a per-column expression away)."""
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(f.name, f.dataType, True) for f in df.schema])
    return df.sparkSession.createDataFrame([], schema).unionByName(df)


def default_gate(settings: Settings | None = None) -> Callable[[str, dt.date, DataFrame], Any]:
    """The Great Expectations gate every published partition passes (``riskpipe.quality``), judged
    against the same lake as the run (baselines, references) when ``settings`` are given."""
    from riskpipe.quality import gate, validate_frame

    if settings is None:
        return gate
    # df is the plain Parquet read of the staged partitions: re-read per GX job, not cached
    return lambda source, day, df: validate_frame(source, day, df, settings, cache=False)


def pause_point(name: str, s: Settings) -> None:
    """Crash-test hook: with ``RISKPIPE_TEST_PAUSE_AT=<name>`` the run marks ``<lake>/_paused-<name>``
    and sleeps, so a test can kill the real process at exactly this point. Unset: does nothing."""
    import os

    if os.environ.get("RISKPIPE_TEST_PAUSE_AT") != name:
        return
    marker = s.lake / f"_paused-{name}"
    marker.write_text(str(os.getpid()))
    log.warning("paused at %s for a crash test (pid %d)", name, os.getpid())
    time.sleep(600)


def ingest_date(
    day: dt.date,
    sources: list[str] | None = None,
    *,
    gate: Callable[[str, dt.date, DataFrame], Any] | None = None,
    settings: Settings | None = None,
    spark: SparkSession | None = None,
    on_source: Callable[[str, IngestResult | None], None] | None = None,
    blocked: list[str] | None = None,
) -> list[IngestResult]:
    """Ingest every source (in dependency order: customers before bureau) for one landing date.

    A source with no landing files that day is skipped with a warning (not every feed delivers
    daily). A gate that blocks a source raises :class:`PublicationBlocked`, unless ``blocked`` is a
    list: then the message is appended to it and the other sources go on, except those downstream of
    it in ``UPSTREAM`` (their references could not be checked), which are recorded as blocked too.
    Any other error stops the run, leaving already-published sources published.
    """
    from riskpipe.settings import get_settings
    from riskpipe.sources.config import get_sources
    from riskpipe.spark.session import get_spark

    s = settings or get_settings()
    chosen = sources or ORDER
    unknown = [x for x in chosen if x not in ORDER or x not in get_sources().sources]
    if unknown:
        raise RiskpipeError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(ORDER)}")
    spark = spark or get_spark("riskpipe-ingest", s)
    results = []
    for name in [x for x in ORDER if x in chosen]:
        stopped = [u for u in UPSTREAM.get(name, []) if any(m.startswith(f"{u} {day}") for m in blocked or [])]
        if stopped:
            blocked.append(f"{name} {day}: not ingested, {', '.join(stopped)} blocked the same day")
            continue
        try:
            r = ingest_day(name, day, gate=gate, settings=s, spark=spark)
        except LandingMissing as err:
            log.warning("%s", err)
            r = None
        except PublicationBlocked as err:
            if blocked is None:
                raise
            log.error("%s", err)
            blocked.append(str(err))
            continue
        if r is not None:
            results.append(r)
        if on_source:
            on_source(name, r)
    if not results and not blocked:
        raise LandingMissing(f"no landing files for any of {', '.join(chosen)} on {day} under {s.landing}")
    return results


def _parquet_rows(folder: Path) -> int:
    """Rows in the Parquet files of ``folder``, from their footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in sorted(folder.glob("*.parquet")))


def _pending(lake: Path, dataset: str, day: dt.date) -> Path:
    """The record of a run that staged ``dataset`` for landing ``day`` and has not published it."""
    return lake / "_staging" / dataset / f"pending-{day.isoformat()}.json"


def unpublished_days(dataset: str, settings: Settings | None = None) -> list[dt.date]:
    """Landing days of ``dataset`` staged but not published, oldest first: a quality gate blocked
    them, or their run stopped before publishing. Publishing (``publish_staged``, or a re-run whose
    gate passes) clears a day. A run in progress has its day here until it publishes."""
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    folder = s.lake / "_staging" / dataset
    if not folder.is_dir():
        return []
    return sorted(dt.date.fromisoformat(p.stem.removeprefix("pending-")) for p in folder.glob("pending-*.json"))


def publish_staged(dataset: str, day: dt.date, settings: Settings | None = None) -> list[str]:
    """Swap the partitions a run staged for landing ``day`` into silver (after a gate passed)."""
    from riskpipe.settings import get_settings
    from riskpipe.spark import io

    s = settings or get_settings()
    pending = _pending(s.lake, dataset, day)
    if not pending.exists():
        raise RiskpipeError(f"nothing staged for {dataset} on {day} ({pending} missing)")
    info = json.loads(pending.read_text())
    staging = s.lake / "_staging" / dataset / info["run_id"] / "silver"
    moves = [(staging / f"dt={d}", s.silver / dataset / f"dt={d}") for d in info["partitions"]]
    io.swap_in(s.lake, dataset, moves, info["run_id"])
    pending.unlink()
    shutil.rmtree(staging.parent, ignore_errors=True)
    return list(info["partitions"])


def _write_metadata(s: Settings, r: IngestResult, t: dict[str, float], spark: SparkSession) -> None:
    stamps = list(t.items())
    r.durations = {k: round(v - stamps[i - 1][1], 3) for i, (k, v) in enumerate(stamps) if i}
    folder = _runs_dir(s, r.dataset, r.landing_date)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {**r.as_dict(), "spark_master": spark.sparkContext.master, "riskpipe_version": riskpipe.__version__,
            "pii_key": "development key" if s.uses_dev_pii_key else "configured"}
    path = folder / f"{r.run_id}.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    (folder / "latest.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    r.metadata_path = str(path)
