"""The feature gate: a feature partition is materialised only once its Great Expectations suite passed.

dbt's tests run inside ``dbt build`` (a failing test stops the build); this gate then runs the
feature table's spec (``expectations/<table>.yml``: exact schema, keys, ranges, freshness of the
feature time, references between tables, and distribution against the trailing published
partitions, which dbt cannot see) on the written partition. Passed: ``dt=D/_VALIDATED`` is written
with the evidence (validation summary, checks, warnings). Failed: the marker is removed, so
:func:`riskpipe.features.materialize.materialize` does not load the partition and the online store
keeps serving the previous values, and :class:`FeaturesBlocked` names the tables, the failing
expectations and a sample of failing keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskpipe.errors import RiskpipeError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from riskpipe.quality.validate import ValidationResult
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)


class FeaturesBlocked(RiskpipeError):
    """A feature partition failed its suite: it is not marked validated and is not materialised."""

    def __init__(self, message: str, results: list[ValidationResult]):
        super().__init__(message)
        self.results = results


@dataclasses.dataclass
class FeatureGateResult:
    day: dt.date
    results: list[ValidationResult]
    markers: list[Path]
    missing: list[str]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature_date": self.day.isoformat(),
            "validated": {r.dataset: r.rows for r in self.results if r.passed},
            "failed": {r.dataset: r.failed_checks for r in self.results if not r.passed},
            "warnings": {r.dataset: r.warning_checks for r in self.results if r.warning_checks},
            "missing": self.missing,
        }


def feature_tables() -> list[str]:
    """Feature tables that have a spec (the Feast tables and dbt-only ones such as ``fraud_txn``), in
    the order references need (referenced tables first)."""
    from riskpipe.features.tables import FEATURE_TABLES
    from riskpipe.quality.spec import load_specs

    specs = load_specs()
    features = [n for n, sp in specs.items() if sp.layer == "features"]
    names = [n for n in FEATURE_TABLES if n in specs] + sorted(n for n in features if n not in FEATURE_TABLES)
    first = {r.dataset for n in names for r in specs[n].references}
    return sorted(names, key=lambda n: (n not in first, names.index(n)))


def validate_features(
    day: dt.date,
    tables: list[str] | None = None,
    settings: Settings | None = None,
    spark: SparkSession | None = None,
    *,
    require: bool = False,
    evidence: dict[str, Any] | None = None,
) -> FeatureGateResult:
    """Validate the feature partitions ``dt=day`` of ``tables`` (default: every feature table with a spec).

    A table without a partition that day is listed in ``missing`` (an error when ``require``). Every
    present partition is validated, also after a failure, so one run reports every broken table;
    then :class:`FeaturesBlocked` is raised if any failed. ``evidence`` (e.g. the dbt run) is copied
    into the markers.
    """
    from riskpipe.features.tables import PARTITION_KEY, VALIDATED_MARKER
    from riskpipe.quality.baselines import layer_root
    from riskpipe.quality.validate import validate_dataset
    from riskpipe.settings import get_settings
    from riskpipe.spark.session import get_spark

    s = settings or get_settings()
    names = tables or feature_tables()
    results: list[ValidationResult] = []
    markers: list[Path] = []
    missing: list[str] = []
    for name in names:
        part = layer_root(s, "features", name) / f"{PARTITION_KEY}={day.isoformat()}"
        marker = part / VALIDATED_MARKER
        if not any(part.glob("*.parquet")):
            missing.append(name)
            continue
        # a rebuilt partition is unvalidated until this run says otherwise
        marker.unlink(missing_ok=True)
        spark = spark or get_spark("riskpipe-validate-features", s)
        r = validate_dataset(name, day, s, spark)
        results.append(r)
        if r.passed:
            # deterministic content (no times): rerunning a date rewrites the same marker
            summary = r.summary_path.parent / "latest.json" if r.summary_path else None
            marker.write_text(json.dumps({
                "validated_by": "great_expectations", "suite": f"expectations/{name}.yml",
                "summary": str(summary), "rows": r.rows, "warnings": r.warning_checks,
                "checks_passed": sorted(c.check for c in r.checks if c.success), **(evidence or {}),
            }, indent=2, sort_keys=True, default=str))
            markers.append(marker)
    result = FeatureGateResult(day=day, results=results, markers=markers, missing=missing)
    failed = [r for r in results if not r.passed]
    if require and missing:
        raise FeaturesBlocked(f"feature partitions for {day} missing: {', '.join(missing)}", failed)
    if failed:
        raise FeaturesBlocked(
            f"feature partitions for {day} not published (not materialised): "
            + "; ".join(r.message for r in failed), failed)
    return result
