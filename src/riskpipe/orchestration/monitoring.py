"""What the tasks of ``risk_monitoring`` call: freshness of each layer for one logical date.

Freshness is judged against the run's logical date, never the wall clock: for day D every declared
source should have its landing drop for D and a silver partition no older than the configured lag.
Findings become alert records (:mod:`riskpipe.orchestration.alerts`) and the summary is the XCom.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

from riskpipe.orchestration.alerts import raise_alert
from riskpipe.orchestration.daily import declared_sources, run_day

log = logging.getLogger(__name__)

_PART = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def partitions(root: Path) -> list[dt.date]:
    """Dates of the complete ``dt=YYYY-MM-DD`` partitions under ``root`` (staging dirs ignored)."""
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        m = _PART.match(p.name)
        if m and p.is_dir():
            out.append(dt.date.fromisoformat(m.group(1)))
    return sorted(out)


def layer_freshness(layer: str, root: Path, names: list[str], day: dt.date, max_lag_days: int) -> dict[str, Any]:
    """Per dataset: the latest partition on or before ``day`` and its lag in days; stale ones listed."""
    rows: dict[str, dict[str, Any]] = {}
    stale: list[str] = []
    for name in names:
        parts = [d for d in partitions(root / name) if d <= day]
        latest = parts[-1] if parts else None
        lag = (day - latest).days if latest else None
        rows[name] = {"latest": latest.isoformat() if latest else None, "lag_days": lag}
        if lag is None or lag > max_lag_days:
            stale.append(name)
    return {"layer": layer, "max_lag_days": max_lag_days, "datasets": rows, "stale": stale}


def check_freshness(ds: str, layer: str) -> dict[str, Any]:
    """Freshness of ``landing`` or ``silver`` for the run's day; an alert per stale dataset."""
    from riskpipe.orchestration.airflow_env import get_airflow_settings
    from riskpipe.settings import get_settings

    day = run_day(ds)
    s, a = get_settings(), get_airflow_settings()
    roots = {"landing": s.landing, "silver": s.silver}
    if layer not in roots:
        raise ValueError(f"unknown layer {layer!r}; one of {', '.join(roots)}")
    lag = {"landing": a.freshness_landing_max_lag_days, "silver": a.freshness_silver_max_lag_days}[layer]
    result = layer_freshness(layer, roots[layer], declared_sources(), day, lag)
    for name in result["stale"]:
        info = result["datasets"][name]
        raise_alert(
            "stale_data",
            f"{layer}/{name} latest partition {info['latest']} is {info['lag_days']} day(s) behind {day}"
            if info["latest"]
            else f"{layer}/{name} has no partition on or before {day}",
            severity="warning",
            layer=layer,
            dataset=name,
            day=day,
            **info,
        )
    return {"day": day.isoformat(), **result}


def check_drift(ds: str) -> dict[str, Any]:
    """Feature drift (PSI against the reference window), batch-score drift of every scored model, score
    PSI / feature CSI by segment and feature/silver freshness of the feature date the run's landing day completed (what risk_daily published).

    Every breach of the ``RISKPIPE_MONITOR_*`` thresholds becomes an alert record; the XCom counts them.
    """
    from riskpipe.monitoring.metrics import drift_alerts
    from riskpipe.orchestration.daily import feature_date

    day = feature_date(ds)  # the feature date risk_daily published for this landing day
    breaches = drift_alerts(day)
    for b in breaches:
        fields = {k: v for k, v in b.items() if k not in ("kind", "message", "severity", "day")}
        if b["kind"] == "stale_data":  # subject "<layer>/<dataset>", as check_freshness records them
            fields["layer"], fields["dataset"] = b["subject"].split("/", 1)
        elif b["kind"] == "score_drift":  # "scores.<model>"
            fields["layer"], fields["dataset"] = "scores", b["subject"].split(".", 1)[1]
        elif b["kind"] == "segment_drift":  # "<model>[<column>=<value>]" or "<table>.<feature>[...]"
            fields["layer"] = "decisions" if b["metric"] == "score_psi" else "features"
            fields["dataset"] = b["subject"].split("[", 1)[0].split(".", 1)[0]
        else:  # "<feature table>.<feature>"
            fields["layer"], fields["dataset"] = "features", b["subject"].split(".", 1)[0]
        raise_alert(b["kind"], b["message"], severity=b["severity"], day=day, **fields)
    kinds: dict[str, int] = {}
    for b in breaches:
        kinds[b["kind"]] = kinds.get(b["kind"], 0) + 1
    return {"day": day.isoformat(), "breaches": len(breaches), "by_kind": kinds}


def score_population(ds: str) -> dict[str, Any]:
    """Batch-score the feature date's population with every model's champion (``riskpipe score --model M
    --date D``: the same point-in-time features as training), for score drift and the report. A model
    without a champion is listed as skipped with the reason; a scoring failure fails the task."""
    from riskpipe.models.config import MODEL_NAMES
    from riskpipe.models.flows import score_date
    from riskpipe.models.registry import CHAMPION, alias_version, configure_mlflow
    from riskpipe.orchestration.daily import feature_date

    day = feature_date(ds)
    client = configure_mlflow()
    scored, skipped = {}, {}
    for model in MODEL_NAMES:
        mv = alias_version(client, model, CHAMPION)  # None too when the model was never registered
        if mv is None:
            skipped[model] = "no champion"
            continue
        path, rows = score_date(model, day)
        scored[model] = {"rows": len(rows), "version": str(mv.version), "path": str(path)}
    return {"day": day.isoformat(), "scored": scored, "skipped": skipped}


def join_outcomes(ds: str) -> dict[str, Any]:
    """Outcomes of the feature date the run's day completed (``riskpipe outcomes``): every decision day up
    to it re-joined with the labels known by its end, its own decisions' served features compared with
    Feast offline; realised KS/Gini, calibration and skew breaches become alert records."""
    from riskpipe.monitoring.outcomes import outcome_facts, refresh_outcomes
    from riskpipe.orchestration.daily import feature_date
    from riskpipe.settings import get_settings

    day = feature_date(ds)
    results = refresh_outcomes(day)
    alerts = outcome_facts(day, get_settings()).alerts.to_dict("records") if results else []
    for a in alerts:
        raise_alert(a["kind"], a["message"], severity=a["severity"], day=day, layer="outcomes",
                    dataset=a["subject"].split(" ", 1)[0].split(".", 1)[0], subject=a["subject"],
                    metric=a["metric"], value=a["value"], threshold=a["threshold"])
    return {"day": day.isoformat(), "partitions": [r.summary() for r in results], "alerts": len(alerts)}


def report(ds: str) -> dict[str, Any]:
    """The HTML risk report and Parquet tables of the feature date the run's day completed
    (``riskpipe report --date <that date>`` does the same)."""
    from riskpipe.monitoring.report import build_report
    from riskpipe.orchestration.daily import feature_date

    day = feature_date(ds)
    r = build_report(day)
    return {"day": day.isoformat(), "report": str(r.path), "tables": {k: str(v) for k, v in r.tables.items()},
            "alerts": len(r.alerts), "sections_with_data": sorted(k for k, v in r.sections.items() if v)}
