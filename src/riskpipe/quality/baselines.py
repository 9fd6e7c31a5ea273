"""Spark-side inputs of a suite: trailing-partition baselines and referential-integrity columns.

Great Expectations checks one batch at a time; comparisons with *other* data (previous partitions,
another dataset) are computed here in Spark and handed to the suite as expectation bounds
(:class:`Baseline`) or as derived columns the suite checks row by row (:func:`add_reference_columns`).
Nothing here is collected to the driver except a few aggregate numbers per partition.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskpipe.quality.spec import DatasetSpec, Reference
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

#: prefix of the columns the quality layer derives; they never reach silver (the frame is a copy).
DERIVED_PREFIX = "_q_"


def orphan_column(ref: Reference) -> str:
    """Derived column holding ``ref.column``'s value when it has no match in the referenced dataset."""
    return f"{DERIVED_PREFIX}orphan__{ref.column}"


def layer_root(s: Settings, layer: str, dataset: str) -> Path:
    return (s.silver if layer == "silver" else s.features) / dataset


def partition_days(root: Path) -> list[dt.date]:
    """Published ``dt=YYYY-MM-DD`` partitions under ``root`` that hold data, oldest first."""
    days = []
    for d in root.glob("dt=*"):
        if d.is_dir() and any(d.glob("*.parquet")):
            try:
                days.append(dt.date.fromisoformat(d.name.removeprefix("dt=")))
            except ValueError:
                log.warning("ignoring unexpected partition folder %s", d)
    return sorted(days)


def read_partitions(spark: SparkSession, root: Path, days: list[dt.date]) -> DataFrame | None:
    if not days:
        return None
    return spark.read.option("basePath", str(root)).parquet(*[str(root / f"dt={d.isoformat()}") for d in days])


@dataclasses.dataclass
class Baseline:
    """Mean metrics of the trailing partitions a partition is compared with."""

    partitions: list[str]
    row_count: float
    null_rate: dict[str, float]
    mean: dict[str, float | None]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: per-partition metrics cached next to its validation summaries (``<runs>/validate/<dataset>/dt=D/``)
METRICS_FILE = "partition_metrics.json"


def _signature(folder: Path) -> list[list]:
    """What identifies a partition's content: its files' names, sizes and modification times."""
    out = []
    for p in sorted(folder.glob("*.parquet")):
        st = p.stat()
        out.append([p.name, st.st_size, st.st_mtime_ns])
    return out


def _metrics_path(s: Settings, dataset: str, day: dt.date) -> Path:
    return s.runs / "validate" / dataset / f"dt={day.isoformat()}" / METRICS_FILE


def _cached_metrics(s: Settings, dataset: str, root: Path, day: dt.date, needed: list[str]) -> dict | None:
    import json

    path = _metrics_path(s, dataset, day)
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if body.get("signature") != _signature(root / f"dt={day.isoformat()}"):
        return None  # the partition was republished since: recompute
    metrics = body.get("metrics", {})
    return metrics if all(k in metrics for k in needed) else None


def _store_metrics(s: Settings, dataset: str, root: Path, day: dt.date, metrics: dict) -> None:
    import json
    import os
    import uuid

    path = _metrics_path(s, dataset, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps({"signature": _signature(root / f"dt={day.isoformat()}"), "metrics": metrics},
                              sort_keys=True, default=str))
    os.replace(tmp, path)


def compute_baseline(spec: DatasetSpec, current: dt.date, s: Settings, spark: SparkSession) -> Baseline | None:
    """Metrics of the last ``distribution.history`` published partitions before ``current``.

    ``None`` when the spec has no distribution checks or fewer than ``min_history`` partitions exist
    (a young dataset is not compared with noise). Each partition's metrics are computed once, in one
    Spark aggregation over the partitions not seen before, and cached with the partition's file
    signature (names, sizes, mtimes): a republished partition is recomputed, an unchanged one is not
    rescanned every day.
    """
    from pyspark.sql import functions as F

    dist = spec.distribution
    if dist is None:
        return None
    root = layer_root(s, spec.layer, spec.dataset)
    days = [d for d in partition_days(root) if d < current][-dist.history:]
    if len(days) < dist.min_history:
        log.info("%s: %d partition(s) of history before %s (< %d): distribution checks not applied",
                 spec.dataset, len(days), current, dist.min_history)
        return None
    null_cols = [r.column for r in dist.null_rate]
    mean_cols = [r.column for r in dist.mean]
    needed = ["n", *(f"null__{c}" for c in null_cols), *(f"mean__{c}" for c in mean_cols)]
    per_day: dict[dt.date, dict] = {}
    for d in days:
        cached = _cached_metrics(s, spec.dataset, root, d, needed)
        if cached is not None:
            per_day[d] = cached
    todo = [d for d in days if d not in per_day]
    if todo:
        df = read_partitions(spark, root, todo)
        aggs = [F.count(F.lit(1)).alias("n")]
        aggs += [F.sum(F.col(c).isNull().cast("long")).alias(f"null__{c}") for c in null_cols if c in df.columns]
        aggs += [F.avg(F.col(c).cast("double")).alias(f"mean__{c}") for c in mean_cols if c in df.columns]
        for r in df.groupBy("dt").agg(*aggs).collect():
            m = r.asDict()
            d = m.pop("dt")
            m = {k: m.get(k) for k in needed}
            per_day[d] = m
            _store_metrics(s, spec.dataset, root, d, m)
    rows = [per_day[d] for d in days if d in per_day]
    if not rows:
        return None
    k = len(rows)
    null_rate = {c: sum((r.get(f"null__{c}") or 0) / r["n"] for r in rows) / k for c in null_cols}
    means: dict[str, float | None] = {}
    for c in mean_cols:
        vals = [r.get(f"mean__{c}") for r in rows if r.get(f"mean__{c}") is not None]
        means[c] = sum(vals) / len(vals) if vals else None
    return Baseline(partitions=[d.isoformat() for d in days if d in per_day], row_count=sum(r["n"] for r in rows) / k,
                    null_rate=null_rate, mean=means)


def add_reference_columns(
    spec: DatasetSpec, df: DataFrame, day: dt.date, s: Settings, spark: SparkSession
) -> tuple[DataFrame, dict[str, str]]:
    """Add one ``_q_orphan__<column>`` per reference: the value when it is absent from the referenced
    dataset's published partitions (``dt <= day`` for ``window: up_to_day``), else null.

    A left join against the distinct referenced keys (no row multiplication), so the suite can count
    orphans with a null check and report them by primary key. Returns the frame and, per reference
    column, a note on what was read (shown in the summary).
    """
    from pyspark.sql import functions as F

    notes: dict[str, str] = {}
    for ref in spec.references:
        out = orphan_column(ref)
        if ref.column not in df.columns:
            continue  # the schema check reports the missing column
        root = layer_root(s, ref.layer, ref.dataset)
        days = [d for d in partition_days(root) if ref.window == "all" or d <= day]
        target = read_partitions(spark, root, days)
        key = f"{DERIVED_PREFIX}key"
        if target is None or ref.key not in target.columns:
            notes[ref.column] = f"{ref.dataset}.{ref.key}: no published partitions (every value is an orphan)"
            df = df.withColumn(out, F.col(ref.column))
            continue
        keys = target.select(F.col(ref.key).alias(key)).where(F.col(key).isNotNull()).distinct()
        df = (df.join(keys, df[ref.column] == keys[key], "left")
              .withColumn(out, F.when(F.col(key).isNull(), F.col(ref.column)))
              .drop(key))
        notes[ref.column] = f"{ref.dataset}.{ref.key} in {len(days)} partition(s) up to {days[-1]}"
    return df, notes
