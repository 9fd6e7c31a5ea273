"""Monitoring computations: each a function of the lake (and optional inputs) returning a DataFrame.

Where the inputs live (read, never duplicated):

* ingest run metadata ``<lake>/_runs/ingest/<source>/dt=<landing day>/latest.json`` (counts);
* quarantine ``<lake>/quarantine/<source>/dt=<landing day>/*.parquet`` (one ``reason`` per row;
  file-level records have a null ``_source_row``);
* validation summaries ``<lake>/_runs/validate/<dataset>/dt=<day>/latest.json``;
* feature and label tables ``<features>/<table>/dt=<day>/data.parquet`` (docs/feature-tables.md);
* MLflow aliases ``champion``/``challenger`` (:mod:`riskpipe.models.registry`).

Every function returns an empty frame with its declared columns when its input does not exist yet,
so the report and the monitoring tables degrade to "no data yet" instead of failing.
The per-day facts are written by :func:`write_tables` to ``<lake>/monitoring/<table>/dt=D/data.parquet``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskpipe.atomic import write_atomic
from riskpipe.features.tables import DATA_FILE, FEATURE_TABLES, LABEL_TABLES, partition_dates
from riskpipe.monitoring.config import MonitorSettings, get_monitor_settings
from riskpipe.orchestration.monitoring import partitions

if TYPE_CHECKING:
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

MONITORING_DIR = "monitoring"
NUMERIC_KINDS = ("double", "int", "long")

#: The monitoring tables (one partition per report date) and their columns (pyarrow type names).
SCHEMAS: dict[str, dict[str, str]] = {
    "volumes": {
        "dataset": "string", "landing_date": "date32", "run_id": "string", "rows_read": "int64",
        "rows_written": "int64", "rows_quarantined": "int64", "duplicates_dropped": "int64",
        "rows_superseded": "int64", "files": "int64", "files_quarantined": "int64", "published": "bool",
    },
    "quarantine_reasons": {"dataset": "string", "landing_date": "date32", "reason": "string", "rows": "int64"},
    "validation": {
        "dataset": "string", "day": "date32", "passed": "bool", "rows": "int64", "checks": "int64",
        "failed_checks": "string", "warning_checks": "string", "failures": "string", "validated_at": "string",
    },
    "feature_drift": {
        "table": "string", "feature": "string", "day": "date32", "reference_start": "date32",
        "reference_end": "date32", "reference_rows": "int64", "current_rows": "int64", "psi": "float64",
        "reference_mean": "float64", "current_mean": "float64", "reference_missing": "float64",
        "current_missing": "float64", "status": "string",
    },
    "score_drift": {
        "model": "string", "model_version": "string", "day": "date32", "reference_start": "date32",
        "reference_end": "date32", "reference_rows": "int64", "current_rows": "int64", "psi": "float64",
        "reference_mean": "float64", "current_mean": "float64", "status": "string",
    },
    "segment_drift": {
        "kind": "string", "subject": "string", "segment_column": "string", "segment": "string", "day": "date32",
        "reference_start": "date32", "reference_end": "date32", "reference_rows": "int64", "current_rows": "int64",
        "psi": "float64", "status": "string",
    },
    "alerts": {
        "day": "date32", "kind": "string", "severity": "string", "subject": "string", "metric": "string",
        "value": "float64", "threshold": "float64", "message": "string",
    },
}


def empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in SCHEMAS[table]})


def _frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(SCHEMAS[table])) if rows else empty(table)


def _day(x: dt.date | str) -> dt.date:
    return x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x))


def _in(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


# ---- volumes and quarantine --------------------------------------------------------------------------
def volumes(settings: Settings, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """One row per source and landing day: the counts of the latest ingest run of that day."""
    root = settings.runs / "ingest"
    rows = []
    for src in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        for day in partitions(src):
            if not _in(day, start, end):
                continue
            f = src / f"dt={day.isoformat()}" / "latest.json"
            if not f.is_file():
                continue
            m = json.loads(f.read_text())
            rows.append({
                "dataset": m.get("dataset", src.name), "landing_date": day, "run_id": m.get("run_id"),
                **{k: int(m.get(k) or 0) for k in ("rows_read", "rows_written", "rows_quarantined",
                                                    "duplicates_dropped", "rows_superseded", "files_quarantined")},
                "files": len(m.get("files") or []), "published": bool(m.get("published")),
            })
    return _frame("volumes", rows)


def quarantine_reasons(settings: Settings, start: dt.date | None = None,
                       end: dt.date | None = None) -> pd.DataFrame:
    """Quarantined records per source, landing day and reason (file-level records included)."""
    import pyarrow.parquet as pq

    root = settings.quarantine
    rows = []
    for src in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        for day in partitions(src):
            if not _in(day, start, end):
                continue
            files = sorted((src / f"dt={day.isoformat()}").glob("*.parquet"))
            if not files:
                continue
            reasons = pd.concat([pq.read_table(f, columns=["reason"]).to_pandas() for f in files])
            for reason, n in reasons["reason"].fillna("unknown").value_counts().sort_index().items():
                rows.append({"dataset": src.name, "landing_date": day, "reason": str(reason), "rows": int(n)})
    return _frame("quarantine_reasons", rows)


def label_status(settings: Settings, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """Rows per label table, partition date and ``label_status`` (bad, good, indeterminate,
    unresolved; ``unknown`` for a partition built before label statuses). A rise of ``unresolved``
    means payment records stuck in quarantine are holding labels back."""
    import pyarrow.parquet as pq

    rows = []
    for name in LABEL_TABLES:
        for day in partition_dates(settings.features, name):
            f = settings.features / name / f"dt={day.isoformat()}" / DATA_FILE
            if not _in(day, start, end) or not f.is_file():
                continue
            pf = pq.ParquetFile(f)
            if "label_status" in pf.schema_arrow.names:
                status = pf.read(columns=["label_status"]).column(0).to_pandas().fillna("unknown")
            else:
                status = pd.Series(["unknown"] * pf.metadata.num_rows, dtype=object)
            for value, n in status.value_counts().sort_index().items():
                rows.append({"label_table": name, "feature_date": day, "label_status": str(value), "rows": int(n)})
    return pd.DataFrame(rows, columns=["label_table", "feature_date", "label_status", "rows"])


# ---- validation --------------------------------------------------------------------------------------
def validation_results(settings: Settings, start: dt.date | None = None,
                       end: dt.date | None = None) -> pd.DataFrame:
    """The latest GX validation summary per dataset and day: verdict and the failing expectations."""
    root = settings.runs / "validate"
    rows = []
    for ds in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        for day in partitions(ds):
            f = ds / f"dt={day.isoformat()}" / "latest.json"
            if not _in(day, start, end) or not f.is_file():
                continue
            m = json.loads(f.read_text())
            failed = [c for c in m.get("checks", []) if not c.get("success")]
            rows.append({
                "dataset": m.get("dataset", ds.name), "day": day, "passed": bool(m.get("passed")),
                "rows": int(m.get("rows") or 0), "checks": len(m.get("checks", [])),
                "failed_checks": ", ".join(m.get("failed_checks") or []),
                "warning_checks": ", ".join(m.get("warning_checks") or []),
                "failures": "; ".join(
                    f"{c.get('check')} [{c.get('expectation')}{'(' + c['column'] + ')' if c.get('column') else ''}]"
                    f" {c.get('severity')}"
                    + (f": {c['unexpected_count']} unexpected" if c.get("unexpected_count") is not None else "")
                    for c in failed),
                "validated_at": str(m.get("validated_at") or ""),
            })
    return _frame("validation", rows)


# ---- feature tables ----------------------------------------------------------------------------------
def read_partitions(features_root: Path, table: str, days: Iterable[dt.date],
                    columns: list[str] | None = None) -> pd.DataFrame:
    """Concatenate the existing ``dt=`` partitions of a feature/label table for ``days`` (empty if none)."""
    frames = []
    for d in days:
        f = Path(features_root) / table / f"dt={d.isoformat()}" / DATA_FILE
        if f.is_file():
            df = pd.read_parquet(f, columns=columns)
            df["_dt"] = d
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def numeric_features(table: str) -> list[str]:
    return [n for n, k in FEATURE_TABLES[table].features if k in NUMERIC_KINDS]


def classify(value: float, ms: MonitorSettings) -> str:
    if value is None or not np.isfinite(value):
        return "not judged"
    return "alert" if value >= ms.psi_alert else "warn" if value >= ms.psi_warn else "ok"


def reference_window(day: dt.date, ms: MonitorSettings,
                     reference: tuple[dt.date, dt.date] | None = None) -> tuple[dt.date, dt.date]:
    """The given window, or the ``reference_days`` days before ``day`` (``day`` itself excluded)."""
    if reference is not None:
        return _day(reference[0]), _day(reference[1])
    return day - dt.timedelta(days=ms.reference_days), day - dt.timedelta(days=1)


def feature_drift(day: dt.date, settings: Settings, ms: MonitorSettings | None = None,
                  reference: tuple[dt.date, dt.date] | None = None,
                  tables: Iterable[str] | None = None) -> pd.DataFrame:
    """PSI of every numeric feature of each feature table on ``day`` against the reference window.

    The reference is the union of the table's partitions in the window (one row per entity per day).
    A feature with fewer than ``min_rows`` non-empty rows on either side is listed but not judged.
    """
    from riskpipe.models.evaluate import psi

    ms = ms or get_monitor_settings()
    day = _day(day)
    r0, r1 = reference_window(day, ms, reference)
    rows = []
    for table in tables or FEATURE_TABLES:
        have = partition_dates(settings.features, table)
        if day not in have:
            continue
        ref_days = [d for d in have if r0 <= d <= r1 and d != day]
        if not ref_days:
            continue
        feats = numeric_features(table)
        cur = read_partitions(settings.features, table, [day], feats)
        ref = read_partitions(settings.features, table, ref_days, feats)
        for f in feats:
            c = pd.to_numeric(cur[f], errors="coerce").to_numpy(dtype=float)
            r = pd.to_numeric(ref[f], errors="coerce").to_numpy(dtype=float)
            judged = (~np.isnan(c)).sum() >= ms.min_rows and (~np.isnan(r)).sum() >= ms.min_rows
            value = psi(r, c, bins=ms.psi_bins) if judged else float("nan")
            rows.append({
                "table": table, "feature": f, "day": day, "reference_start": min(ref_days),
                "reference_end": max(ref_days), "reference_rows": len(r), "current_rows": len(c),
                "psi": value, "reference_mean": float(np.nanmean(r)) if (~np.isnan(r)).any() else np.nan,
                "current_mean": float(np.nanmean(c)) if (~np.isnan(c)).any() else np.nan,
                "reference_missing": float(np.isnan(r).mean()) if len(r) else np.nan,
                "current_missing": float(np.isnan(c).mean()) if len(c) else np.nan,
                "status": classify(value, ms),
            })
    return _frame("feature_drift", rows)


def score_partitions(settings: Settings, model: str) -> list[dt.date]:
    """Days with batch scores of ``model`` (``<lake>/scores/<model>/dt=D/data.parquet``)."""
    return partition_dates(settings.lake / "scores", model)


def score_drift(day: dt.date, settings: Settings, ms: MonitorSettings | None = None,
                models: Iterable[str] | None = None,
                reference: tuple[dt.date, dt.date] | None = None) -> pd.DataFrame:
    """PSI of each model's batch scores (probability) on ``day`` against its scores in the reference
    window (default: the ``reference_days`` before ``day``), with the same thresholds as features.

    The scores compared must come from one model version: reference days scored by another version
    than ``day``'s are left out (a promotion changes the score distribution on purpose)."""
    from riskpipe.models.evaluate import psi

    ms = ms or get_monitor_settings()
    day = _day(day)
    r0, r1 = reference_window(day, ms, reference)
    rows = []
    root = settings.lake / "scores"
    if models is None:
        models = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for model in models:
        have = score_partitions(settings, model)
        if day not in have:
            continue
        cur = read_partitions(root, model, [day], ["probability", "model_version"])
        versions = sorted(set(cur["model_version"].astype(str)))
        ref = read_partitions(root, model, [d for d in have if r0 <= d <= r1 and d != day],
                              ["probability", "model_version"])
        if len(ref):
            ref = ref[ref["model_version"].astype(str).isin(versions)]
        c = cur["probability"].to_numpy(dtype=float)
        r = ref["probability"].to_numpy(dtype=float) if len(ref) else np.zeros(0)
        judged = len(c) >= ms.min_rows and len(r) >= ms.min_rows
        value = psi(r, c, bins=ms.psi_bins) if judged else float("nan")
        ref_days = sorted(set(ref["_dt"])) if len(ref) else []
        rows.append({
            "model": model, "model_version": ",".join(versions), "day": day,
            "reference_start": min(ref_days) if ref_days else None,
            "reference_end": max(ref_days) if ref_days else None,
            "reference_rows": len(r), "current_rows": len(c), "psi": value,
            "reference_mean": float(r.mean()) if len(r) else np.nan, "current_mean": float(c.mean()) if len(c) else np.nan,
            "status": classify(value, ms),
        })
    return _frame("score_drift", rows)


def _segment_rows(kind: str, subject: str, column: str, day: dt.date, cur: pd.DataFrame, ref: pd.DataFrame,
                  value: str, ms: MonitorSettings) -> list[dict[str, Any]]:
    """PSI of ``value`` within each segment of ``cur`` (``segment`` column) against the same segment of
    ``ref``; ``alert`` above ``max_segment_psi``, not judged under ``min_rows`` on either side."""
    from riskpipe.models.evaluate import psi

    rows = []
    ref_days = sorted(set(ref["_dt"])) if len(ref) else []
    for seg, c in cur.groupby("segment", sort=True, dropna=False):
        r = ref[ref["segment"] == seg] if len(ref) else ref
        cv = pd.to_numeric(c[value], errors="coerce").to_numpy(dtype=float)
        rv = pd.to_numeric(r[value], errors="coerce").to_numpy(dtype=float) if len(r) else np.zeros(0)
        judged = len(cv) >= ms.min_rows and len(rv) >= ms.min_rows
        v = psi(rv, cv, bins=ms.psi_bins) if judged else float("nan")
        rows.append({"kind": kind, "subject": subject, "segment_column": column, "segment": str(seg), "day": day,
                     "reference_start": min(ref_days) if ref_days else None,
                     "reference_end": max(ref_days) if ref_days else None, "reference_rows": len(rv),
                     "current_rows": len(cv), "psi": v,
                     "status": "not judged" if not judged else "alert" if v > ms.max_segment_psi else "ok"})
    return rows


def segment_drift(day: dt.date, settings: Settings, ms: MonitorSettings | None = None,
                  reference: tuple[dt.date, dt.date] | None = None) -> pd.DataFrame:
    """PSI by segment (``segment_column``, e.g. region) of ``day`` against the reference window:

    * ``score_psi``: each model's served probabilities (champion decisions of the decision log; the
      segment is the value the model was served, from the decision's features), reference restricted
      to the versions serving on ``day`` like :func:`score_drift`;
    * ``feature_csi``: every numeric feature of each feature table that holds the segment column.
    """
    from riskpipe.models.decisions import read_decisions

    ms = ms or get_monitor_settings()
    day = _day(day)
    r0, r1 = reference_window(day, ms, reference)
    col = ms.segment_column
    rows: list[dict[str, Any]] = []
    root = settings.decisions
    for mdir in sorted(root.glob("model=*")) if root.is_dir() else []:
        have = [d for d in partitions(mdir) if d == day or (r0 <= d <= r1)]
        if day not in have:
            continue
        frames = []
        for d in have:
            df = read_decisions(root, model=mdir.name.split("=", 1)[1], day=d)
            df = df[df["role"] == "champion"]
            frames.append(pd.DataFrame({"probability": df["probability"].astype(float),
                                        "model_version": df["model_version"].astype(str),
                                        "segment": [json.loads(f).get(col) for f in df["features"]], "_dt": d}))
        dec = pd.concat(frames, ignore_index=True)
        cur = dec[dec["_dt"] == day]
        ref = dec[(dec["_dt"] != day) & dec["model_version"].isin(set(cur["model_version"]))]
        rows += _segment_rows("score_psi", mdir.name.split("=", 1)[1], col, day, cur, ref, "probability", ms)
    for table, spec in FEATURE_TABLES.items():
        if col not in spec.feature_names:
            continue
        have = partition_dates(settings.features, table)
        ref_days = [d for d in have if r0 <= d <= r1 and d != day]
        if day not in have or not ref_days:
            continue
        feats = [f for f in numeric_features(table) if f != col]
        cur = read_partitions(settings.features, table, [day], [*feats, col]).rename(columns={col: "segment"})
        ref = read_partitions(settings.features, table, ref_days, [*feats, col]).rename(columns={col: "segment"})
        for f in feats:
            rows += _segment_rows("feature_csi", f"{table}.{f}", col, day, cur, ref, f, ms)
    return _frame("segment_drift", rows)


def training_window(model_name: str, settings: Settings, alias: str = "champion") -> tuple[dt.date, dt.date] | None:
    """The training window (``train_start``/``train_end`` tags) of a model's ``alias`` version
    (``champion``, else ``challenger``), or None when there is no such model or version."""
    try:
        from riskpipe.models.registry import CHALLENGER, alias_version, configure_mlflow

        if not _mlflow_exists(settings):
            return None
        client = configure_mlflow(settings)
        for a in (alias, CHALLENGER):
            mv = alias_version(client, model_name, a)
            if mv is not None and mv.tags.get("train_start") and mv.tags.get("train_end"):
                return (pd.Timestamp(mv.tags["train_start"]).date(), pd.Timestamp(mv.tags["train_end"]).date())
    except Exception as err:  # noqa: BLE001 - a monitoring report never fails on the registry
        log.warning("no training window for %s: %s", model_name, err)
    return None


# ---- freshness and alerts ----------------------------------------------------------------------------
def freshness(day: dt.date, settings: Settings, ms: MonitorSettings | None = None) -> pd.DataFrame:
    """Age in hours of the latest partition (on or before ``day``) of each feature table and silver source,
    measured from ``day`` 00:00 UTC (the logical date, never the wall clock)."""
    ms = ms or get_monitor_settings()
    day = _day(day)
    rows = []
    sources = sorted(p.name for p in settings.silver.glob("*") if p.is_dir()) if settings.silver.is_dir() else []
    for layer, root, names in (("features", settings.features, list(FEATURE_TABLES)), ("silver", settings.silver, sources)):
        for name in names:
            parts = [d for d in partitions(root / name) if d <= day]
            latest = parts[-1] if parts else None
            age = (day - latest).days * 24.0 if latest else None
            rows.append({"layer": layer, "dataset": name, "latest": latest, "age_hours": age,
                         "stale": age is None or age > ms.freshness_hours})
    return pd.DataFrame(rows, columns=["layer", "dataset", "latest", "age_hours", "stale"])


def _psi_alert(day: dt.date, kind: str, subject: str, what: str, r: Any, ms: MonitorSettings) -> dict[str, Any]:
    """The alert row of one PSI breach (``r``: a drift row with status warn/alert, psi and reference window)."""
    thr = ms.psi_alert if r.status == "alert" else ms.psi_warn
    return {"day": day, "kind": kind, "severity": "critical" if r.status == "alert" else "warning",
            "subject": subject, "metric": "psi", "value": float(r.psi), "threshold": thr,
            "message": f"{what} PSI {r.psi:.3f} >= {thr} against {r.reference_start}..{r.reference_end}"}


def alerts_from(day: dt.date, drift: pd.DataFrame, fresh: pd.DataFrame, ms: MonitorSettings,
                scores: pd.DataFrame | None = None, segments: pd.DataFrame | None = None) -> pd.DataFrame:
    breached = ("warn", "alert")
    rows = [_psi_alert(day, "score_drift", f"scores.{r.model}", f"{r.model} v{r.model_version} score", r, ms)
            for r in (scores if scores is not None else empty("score_drift")).itertuples(index=False)
            if r.status in breached]
    rows += [_psi_alert(day, "feature_drift", f"{r.table}.{r.feature}", f"{r.table}.{r.feature}", r, ms)
             for r in drift.itertuples(index=False) if r.status in breached]
    for r in (segments if segments is not None else empty("segment_drift")).itertuples(index=False):
        if r.status == "alert":
            what = "score PSI" if r.kind == "score_psi" else "CSI"
            rows.append({"day": day, "kind": "segment_drift", "severity": "warning",
                         "subject": f"{r.subject}[{r.segment_column}={r.segment}]", "metric": r.kind,
                         "value": float(r.psi), "threshold": ms.max_segment_psi,
                         "message": f"{r.subject} {what} {r.psi:.3f} > {ms.max_segment_psi} in segment "
                                    f"{r.segment_column}={r.segment} against {r.reference_start}..{r.reference_end}"})
    for r in fresh.itertuples(index=False):
        if r.stale:
            rows.append({"day": day, "kind": "stale_data", "severity": "warning", "subject": f"{r.layer}/{r.dataset}",
                         "metric": "age_hours", "value": float(r.age_hours) if r.age_hours is not None else np.nan,
                         "threshold": ms.freshness_hours,
                         "message": f"{r.layer}/{r.dataset} latest partition {r.latest} is {r.age_hours:.0f} h "
                                    f"older than {day} (limit {ms.freshness_hours:g} h)" if r.latest is not None
                         else f"{r.layer}/{r.dataset} has no partition on or before {day}"})
    return _frame("alerts", rows)


def drift_alerts(date: dt.date | str, settings: Settings | None = None, ms: MonitorSettings | None = None,
                 reference: tuple[dt.date, dt.date] | None = None) -> list[dict[str, Any]]:
    """The threshold breaches for ``date``: feature PSI (against ``reference``, else the training window
    of ``reference_model``, else the ``reference_days`` before ``date``) >= ``psi_warn`` (``warning``) or
    >= ``psi_alert`` (``critical``), batch-score PSI of every scored model (:func:`score_drift`), score PSI
    and feature CSI by segment above ``max_segment_psi`` (:func:`segment_drift`) and stale feature tables /
    silver sources (``freshness_hours``).

    One dict per breach (kind, severity, subject, metric, value, threshold, message); for the
    monitoring DAG to turn into alerts (:func:`riskpipe.orchestration.alerts.raise_alert`).
    """
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    ms = ms or get_monitor_settings()
    day = _day(date)
    if reference is None and ms.reference_model:
        reference = training_window(ms.reference_model, s)
    frame = alerts_from(day, feature_drift(day, s, ms, reference), freshness(day, s, ms), ms, score_drift(day, s, ms),
                        segment_drift(day, s, ms, reference))
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


# ---- scores and model performance --------------------------------------------------------------------
def bands(scores: pd.DataFrame, approve_max_pd: float | None = None, decline_min_pd: float | None = None) -> pd.Series:
    """The approve/refer/decline band per row: the ``band`` column the scorer wrote, else from the PD."""
    if "band" in scores.columns:
        return scores["band"].astype(str)
    from riskpipe.models.config import get_model_settings

    m = get_model_settings()
    lo = m.approve_max_pd if approve_max_pd is None else approve_max_pd
    hi = m.decline_min_pd if decline_min_pd is None else decline_min_pd
    p = scores["probability"].astype(float)
    return pd.Series(np.where(p < lo, "approve", np.where(p >= hi, "decline", "refer")), index=scores.index)


def score_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows, share and mean PD per decision band."""
    b = bands(scores)
    g = scores.assign(band=b).groupby("band").agg(rows=("probability", "size"), mean_pd=("probability", "mean"))
    g["share"] = g["rows"] / g["rows"].sum()
    order = [x for x in ("approve", "refer", "decline") if x in g.index] + [x for x in g.index if x not in
                                                                           ("approve", "refer", "decline")]
    return g.loc[order].reset_index()


def read_labels(settings: Settings, day: dt.date) -> dict[str, pd.DataFrame]:
    """Every label table's partitions up to ``day`` (label name -> rows; absent tables left out)."""
    out = {}
    for name in LABEL_TABLES:
        days = [d for d in partition_dates(settings.features, name) if d <= day]
        df = read_partitions(settings.features, name, days)
        if len(df):
            out[name] = df
    return out


def vintage_performance(scores: pd.DataFrame, labels: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """AUC, KS and Gini of the scores by application month as labels mature, joining scores to the
    first label table sharing an id column (``application_id``, ``txn_id``...).

    The vintage is the month of the score's ``feature_ts`` when the scores have one (so unlabelled rows
    count in their vintage's ``rows`` and lower its ``maturity_share``), else of the label's; scored rows
    without a label and without a time of their own are one ``unlabelled`` row, never dropped."""
    from riskpipe.models.evaluate import auc, ks

    cols = ["label_table", "vintage", "rows", "labelled", "maturity_share", "bad_rate", "auc", "ks", "gini"]
    for name, lab in labels.items():
        keys, _ = LABEL_TABLES[name]
        key = next((k for k in keys if k != "customer_id" and k in scores.columns), None)
        if key is None:
            continue
        own = [c for c in ("feature_ts",) if c in scores.columns]
        # indeterminates (labels.yml exclusions: matured, label null) have no outcome to score
        indeterminate = lab.loc[lab["label"].isna(), key]
        determinate = lab[lab["label"].notna()]
        j = scores.loc[~scores[key].isin(indeterminate), [key, "probability", *own]].merge(
            determinate[[key, "feature_ts", "label"]].rename(columns={"feature_ts": "label_ts"}), on=key, how="left")
        if j["label"].notna().sum() == 0:
            continue
        when = pd.to_datetime(j["feature_ts"] if own else j["label_ts"])
        j["vintage"] = when.dt.strftime("%Y-%m").fillna("unlabelled")
        rows = []
        for v, g in j.groupby("vintage"):
            done = g[g["label"].notna()]
            y, p = done["label"].to_numpy(dtype=float), done["probability"].to_numpy(dtype=float)
            a = auc(y, p) if len(y) else float("nan")
            rows.append({"label_table": name, "vintage": v, "rows": len(g), "labelled": len(done),
                         "maturity_share": len(done) / len(g), "bad_rate": float(y.mean()) if len(y) else np.nan,
                         "auc": a, "ks": ks(y, p) if len(y) else np.nan, "gini": 2 * a - 1})
        return pd.DataFrame(rows, columns=cols)
    return pd.DataFrame(columns=cols)


# ---- early warning and fraud rings -------------------------------------------------------------------
#: The transparent early-warning rules: (name, points, predicate on the loan_early_warning_daily row).
EW_RULES: list[tuple[str, float, Any]] = [
    ("dpd 30+", 4.0, lambda d: d["dpd_current"].fillna(0) >= 30),
    ("dpd 1-29", 2.0, lambda d: (d["dpd_current"].fillna(0) > 0) & (d["dpd_current"].fillna(0) < 30)),
    ("dpd rising (30d)", 2.0, lambda d: d["dpd_change_30d"].fillna(0) > 0),
    ("paid < 80% of due", 2.0, lambda d: (d["installments_due"].fillna(0) > 0) & (d["paid_ratio"].fillna(1) < 0.8)),
    ("spending down 50%+ (30d)", 1.0, lambda d: d["txn_count_30d_change"].fillna(0) <= -0.5),
    ("logins down 50%+ (30d)", 1.0, lambda d: d["login_count_30d_change"].fillna(0) <= -0.5),
]


def early_warning(day: dt.date, settings: Settings, top: int = 25) -> pd.DataFrame:
    """Top-risk active loans on ``day`` by a rule-based score (sum of rule points), with the reasons."""
    df = read_partitions(settings.features, "loan_early_warning_daily", [_day(day)])
    if df.empty:
        return df
    df = df.drop(columns=["_dt"])
    points = pd.Series(0.0, index=df.index)
    reasons = [[] for _ in range(len(df))]
    for name, pts, rule in EW_RULES:
        hit = rule(df).to_numpy(dtype=bool)
        points += np.where(hit, pts, 0.0)
        for i in np.flatnonzero(hit):
            reasons[i].append(name)
    df["risk_points"] = points
    df["reasons"] = [", ".join(r) for r in reasons]
    df = df[df["risk_points"] > 0].sort_values(["risk_points", "dpd_current", "loan_id"],
                                               ascending=[False, False, True])
    keep = ["loan_id", "customer_id", "risk_points", "reasons", "dpd_current", "dpd_change_30d", "paid_ratio",
            "installments_due", "installments_paid", "txn_count_30d_change", "login_count_30d_change"]
    return df[keep].head(top).reset_index(drop=True)


def fraud_rings(day: dt.date, settings: Settings, top: int = 15) -> pd.DataFrame:
    """The largest shared-device/IP/phone components (size >= 2) on ``day`` with their bad share."""
    cols = ["component_id", "component_size", "component_bad_share", "max_customers_per_device"]
    df = read_partitions(settings.features, "customer_graph_daily", [_day(day)], cols)
    if df.empty:
        return df
    g = (df.groupby("component_id")
         .agg(component_size=("component_size", "max"), component_bad_share=("component_bad_share", "max"),
              max_customers_per_device=("max_customers_per_device", "max"))
         .reset_index())
    g = g[g["component_size"] >= 2]
    return g.sort_values(["component_size", "component_bad_share", "component_id"],
                         ascending=[False, False, True]).head(top).reset_index(drop=True)


# ---- MLflow ------------------------------------------------------------------------------------------
def _mlflow_exists(settings: Settings) -> bool:
    uri = settings.tracking_uri
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).is_file()


def model_aliases(settings: Settings) -> pd.DataFrame:
    """Champion and challenger of every registered model with their run's OOT metrics (empty if none)."""
    cols = ["model", "alias", "version", "model_kind", "oot_auc", "oot_ks", "oot_brier", "psi_score", "run_id"]
    if not _mlflow_exists(settings):
        return pd.DataFrame(columns=cols)
    from riskpipe.models.registry import CHALLENGER, CHAMPION, alias_version, configure_mlflow

    client = configure_mlflow(settings)
    rows = []
    for rm in client.search_registered_models():
        for alias in (CHAMPION, CHALLENGER):
            mv = alias_version(client, rm.name, alias)
            if mv is None:
                continue
            m = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            rows.append({"model": rm.name, "alias": alias, "version": str(mv.version),
                         "model_kind": mv.tags.get("model_kind"), "oot_auc": m.get("oot_auc"),
                         "oot_ks": m.get("oot_ks"), "oot_brier": m.get("oot_brier"), "psi_score": m.get("psi_score"),
                         "run_id": mv.run_id})
    return pd.DataFrame(rows, columns=cols)


def alias_history(settings: Settings, until: dt.date | None = None, last: int = 25) -> pd.DataFrame:
    """The newest ``last`` alias moves of every model up to the end of ``until`` (who, when, what moved
    from/to, why, and for approved promotions who requested and who approved)."""
    from riskpipe.models.registry import read_history

    cols = ["when", "who", "model", "alias", "action", "from_version", "to_version", "candidate_version",
            "requested_by", "approved_by", "reason"]
    rows = []
    for h in read_history(settings=settings):
        when = str(h.get("when", ""))
        if until is not None and when[:10] > until.isoformat():
            continue
        ev = h.get("evidence") or {}
        rows.append({"when": when, "who": h.get("who"), "model": h.get("model_name"), "alias": h.get("alias"),
                     "action": h.get("action"), "from_version": h.get("from_version"),
                     "to_version": h.get("to_version"), "candidate_version": h.get("candidate_version"),
                     "requested_by": ev.get("requested_by"), "approved_by": ev.get("approved_by"),
                     "reason": h.get("reason")})
    return pd.DataFrame(rows[-last:][::-1], columns=cols)


# ---- the monitoring tables ---------------------------------------------------------------------------
@dataclass
class DayTables:
    """The per-day monitoring facts of one report date (what :func:`write_tables` persists)."""

    volumes: pd.DataFrame
    quarantine_reasons: pd.DataFrame
    validation: pd.DataFrame
    feature_drift: pd.DataFrame
    score_drift: pd.DataFrame
    segment_drift: pd.DataFrame
    alerts: pd.DataFrame

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [(n, getattr(self, n)) for n in SCHEMAS]


def _arrow(table: str, df: pd.DataFrame):
    import pyarrow as pa

    types = {"string": pa.string(), "date32": pa.date32(), "int64": pa.int64(), "float64": pa.float64(),
             "bool": pa.bool_()}
    schema = pa.schema([(c, types[t]) for c, t in SCHEMAS[table].items()])
    df = df.reindex(columns=list(SCHEMAS[table]))
    arrays = []
    for c, t in SCHEMAS[table].items():
        v = df[c]
        if t == "float64":
            v = pd.to_numeric(v, errors="coerce").astype(float)
        vals = [None if (x is None or (isinstance(x, float) and np.isnan(x))) and t != "float64" else x for x in v]
        arrays.append(pa.array(vals, type=schema.field(c).type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def table_path(settings: Settings, table: str, day: dt.date) -> Path:
    return settings.lake / MONITORING_DIR / table / f"dt={_day(day).isoformat()}" / DATA_FILE


def write_tables(day: dt.date, tables: DayTables, settings: Settings) -> dict[str, Path]:
    """Write each table to ``<lake>/monitoring/<table>/dt=D/data.parquet``: written to a temporary file in
    the same folder then renamed over the old one, so readers see the old or the new file, never half;
    a rerun of ``D`` replaces exactly its own partitions."""
    import pyarrow.parquet as pq

    out = {}
    for name, df in tables.items():
        out[name] = write_atomic(table_path(settings, name, day),
                                 lambda tmp, name=name, df=df: pq.write_table(_arrow(name, df), tmp))
    return out


def day_tables(day: dt.date, settings: Settings, ms: MonitorSettings | None = None,
               reference: tuple[dt.date, dt.date] | None = None) -> DayTables:
    """The monitoring facts for ``day``: ingest runs and quarantine of landing day ``day``, validation of
    ``day``, drift of ``day``'s feature partitions and batch scores, PSI/CSI by segment, and the resulting
    alerts."""
    ms = ms or get_monitor_settings()
    day = _day(day)
    drift = feature_drift(day, settings, ms, reference)
    scores = score_drift(day, settings, ms)
    segments = segment_drift(day, settings, ms, reference)
    return DayTables(
        volumes=volumes(settings, day, day), quarantine_reasons=quarantine_reasons(settings, day, day),
        validation=validation_results(settings, day, day), feature_drift=drift, score_drift=scores,
        segment_drift=segments, alerts=alerts_from(day, drift, freshness(day, settings, ms), ms, scores, segments))
