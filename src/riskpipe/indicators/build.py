"""Build the feature and label tables of one feature date by running the dbt project in ``dbt/``.

``build_indicators(date)`` runs ``dbt build`` programmatically (``dbtRunner``) on the target the
settings choose (``local`` = dbt-duckdb over the Parquet lake, ``cluster`` = dbt-spark with the
``session`` method inside this process's SparkSession), with the vars ``feature_date``, ``lake_dir``,
the label parameters of ``riskpipe/models/labels.yml`` and ``lake_unpublished_from`` (per outcome feed,
its first landing day staged but not published: the labels reading that feed do not mature past it).
Models, unit tests and data tests run in
dependency order; the result lists every model with its status and, for the published tables, the
row count and path of the partition written
(``<features>/<table>/dt=<date>/data.parquet``). Any error or failing test raises
:class:`IndicatorBuildFailed` naming the nodes and dbt's message.

Each run gets its own dbt target/log directory under ``<lake>/_dbt/runs/<date>``, so builds of
different dates can run side by side (Airflow backfills) without sharing dbt's working files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskpipe.errors import ConfigError, RiskpipeError
from riskpipe.features.tables import VALIDATED_MARKER
from riskpipe.models.labels import dbt_vars as label_dbt_vars

if TYPE_CHECKING:
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

#: the published tables (dbt models materialised as ``feature_partition``), see docs/feature-tables.md
FEATURE_TABLES = ("customer_credit_daily", "customer_fraud_daily", "fraud_txn", "loan_early_warning_daily")
LABEL_TABLES = ("label_credit_pd", "label_fraud", "label_early_warning")
TABLES = FEATURE_TABLES + LABEL_TABLES
#: the silver feeds the labels' outcomes come from, with the label tables that read them: a landing day
#: of one of them staged but not published stops those labels' horizon at its start (int_lake_horizon's
#: <feed>_horizon_ts). A transactions hole needs no stop: its transactions have no label rows until
#: published, and no other label reads an outcome from it.
OUTCOME_FEEDS = {"repayments": ("label_credit_pd", "label_early_warning"), "chargebacks": ("label_fraud",)}

PROJECT_DIR_ENV = "RISKPIPE_DBT_PROJECT_DIR"


class IndicatorBuildFailed(RiskpipeError):
    """dbt could not build or test the indicators of a date; nothing new is trusted downstream."""


@dataclasses.dataclass(frozen=True)
class NodeResult:
    name: str
    resource_type: str  # model | test | unit_test
    status: str  # success | error | fail | pass | warn | skipped
    seconds: float
    message: str = ""
    rows: int | None = None  # published tables: rows in the written partition
    path: str | None = None  # published tables: the partition file


@dataclasses.dataclass
class IndicatorsResult:
    date: dt.date
    target: str
    nodes: list[NodeResult]
    seconds: float
    run_dir: str
    #: outcome feeds' landing days staged but not published when the build ran (feed -> days); the
    #: horizon of the labels reading a feed stopped at its earliest one (see :func:`unpublished_outcomes`)
    unpublished: dict[str, list[dt.date]] = dataclasses.field(default_factory=dict)

    @property
    def models(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type == "model"]

    @property
    def tables(self) -> dict[str, NodeResult]:
        """The published feature/label tables by name."""
        return {n.name: n for n in self.models if n.name in TABLES}

    @property
    def tests_passed(self) -> int:
        return sum(1 for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status == "pass")

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "target": self.target, "seconds": round(self.seconds, 2),
                "run_dir": self.run_dir, "tests_passed": self.tests_passed,
                "unpublished": {k: [d.isoformat() for d in v] for k, v in self.unpublished.items()},
                "nodes": [dataclasses.asdict(n) for n in self.nodes]}


def dbt_project_dir() -> Path:
    """The dbt project: ``RISKPIPE_DBT_PROJECT_DIR`` or ``dbt/`` of the source checkout."""
    env = os.environ.get(PROJECT_DIR_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "dbt"
    if not (path / "dbt_project.yml").is_file():
        raise ConfigError(f"no dbt project at {path} (set {PROJECT_DIR_ENV} to the folder holding dbt_project.yml)")
    return path


def _parse_date(date: dt.date | str) -> dt.date:
    if isinstance(date, dt.datetime):
        raise ConfigError(f"feature date must be a date, not a datetime: {date!r}")
    if isinstance(date, dt.date):
        return date
    try:
        return dt.date.fromisoformat(str(date))
    except ValueError:
        raise ConfigError(f"feature date must be YYYY-MM-DD, got {date!r}") from None


def silver_datasets(settings: Settings) -> list[str]:
    """Silver datasets holding at least one partition file (a source without rows so far has no
    folder; staging then reads it as an empty relation instead of failing)."""
    return _datasets_with_files(settings.silver)


def quarantine_datasets(settings: Settings) -> list[str]:
    """Datasets ingest has quarantined rows of (the labels hold back what a quarantined payment
    could change; without any, the quarantine reads as an empty relation)."""
    return _datasets_with_files(settings.quarantine)


def _datasets_with_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("dt=*/*.parquet")))


def unpublished_outcomes(settings: Settings) -> dict[str, list[dt.date]]:
    """The landing days of :data:`OUTCOME_FEEDS` staged but not published (feed -> days, oldest first).

    Their outcomes (chargebacks, payments) are not in silver, so a label window covering them would
    count "none seen" as good: the horizon of the label tables reading that feed (var
    ``lake_unpublished_from``) stops at the earliest, and their labels of windows past it wait until
    the day is published.
    """
    from riskpipe.ingest.pipeline import unpublished_days

    return {feed: days for feed in OUTCOME_FEEDS if (days := unpublished_days(feed, settings))}


def unpublished_note(unpublished: dict[str, list[dt.date]]) -> str:
    """What :func:`unpublished_outcomes` means for the labels, in words ("" when nothing is unpublished)."""
    if not unpublished:
        return ""
    return "; ".join(
        f"labels in {', '.join(OUTCOME_FEEDS[feed])} mature only up to {days[0]} 00:00: {feed} landing day(s) "
        f"{', '.join(map(str, days))} staged but not published" for feed, days in unpublished.items()
    ) + "; publish them (fix and re-run their ingest), then rebuild"


def partition_path(settings: Settings, table: str, date: dt.date) -> Path:
    """``<features>/<table>/dt=<date>/data.parquet`` (the contract's physical layout)."""
    return settings.features / table / f"dt={date.isoformat()}" / "data.parquet"


def build_indicators(
    date: dt.date | str,
    settings: Settings | None = None,
    *,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    on_node: Callable[[str, str], None] | None = None,
) -> IndicatorsResult:
    """``dbt build`` of every indicator and label table for feature date ``date`` (see module doc).

    ``select``/``exclude`` narrow the build with dbt selectors (e.g. ``["+customer_credit_daily"]``);
    ``on_node(name, status)`` is called as each dbt node finishes (progress display).
    """
    from riskpipe.settings import DbtTarget, get_settings

    s = settings or get_settings()
    day = _parse_date(date)
    project = dbt_project_dir()
    target = s.dbt.value
    run_dir = s.lake / "_dbt" / "runs" / day.isoformat()
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    if s.dbt is DbtTarget.cluster:
        _ensure_spark(s)

    unpublished = unpublished_outcomes(s)
    if unpublished:
        log.warning("indicators %s: %s", day, unpublished_note(unpublished))
    vars_ = {"feature_date": day.isoformat(), "lake_dir": str(s.lake), "silver_datasets": silver_datasets(s),
             "quarantine_datasets": quarantine_datasets(s),
             "lake_unpublished_from": {feed: days[0].isoformat() for feed, days in unpublished.items()},
             "duckdb_memory_limit": s.dbt_memory_limit,
             **label_dbt_vars(s)}
    args = [
        "build",
        "--project-dir", str(project),
        "--profiles-dir", str(project),
        "--target", target,
        "--threads", str(s.dbt_threads),
        "--vars", json.dumps(vars_),
        "--target-path", str(run_dir / "target"),
        "--log-path", str(run_dir / "logs"),
        "--no-use-colors",
        "--quiet",
    ]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    log.info("indicators %s: dbt build on target %s (%s)", day, target, project)
    t0 = time.perf_counter()
    res = _invoke(args, on_node)
    seconds = time.perf_counter() - t0

    nodes = _collect(res, s, day)
    if s.dbt is not DbtTarget.cluster:  # written in place: rewritten even when a later test fails
        _record_label_definitions(s, day, nodes)
    failed = [n for n in nodes if n.status in ("error", "fail", "runtime error")]
    if res.exception is not None or failed or not res.success:
        detail = "; ".join(f"{n.resource_type} {n.name}: {n.status} {n.message}".strip() for n in failed)
        if res.exception is not None:
            detail = f"{type(res.exception).__name__}: {res.exception}" + (f"; {detail}" if detail else "")
        raise IndicatorBuildFailed(
            f"indicators {day} (dbt target {target}) failed: {detail or 'dbt reported failure'} "
            f"(dbt log: {run_dir / 'logs' / 'dbt.log'})")
    if s.dbt is DbtTarget.cluster:
        nodes = _publish_spark_partitions(s, day, nodes)
        _record_label_definitions(s, day, nodes)
    for table in TABLES:
        path = partition_path(s, table, day)
        if (select is None) and not path.is_file():
            raise IndicatorBuildFailed(f"indicators {day}: dbt succeeded but {path} was not written")
    return IndicatorsResult(date=day, target=target, nodes=nodes, seconds=seconds, run_dir=str(run_dir),
                            unpublished=unpublished)


def _invoke(args: list[str], on_node: Callable[[str, str], None] | None) -> Any:
    from dbt.cli.main import dbtRunner

    callbacks = []
    if on_node is not None:
        def _event(ev: Any) -> None:
            if ev.info.name == "NodeFinished":
                node = ev.data.node_info
                on_node(node.node_name, node.node_status)

        callbacks.append(_event)
    return dbtRunner(callbacks=callbacks).invoke(args)


def _collect(res: Any, s: Settings, day: dt.date) -> list[NodeResult]:
    nodes: list[NodeResult] = []
    results = getattr(res.result, "results", None) or []
    for r in results:
        node = r.node
        rtype = str(node.resource_type).split(".")[-1].lower()
        name = node.name
        status = str(r.status).split(".")[-1].lower()
        rows = path = None
        if rtype == "model" and name in TABLES and status == "success":
            p = partition_path(s, name, day)
            if p.is_file():
                rows, path = _parquet_rows(p), str(p)
        nodes.append(NodeResult(name=name, resource_type=rtype, status=status,
                                seconds=float(r.execution_time or 0.0), message=str(r.message or ""),
                                rows=rows, path=path))
    return nodes


def _record_label_definitions(s: Settings, day: dt.date, nodes: list[NodeResult]) -> None:
    """Each label partition written gets a record of the definition it was built under
    (riskpipe.models.labels.record_built); training refuses partitions of another definition."""
    from riskpipe.models.labels import record_built

    for n in nodes:
        if n.resource_type == "model" and n.name in LABEL_TABLES and n.status == "success" and n.path:
            record_built(s, n.name, day)


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


# ---- cluster target (dbt-spark, method session) -----------------------------------------------------

def _ensure_spark(s: Settings) -> None:
    """dbt-spark's session method calls ``SparkSession.builder.getOrCreate()``: make sure the session
    it finds is riskpipe's (master, UTC, conf from settings)."""
    from riskpipe.spark.session import get_spark

    get_spark("riskpipe-indicators", s)


def _publish_spark_partitions(s: Settings, day: dt.date, nodes: list[NodeResult]) -> list[NodeResult]:
    """Move the one part file Spark wrote for each table into ``dt=<day>/data.parquet`` (atomic
    ``os.replace``; the staging folder of the run is removed afterwards)."""
    out = []
    for n in nodes:
        if n.resource_type == "model" and n.name in TABLES and n.status == "success":
            root = s.features / "_staging" / n.name / f"dt={day.isoformat()}"
            parts = sorted(root.glob("*/part-*.parquet"))
            if len(parts) != 1:
                raise IndicatorBuildFailed(f"indicators {day}: expected one part file for {n.name} under {root}, "
                                           f"found {len(parts)}")
            final = partition_path(s, n.name, day)
            final.parent.mkdir(parents=True, exist_ok=True)
            # a rewritten partition is unvalidated until the feature gate passes it again
            (final.parent / VALIDATED_MARKER).unlink(missing_ok=True)
            os.replace(parts[0], final)
            shutil.rmtree(root, ignore_errors=True)
            n = dataclasses.replace(n, rows=_parquet_rows(final), path=str(final))
        out.append(n)
    return out
