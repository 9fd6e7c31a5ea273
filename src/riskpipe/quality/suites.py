"""The one factory that turns a :class:`~riskpipe.quality.spec.DatasetSpec` into a GX 1.x suite.

Every expectation carries ``meta = {"check": <id>, "severity": "error"|"warning", ...}``. The check
id names the rule in the spec (``not_null:txn_id``, ``range:amount``, ``reference:customer_id``,
``row_count`` ...) so a failure message, a test and a data engineer all speak of the same rule, and
GX's own ``severity`` is set to match (``critical`` for error, ``warning`` for warning).

Bounds that depend on other data (freshness relative to the validated day, distribution bounds from
the trailing partitions) are resolved *before* the suite is built and written into the expectations
as plain numbers, so Data Docs show exactly what was checked.

Great Expectations is imported inside :func:`build_suite` only (it takes seconds to import).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from riskpipe.quality.baselines import DERIVED_PREFIX, Baseline, orphan_column

if TYPE_CHECKING:
    import great_expectations as gx

    from riskpipe.quality.spec import DatasetSpec


@dataclasses.dataclass
class SuiteInputs:
    """What a suite is built for: the validated day, the partition compared, the trailing metrics."""

    day: dt.date
    current_partition: dt.date | None = None  # the newest dt of the frame: distribution checks apply to it
    partitions_in_frame: int = 1
    baseline: Baseline | None = None
    extra_columns: list[str] = dataclasses.field(default_factory=list)  # derived columns in the frame

    @property
    def day_end(self) -> dt.datetime:
        return dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time())


def derived_event_date(spec: DatasetSpec) -> str:
    return f"{DERIVED_PREFIX}event_date"


def _fmt(x: float) -> float:
    return float(round(x, 6))


def planned_checks(spec: DatasetSpec, inputs: SuiteInputs) -> list[tuple[str, str, dict[str, Any]]]:
    """``(expectation class name, check id, kwargs)`` for every expectation the spec asks for.

    Kept separate from GX so the plan is cheap to inspect; :func:`build_suite` instantiates it.
    Each kwargs dict carries ``meta`` with the check id and severity.
    """
    plan: list[tuple[str, str, dict[str, Any]]] = []

    def add(cls: str, check: str, severity: str, **kw: Any) -> None:
        meta = {"check": check, "severity": severity, "dataset": spec.dataset, **kw.pop("meta", {})}
        plan.append((cls, check, {**kw, "meta": meta}))

    # ---- schema and types -------------------------------------------------------------------------
    declared = spec.column_names
    sch = spec.schema_
    add("ExpectTableColumnsToMatchSet", "schema", sch.severity,
        column_set=[*declared, *inputs.extra_columns], exact_match=sch.exact,
        meta={"declared_columns": declared})
    for c in spec.columns:
        add("ExpectColumnValuesToBeOfType", f"type:{c.name}", sch.severity, column=c.name, type_=c.spark_type)

    # ---- keys -----------------------------------------------------------------------------------
    keys = spec.keys
    for k in keys.columns:
        add("ExpectColumnValuesToNotBeNull", f"not_null:{k}", keys.severity, column=k)
    part_col = spec.partition.column if spec.partition else None
    key_list = [part_col, *keys.columns] if part_col and part_col not in keys.columns else list(keys.columns)
    if len(key_list) == 1:
        add("ExpectColumnValuesToBeUnique", "unique", keys.severity, column=key_list[0])
    else:
        # a null key is the not_null check's finding, not a duplicate
        add("ExpectCompoundColumnsToBeUnique", "unique", keys.severity, column_list=key_list,
            ignore_row_if="any_value_is_missing")

    # ---- columns: nulls, ranges, allowed sets -----------------------------------------------------
    for c in spec.columns:
        if c.not_null and c.name not in keys.columns:
            add("ExpectColumnValuesToNotBeNull", f"not_null:{c.name}", c.not_null.severity, column=c.name,
                mostly=c.not_null.mostly)
        if c.range:
            kw: dict[str, Any] = {"column": c.name, "mostly": c.range.mostly}
            if c.range.min is not None:
                kw["min_value"] = c.range.min
            if c.range.max is not None:
                kw["max_value"] = c.range.max
            add("ExpectColumnValuesToBeBetween", f"range:{c.name}", c.range.severity, **kw)
        if c.allowed:
            add("ExpectColumnValuesToBeInSet", f"allowed:{c.name}", c.allowed.severity, column=c.name,
                value_set=list(c.allowed.values), mostly=c.allowed.mostly)

    # ---- partition consistency ------------------------------------------------------------------
    if spec.partition and spec.partition.event_column:
        add("ExpectColumnPairValuesToBeEqual", f"partition:{spec.partition.column}", spec.partition.severity,
            column_A=spec.partition.column, column_B=derived_event_date(spec),
            meta={"rule": f"{spec.partition.column} == to_date({spec.partition.event_column})"})

    # ---- references (computed in Spark: the derived column holds orphan values) ---------------------
    for ref in spec.references:
        add("ExpectColumnValuesToBeNull", f"reference:{ref.column}", ref.severity, column=orphan_column(ref),
            mostly=ref.mostly, meta={"rule": f"{ref.column} exists in {ref.layer}.{ref.dataset}.{ref.key}",
                                     "window": ref.window})

    # ---- freshness --------------------------------------------------------------------------------
    fr = spec.freshness
    if fr:
        oldest = inputs.day_end - dt.timedelta(hours=fr.max_staleness_hours)
        add("ExpectColumnMaxToBeBetween", f"freshness:{fr.event_column}", fr.severity, column=fr.event_column,
            min_value=oldest.isoformat(), meta={"rule": f"max({fr.event_column}) >= {inputs.day_end.isoformat()} "
                                                       f"- {fr.max_staleness_hours:g}h"})
        if fr.known_column:
            add("ExpectColumnPairValuesAToBeGreaterThanB", f"known_after_event:{fr.known_column}", fr.severity,
                column_A=fr.known_column, column_B=fr.event_column, or_equal=True)
            if fr.max_known_delay_days is not None:
                latest = inputs.day_end + dt.timedelta(days=fr.max_known_delay_days)
                add("ExpectColumnMaxToBeBetween", f"known_delay:{fr.known_column}", fr.severity,
                    column=fr.known_column, max_value=latest.isoformat())

    # ---- distribution against the trailing partitions ---------------------------------------------
    dist, base = spec.distribution, inputs.baseline
    if dist and base is not None:
        cond: dict[str, Any] = {}
        if inputs.partitions_in_frame > 1 and inputs.current_partition and part_col:
            cond = {"row_condition": f"{part_col} = DATE'{inputs.current_partition.isoformat()}'",
                    "condition_parser": "spark"}
        bmeta = {"baseline_partitions": base.partitions}
        if dist.row_count:
            rc = dist.row_count
            kw = {"min_value": int(base.row_count * rc.min_ratio)}
            if rc.max_ratio is not None:
                kw["max_value"] = int(base.row_count * rc.max_ratio + 0.999999)
            add("ExpectTableRowCountToBeBetween", "row_count", rc.severity, **kw, **cond,
                meta={**bmeta, "baseline_mean": _fmt(base.row_count)})
        for nr in dist.null_rate:
            b = base.null_rate.get(nr.column)
            if b is None:
                continue
            lo, hi = max(0.0, b - nr.max_shift), min(1.0, b + nr.max_shift)
            add("ExpectColumnProportionOfNonNullValuesToBeBetween", f"null_rate:{nr.column}", nr.severity,
                column=nr.column, min_value=_fmt(1 - hi), max_value=_fmt(1 - lo), **cond,
                meta={**bmeta, "baseline_null_rate": _fmt(b)})
        for mr in dist.mean:
            b = base.mean.get(mr.column)
            if b is None:
                continue
            half = abs(b) * mr.max_relative_shift
            add("ExpectColumnMeanToBeBetween", f"mean:{mr.column}", mr.severity, column=mr.column,
                min_value=_fmt(b - half), max_value=_fmt(b + half), **cond,
                meta={**bmeta, "baseline_mean": _fmt(b)})
    return plan


def build_suite(spec: DatasetSpec, inputs: SuiteInputs) -> gx.ExpectationSuite:
    """The GX suite named after the dataset, one expectation per planned check."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = []
    for cls, _check, kw in planned_checks(spec, inputs):
        severity = "critical" if kw["meta"]["severity"] == "error" else "warning"
        expectations.append(getattr(gxe, cls)(**kw, severity=severity))
    return gx.ExpectationSuite(name=spec.dataset, expectations=expectations,
                               meta={"layer": spec.layer, "day": inputs.day.isoformat(),
                                     "description": spec.description})
