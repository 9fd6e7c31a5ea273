"""Reading landing files with their declared schema, keeping file and 1-based data row for every record.

Why not ``spark.read.csv``/``json``: those lose the line a record came from (monotonically increasing ids
are not contiguous), and quarantine must name the file and row. CSV and JSONL files are read whole as text
(``wholetext``), split into lines natively and numbered with ``posexplode`` (exact, deterministic, no Python
UDF), then parsed with ``from_csv``/``from_json`` against the declared schema. Parquet is read with the
declared schema; ``_metadata.row_index`` + 1 is the row number.

Output of :func:`read_landing` (one DataFrame per source and landing date): the declared landing columns
(as declared types), ``_source_file`` (path relative to the landing root), ``_source_row`` (long, 1-based
data row: the CSV header is not counted), ``_raw`` (record text; for parquet a JSON rendering) and
``_malformed`` (a machine-readable reason when the record could not be read, else null) plus ``_detail``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from riskpipe.sources.config import SourceSpec
from riskpipe.spark.publish import recover, swap_in

__all__ = ["FileProblem", "landing_schema", "read_landing", "recover", "swap_in", "write_partitions"]

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

log = logging.getLogger(__name__)

CORRUPT = "_corrupt_record"


@dataclasses.dataclass(frozen=True)
class FileProblem:
    """A file-level problem found while reading (``unreadable_file``, ``missing_column:<col>``)."""

    file: str
    reason: str
    detail: str


def spark_type(t: str):
    from pyspark.sql import types as T

    return {"string": T.StringType(), "long": T.LongType(), "double": T.DoubleType(),
            "boolean": T.BooleanType(), "int": T.IntegerType(), "date": T.DateType(),
            "timestamp": T.TimestampType()}[t]


def landing_schema(spec: SourceSpec, with_corrupt: bool = False) -> StructType:
    """The explicit schema of a source's landing records (never inferred)."""
    from pyspark.sql import types as T

    fields = []
    for c in spec.landing.columns:
        if c.type == "struct":
            sub = [T.StructField(f.name, spark_type(f.type)) for f in (c.fields or [])]
            fields.append(T.StructField(c.name, T.StructType(sub)))
        else:
            fields.append(T.StructField(c.name, spark_type(c.type)))
    if with_corrupt:
        fields.append(T.StructField(CORRUPT, T.StringType()))
    return T.StructType(fields)


def read_landing(spark: SparkSession, spec: SourceSpec, path: Path, rel: str
                 ) -> tuple[DataFrame | None, list[FileProblem]]:
    """Read one landing file of ``spec`` (see module doc for the output columns).

    Returns ``(None, [problem])`` when the file cannot be read at all; rows of a file whose header lacks
    a declared column are returned with ``_malformed = missing_column:<col>`` plus a problem naming it.
    """
    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[spec.format]
    df, problem = reader(spark, spec, path, rel)
    return df, ([problem] if problem is not None else [])


def read_dataset(spark: SparkSession, root: Path) -> DataFrame | None:
    """Every ``dt=`` partition of the dataset at ``root`` that holds Parquet files (``dt`` a column);
    ``None`` when there is none.

    The partition folders are passed by name, not as a ``dt=*`` glob: given one globbed path, Spark
    looks for a streaming sink's metadata folder under it and logs a WARN with a FileNotFoundException
    stack trace on every read (noise that reads like a failure in the task log).
    """
    parts = sorted(str(d) for d in root.glob("dt=*") if any(d.glob("*.parquet")))
    return spark.read.option("basePath", str(root)).parquet(*parts) if parts else None


def write_partitions(df: DataFrame, folder: Path, sort_cols: list[str],
                     files: dict[str, int] | None = None, bucket_cols: list[str] | None = None,
                     keep_first: list[Column] | None = None, drop: list[str] | None = None) -> list[str]:
    """Write ``df`` partitioned by ``dt`` into ``folder``: rows sorted, stable file names; returns the dts.

    Deterministic bytes: rows are totally ordered (``sort_cols`` must end in a unique combination) and
    every file is written by one task. Partition ``dt`` gets ``files[dt]`` files (default 1), rows
    spread by a hash of ``bucket_cols`` (the natural key), so a big day is sorted and written by
    several tasks in parallel while the same rows always land in the same file. Spark's random file
    names become ``part-00000.parquet``, ``part-00001.parquet``... Only the partitions present in ``df``
    are (re)written (dynamic partition overwrite). Returns the partitions in ``folder`` afterwards (a
    fresh staging folder: the ones written), listed from disk rather than by another pass over ``df``.

    ``keep_first`` (an ordering) deduplicates: of the rows sharing ``dt`` and ``bucket_cols``, only
    the first by that ordering is written. It runs on the layout's own shuffle and sort (rows of one
    key are in one task already), so deduplication costs no exchange or sort of its own; ``(dt,
    bucket_cols)`` is then unique. With ``bucket_cols``, rows are written ordered by dt, a 64-bit hash
    of ``bucket_cols`` (xxhash64, fixed seed), then ``sort_cols`` (``bucket_cols`` when deduplicating):
    a total order, the same on every run and on either path.
    ``drop``: columns removed before writing (the ordering's helpers).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = bucket_cols or []
    key_hash = F.xxhash64(*keys) if keys else None  # the bucket of a row and the lead of its sort
    files = {d: n for d, n in (files or {}).items() if n > 1}
    if files and keys:
        # task t writes bucket b of day d, t = offset(d) + b with b = key hash mod files[d]; the task
        # number is carried as a label whose hash lands exactly on partition t (see _exact_labels)
        offsets, total = {}, 0
        for d in sorted(files):
            offsets[d] = total
            total += files[d]
        total += 1  # every day not in ``files``: one file each, from the last task
        labels = _exact_labels(df.sparkSession, total)
        dcol = F.col("dt").cast("string")
        nfiles, offset = F.lit(1), F.lit(total - 1)
        for d in sorted(offsets):
            nfiles = F.when(dcol == d, F.lit(files[d])).otherwise(nfiles)
            offset = F.when(dcol == d, F.lit(offsets[d])).otherwise(offset)
        task = offset + F.pmod(key_hash, nfiles)
        # long, like the probe's ids: Murmur3 hashes an int and a long differently
        label = F.element_at(F.array(*[F.lit(x).cast("long") for x in labels]), (task + 1).cast("int"))
        laid, by_task = df.withColumn("_task", label).repartition(total, "_task"), ["_task"]
    else:
        laid, by_task = df.repartition(F.col("dt")), []
    # Rows of a keyed dataset are ordered by (dt, key hash, ...), with or without deduplication, so a
    # partition has one row order whichever path rewrites it. Spark sorts on an 8-byte prefix of the
    # first sort column that can differ: dt has one value per task and a key like "T0000000..." a
    # common prefix, which left every comparison to the full row; the 64-bit hash settles nearly all
    # of them in the prefix (dedupe sort of 10M transactions: 22.4 s of task time -> 4.3 s).
    helpers = ["_key_hash"] if keys else []
    if keys:
        laid = laid.withColumn("_key_hash", key_hash)
    order = ["dt", *helpers, *sort_cols]
    if keep_first is not None:
        # the window's partitioning includes the layout's (``_task``, a function of dt and the key, or
        # dt alone), so Spark reuses the layout's exchange instead of shuffling again; leading with the
        # hash, its sort does the work and the writer's sort by ``order`` finds each task in order
        w = Window.partitionBy(*helpers, "dt", *keys, *by_task).orderBy(*keep_first)
        laid = laid.withColumn("_rn", F.row_number().over(w)).filter(F.col("_rn") == 1).drop("_rn")
        order = ["dt", *helpers, *keys]
    laid = laid.drop(*by_task, *(drop or []))
    (laid.sortWithinPartitions(*order).drop(*helpers)
     .write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
     .partitionBy("dt").parquet(str(folder)))
    dts = sorted(p.name.removeprefix("dt=") for p in folder.glob("dt=*") if p.is_dir()) if folder.exists() else []
    for d in dts:
        finalise_single(folder / f"dt={d}")
    for marker in (folder / "_SUCCESS", folder / "._SUCCESS.crc"):
        marker.unlink(missing_ok=True)
    return dts


def _exact_labels(spark: SparkSession, n: int) -> list[int]:
    """``labels[t]`` = a long whose Spark hash partition among ``n`` is exactly ``t``.

    ``repartition(n, col)`` sends a row to ``pmod(hash(col), n)`` (Murmur3, seed 42, the same function
    as ``F.hash``), so small integers would collide; the labels are found by Spark's own hash.
    """
    from pyspark.sql import functions as F

    probe = spark.range(0, 64 * n + 64).select("id", F.pmod(F.hash("id"), F.lit(n)).alias("p"))
    first = probe.groupBy("p").agg(F.min("id").alias("id")).collect()
    labels = {int(r["p"]): int(r["id"]) for r in first}
    missing = [t for t in range(n) if t not in labels]
    if missing:  # pragma: no cover - 64 candidates per partition: practically impossible
        raise RuntimeError(f"no hash label for partition(s) {missing} of {n}")
    return [labels[t] for t in range(n)]


def finalise_single(folder: Path) -> None:
    """Give Spark's part files stable names and drop checksum side files."""
    parts = sorted(folder.glob("part-*.parquet"))
    for i, f in enumerate(parts):
        f.rename(folder / f".tmp-{i:05d}")
    for i in range(len(parts)):
        (folder / f".tmp-{i:05d}").rename(folder / f"part-{i:05d}.parquet")
    for crc in folder.glob(".*.crc"):
        crc.unlink()


def _lines(spark: SparkSession, path: Path, rel: str) -> DataFrame:
    """(``_line_no`` 1-based file line, ``_raw``) for every non-empty line of a text file."""
    from pyspark.sql import functions as F

    txt = spark.read.text(str(path), wholetext=True)  # not .option(): text() resets it
    lines = txt.select(F.posexplode(F.split(F.col("value"), "\n")).alias("pos", "_raw"))
    lines = lines.select((F.col("pos") + 1).cast("long").alias("_line_no"),
                         F.regexp_replace("_raw", "\r$", "").alias("_raw"))
    return lines.where(F.length(F.trim("_raw")) > 0).withColumn("_source_file", F.lit(rel))


def _read_csv(spark: SparkSession, spec: SourceSpec, path: Path, rel: str):
    from pyspark.sql import functions as F

    delim = str(spec.options.get("delimiter", ","))
    quote = str(spec.options.get("quote", '"'))
    with open(path, encoding=str(spec.options.get("encoding", "utf-8")), errors="replace") as fh:
        header_line = fh.readline().rstrip("\r\n")
    header = _split_csv_header(header_line, delim) if header_line else []
    declared = [c.name for c in spec.landing.columns]
    lines = _lines(spark, path, rel).where(F.col("_line_no") > 1)
    lines = lines.withColumn("_source_row", F.col("_line_no") - 1)
    missing = [c for c in declared if c not in header]
    schema = landing_schema(spec, with_corrupt=True)
    opts = {"sep": delim, "quote": quote, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    if missing:
        # the header does not carry every declared column: no row of this file can be trusted
        unexpected = [h for h in header if h not in declared]
        first = missing[0]
        detail = (f"{rel}: header lacks declared column {first!r}"
                  + (f"; unexpected column(s) {', '.join(map(repr, unexpected))}" if unexpected else "")
                  + f" (header: {header_line!r})")
        log.warning("%s", detail)
        parsed = lines.select("*", F.from_csv("_raw", _header_schema(header), opts).alias("_r"))
        cols = [(F.col(f"_r.{c}") if c in header else F.lit(None)).cast("string").alias(c) for c in declared]
        return parsed.select(*cols, "_source_file", "_source_row", "_raw",
                             F.lit(f"missing_column:{first}").alias("_malformed"),
                             F.concat(F.lit(detail + "; row "), F.col("_source_row").cast("string"))
                             .alias("_detail")), FileProblem(rel, f"missing_column:{first}", detail)
    extra = [h for h in header if h not in declared]
    if extra or header != declared:
        # columns in another order or extra ones: parse by the file's own header, select declared names
        parsed = lines.select("*", F.from_csv("_raw", _header_schema(header, True), opts).alias("_r"))
    else:
        parsed = lines.select("*", F.from_csv("_raw", schema.simpleString(), opts).alias("_r"))
    cols = [F.col(f"_r.{c}").alias(c) for c in declared]
    bad = F.col(f"_r.{CORRUPT}").isNotNull()
    return parsed.select(*cols, "_source_file", "_source_row", "_raw",
                         F.when(bad, F.lit("malformed_record")).alias("_malformed"),
                         F.when(bad, F.format_string(f"{rel} row %d: record does not have the "
                                                     f"{len(header)} declared fields", F.col("_source_row")))
                         .alias("_detail")), None


def _split_csv_header(line: str, delim: str) -> list[str]:
    import csv

    return [h.strip() for h in next(csv.reader([line], delimiter=delim))]


def _header_schema(header: list[str], corrupt: bool = False) -> str:
    cols = [f"`{h}` STRING" for h in header]
    if corrupt:
        cols.append(f"{CORRUPT} STRING")
    return ", ".join(cols)


def _read_jsonl(spark: SparkSession, spec: SourceSpec, path: Path, rel: str):
    from pyspark.sql import functions as F

    lines = _lines(spark, path, rel).withColumnRenamed("_line_no", "_source_row")
    schema = landing_schema(spec, with_corrupt=True)
    opts = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    parsed = lines.select("*", F.from_json("_raw", schema, opts).alias("_r"))
    bad = F.col("_r").isNull() | F.col(f"_r.{CORRUPT}").isNotNull()
    cols = [F.col(f"_r.{c.name}").alias(c.name) for c in spec.landing.columns]
    return parsed.select(*cols, "_source_file", "_source_row", "_raw",
                         F.when(bad, F.lit("malformed_record")).alias("_malformed"),
                         F.when(bad, F.format_string(f"{rel} row %d: not a JSON record of the declared "
                                                     "schema (truncated or wrong types)", F.col("_source_row")))
                         .alias("_detail")), None


def _read_parquet(spark: SparkSession, spec: SourceSpec, path: Path, rel: str):
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except Exception as err:  # noqa: BLE001 - any footer error means the file cannot be read
        detail = f"{rel}: unreadable parquet file ({type(err).__name__}: {err})"
        log.warning("unreadable landing file skipped: %s", detail)
        return None, FileProblem(rel, "unreadable_file", detail)
    df = spark.read.schema(landing_schema(spec)).parquet(str(path))
    df = df.select("*", (F.col("_metadata.row_index") + 1).alias("_source_row"))
    missing = [c.name for c in spec.landing.columns if c.name not in names]
    cols = [F.col(c.name) for c in spec.landing.columns]
    # no record text in a Parquet file: quarantine renders the row's columns as JSON
    # (transforms.common.quarantine_raw), for the rejected rows only
    raw = F.lit(None).cast("string")
    if missing:
        detail = (f"{rel}: file lacks declared column {missing[0]!r}; unexpected column(s) "
                  f"{', '.join(repr(n) for n in names if n not in {c.name for c in spec.landing.columns})}")
        log.warning("%s", detail)
        return df.select(*cols, F.lit(rel).alias("_source_file"), "_source_row", raw.alias("_raw"),
                         F.lit(f"missing_column:{missing[0]}").alias("_malformed"),
                         F.lit(detail).alias("_detail")), FileProblem(rel, f"missing_column:{missing[0]}", detail)
    return df.select(*cols, F.lit(rel).alias("_source_file"), "_source_row", raw.alias("_raw"),
                     F.lit(None).cast("string").alias("_malformed"),
                     F.lit(None).cast("string").alias("_detail")), None
