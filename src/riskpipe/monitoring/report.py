"""The self-contained HTML risk report of one date: inline CSS, plots as base64 PNG data URIs, no scripts.

Nothing is fetched when the file is opened (no CDN, no network): it can be mailed or archived as is.
Every section renders a clear "No data yet" note when its input does not exist yet.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskpipe.atomic import write_atomic
from riskpipe.monitoring import metrics as M
from riskpipe.monitoring import outcomes as O
from riskpipe.monitoring.config import MonitorSettings, get_monitor_settings

if TYPE_CHECKING:
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

#: Section ids in report order (the browser test checks each exists).
SECTIONS: list[tuple[str, str]] = [
    ("alerts", "Alerts"),
    ("pipeline", "Pipeline alerts"),
    ("volumes", "Data volumes"),
    ("quarantine", "Quarantine reasons"),
    ("validation", "Validation results"),
    ("drift", "Feature drift"),
    ("scores", "Score distribution"),
    ("vintage", "Model performance by vintage"),
    ("labels", "Label status"),
    ("outcomes", "Outcomes: realised performance, calibration, skew, segments"),
    ("early-warning", "Post-loan early warning"),
    ("fraud-rings", "Fraud rings"),
    ("models", "Champion and challenger models"),
]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d232a;max-width:1200px}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:2px solid #d0d7de;padding-bottom:4px;margin-top:32px}
.meta{color:#57606a}.nodata,.nodata-part{color:#57606a;font-style:italic;background:#f6f8fa;padding:8px 12px;border-radius:4px}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#f6f8fa}tr.alert td,td.alert{background:#ffd7d5}tr.warn td,td.warn{background:#fff1c2}
td.pass{background:#dafbe1}td.fail{background:#ffd7d5}img.plot{max-width:100%;display:block;margin:8px 0}
nav a{margin-right:12px}.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:.85em}
.badge.alert{background:#cf222e;color:#fff}.badge.warn{background:#bf8700;color:#fff}.badge.ok{background:#1a7f37;color:#fff}
"""


@dataclasses.dataclass
class ReportInputs:
    """Everything a report renders (computed by :func:`collect`)."""

    day: dt.date
    reference: tuple[dt.date, dt.date]
    reference_note: str
    history: tuple[dt.date, dt.date]
    tables: M.DayTables
    volumes: pd.DataFrame
    quarantine: pd.DataFrame
    validation: pd.DataFrame
    scores: pd.DataFrame | None
    scores_path: str | None
    vintage: pd.DataFrame
    early_warning: pd.DataFrame
    rings: pd.DataFrame
    models: pd.DataFrame
    models_note: str = ""
    monitor: MonitorSettings | None = None
    history_moves: pd.DataFrame | None = None  # alias moves (who, when, from/to, why, approvals)
    outcomes: Any = None  # riskpipe.monitoring.outcomes.OutcomeFacts
    pipeline_alerts: pd.DataFrame | None = None  # the DAGs' alerts of the day (pipeline_alerts)
    labels: pd.DataFrame | None = None  # label rows per table, date and status up to day (metrics.label_status)


@dataclasses.dataclass
class ReportResult:
    path: Path
    tables: dict[str, Path]
    alerts: list[dict[str, Any]]
    sections: dict[str, bool]  # section id -> has data


# ---- rendering helpers ---------------------------------------------------------------------------------
def _esc(x: Any) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    if isinstance(x, float):
        return f"{x:.4g}"
    return html.escape(str(x))


def html_table(df: pd.DataFrame, row_class: Callable[[pd.Series], str] | None = None,
               cell_class: Callable[[str, Any], str] | None = None, max_rows: int = 500) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = []
    for _, r in df.head(max_rows).iterrows():
        rc = row_class(r) if row_class else ""
        cells = "".join(
            f"<td class=\"{cell_class(c, r[c]) if cell_class else ''}\">{_esc(r[c])}</td>" for c in df.columns)
        body.append(f"<tr class=\"{rc}\">{cells}</tr>")
    more = f"<p class=\"meta\">{len(df) - max_rows} more rows not shown</p>" if len(df) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def nodata(what: str, cls: str = "nodata") -> str:
    """The note of a section without input (class ``nodata``) or of a part of one (``nodata-part``)."""
    return f"<p class=\"{cls}\">No data yet: {html.escape(what)}</p>"


def png(fig) -> str:  # noqa: ANN001
    """The figure as an <img> with a base64 PNG data URI (closes the figure)."""
    from riskpipe.models.evaluate import _plt

    plt = _plt()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img class=\"plot\" alt=\"plot\" src=\"data:image/png;base64,{data}\">"


def _plt():
    from riskpipe.models.evaluate import _plt as plt

    return plt()


# ---- sections -------------------------------------------------------------------------------------------
def group_alerts(a: pd.DataFrame) -> pd.DataFrame:
    """One row per kind, severity, subject (its ``[segment=value]`` part set aside) and metric: how many
    alerts, in which segments, the worst value and its threshold; critical first, then the most alerts."""
    cols = ["kind", "severity", "subject", "metric", "alerts", "segments", "worst_value", "threshold"]
    if a.empty:
        return pd.DataFrame(columns=cols)
    subj = a["subject"].astype(str)
    split = subj.str.extract(r"^(?P<base>.*?)(?:\[(?P<segment>[^\]]*)\])?$")
    g = a.assign(subject=split["base"], segment=split["segment"], value=pd.to_numeric(a["value"], errors="coerce"))
    rows = []
    for (kind, sev, sub, metric), part in g.groupby(["kind", "severity", "subject", "metric"], sort=False, dropna=False):
        segs = sorted(str(v) for v in part["segment"].dropna().unique())
        worst = part["value"].abs().max() if part["value"].notna().any() else np.nan
        rows.append({"kind": kind, "severity": sev, "subject": sub, "metric": metric, "alerts": len(part),
                     "segments": ", ".join(segs), "worst_value": worst, "threshold": part["threshold"].iloc[0]})
    out = pd.DataFrame(rows, columns=cols)
    out["_crit"] = out["severity"] != "critical"
    return (out.sort_values(["_crit", "alerts", "kind", "subject"], ascending=[True, False, True, True], kind="stable")
            .drop(columns="_crit").reset_index(drop=True))


def sec_alerts(x: ReportInputs) -> tuple[str, bool]:
    a = x.tables.alerts
    if a.empty:
        return "<p><span class=\"badge ok\">no breaches</span> no drift or freshness threshold breached for "\
               f"{x.day}</p>", True
    crit, warn = int((a["severity"] == "critical").sum()), int((a["severity"] == "warning").sum())
    badges = f"<p><span class=\"badge alert\">{crit} critical</span> <span class=\"badge warn\">{warn} warning</span></p>"
    grouped = group_alerts(a)
    sev = lambda r: "alert" if r["severity"] == "critical" else "warn"  # noqa: E731
    return (badges + f"<p class=\"meta\">{len(a)} alerts on {len(grouped)} subjects (segment alerts of one "
            "subject together; every alert below)</p>" + html_table(grouped, row_class=sev)
            + f"<details><summary>All {len(a)} alerts</summary>"
            + html_table(a[["kind", "severity", "subject", "metric", "value", "threshold", "message"]], row_class=sev)
            + "</details>"), True


#: alerts the DAGs record in <runs>/alerts.jsonl that the report does not compute itself (drift, freshness
#: and outcome breaches it does: they are in the Alerts section)
PIPELINE_KINDS = ("task_failed", "task_retry", "deadline_missed", "labels_held_back")
PIPELINE_COLUMNS = ["recorded_at", "kind", "severity", "dag_id", "task_id", "try_number", "message"]


def pipeline_alerts(day: dt.date, settings: Settings) -> pd.DataFrame:
    """The DAGs' alerts of feature date ``day``, oldest first: those naming it as their feature date
    (labels held back) and those of runs for the landing day it completes (logical date ``day`` - 1:
    failed tasks, retries, missed deadlines)."""
    from riskpipe.orchestration.alerts import ALERTS_FILE

    path = settings.runs / ALERTS_FILE
    rows = []
    if path.is_file():
        landing_day = (day - dt.timedelta(days=1)).isoformat()
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a torn last line of a crashed writer: the rest still shows
                continue
            if r.get("kind") in PIPELINE_KINDS and (
                    r.get("feature_date") == day.isoformat() or str(r.get("logical_date") or "")[:10] == landing_day):
                rows.append(r)
    return pd.DataFrame(rows).reindex(columns=PIPELINE_COLUMNS)


def sec_pipeline(x: ReportInputs) -> tuple[str, bool]:
    a = x.pipeline_alerts
    if a is None or a.empty:
        return nodata(f"no failed task, retry, missed deadline or held-back label recorded for {x.day} "
                      f"(the DAGs' alerts file, runs for landing day {x.day - dt.timedelta(days=1)})."), False
    sev = lambda r: "alert" if r["severity"] == "error" else "warn"  # noqa: E731
    errors = int((a["severity"] == "error").sum())
    return (f"<p><span class=\"badge alert\">{errors} error</span> <span class=\"badge warn\">{len(a) - errors} "
            f"warning</span></p><p class=\"meta\">recorded by the DAGs' callbacks and tasks for feature date "
            f"{x.day} (landing day {x.day - dt.timedelta(days=1)}); the same records as the alerts file</p>"
            + html_table(a, row_class=sev)), True


def sec_volumes(x: ReportInputs) -> tuple[str, bool]:
    v = x.volumes
    if v.empty:
        return nodata(f"no ingest run metadata between {x.history[0]} and {x.history[1]} "
                      "(riskpipe ingest writes <lake>/_runs/ingest)."), False
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, g in v.groupby("dataset"):
        g = g.sort_values("landing_date")
        axes[0].plot(pd.to_datetime(g["landing_date"]), g["rows_written"], marker="o", label=name)
        axes[1].plot(pd.to_datetime(g["landing_date"]), g["rows_quarantined"], marker="o", label=name)
    axes[0].set(title="rows written to silver per landing day", ylabel="rows")
    axes[1].set(title="rows quarantined per landing day", ylabel="rows")
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=30)
    axes[0].legend(fontsize=7)
    totals = (v.groupby("dataset")[["rows_read", "rows_written", "rows_quarantined", "duplicates_dropped"]]
              .sum().reset_index())
    today = v[v["landing_date"] == x.day]
    return (png(fig) + "<h3>Totals over the window</h3>" + html_table(totals)
            + f"<h3>Landing day {x.day}</h3>"
            + (html_table(today.drop(columns=["run_id"])) if len(today) else nodata(f"no ingest run for {x.day}.", "nodata-part"))
            ), True


def sec_quarantine(x: ReportInputs) -> tuple[str, bool]:
    q = x.quarantine
    if q.empty:
        return nodata("no quarantined records in the window (or nothing ingested yet)."), False
    plt = _plt()
    pivot = q.pivot_table(index="dataset", columns="reason", values="rows", aggfunc="sum", fill_value=0)
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.45 * len(pivot) + 1.5)))
    left = np.zeros(len(pivot))
    for reason in pivot.columns:
        ax.barh(pivot.index, pivot[reason], left=left, label=reason)
        left += pivot[reason].to_numpy()
    ax.set(title=f"quarantined rows by reason, {x.history[0]} .. {x.history[1]}", xlabel="rows")
    ax.legend(fontsize=7, loc="lower right")
    over_time = q.groupby(["dataset", "landing_date", "reason"])["rows"].sum().reset_index()
    return png(fig) + html_table(over_time.sort_values(["landing_date", "dataset", "reason"])), True


def sec_validation(x: ReportInputs) -> tuple[str, bool]:
    v = x.validation
    if v.empty:
        return nodata("no Great Expectations validation summaries in the window "
                      "(riskpipe validate writes <lake>/_runs/validate)."), False
    grid = v.pivot_table(index="dataset", columns="day", values="passed", aggfunc="first")
    grid.columns = [str(c) for c in grid.columns]
    grid = grid.reset_index()
    out = "<h3>Pass/fail per dataset and date</h3>" + html_table(
        grid.replace({True: "pass", False: "FAIL"}),
        cell_class=lambda c, val: "pass" if val == "pass" else "fail" if val == "FAIL" else "")
    bad = v[(~v["passed"].astype(bool)) | (v["warning_checks"].astype(str) != "")]
    out += "<h3>Failing expectations</h3>"
    out += (html_table(bad[["dataset", "day", "passed", "rows", "failed_checks", "warning_checks", "failures"]],
                       row_class=lambda r: "warn" if r["passed"] else "alert")
            if len(bad) else "<p>every expectation passed in the window.</p>")
    return out, True


def sec_drift(x: ReportInputs) -> tuple[str, bool]:
    d = x.tables.feature_drift
    ms = x.monitor or get_monitor_settings()
    if d.empty:
        return nodata(f"no feature partition for {x.day} with a reference partition in {x.reference[0]} .. "
                      f"{x.reference[1]} ({x.reference_note})."), False
    plt = _plt()
    out = (f"<p class=\"meta\">PSI of {x.day} against {x.reference_note} ({x.reference[0]} .. {x.reference[1]}); "
           f"warn at {ms.psi_warn}, alert at {ms.psi_alert}. Highlighted rows breach a threshold.</p>")
    for table, g in d.groupby("table", sort=False):
        g = g.sort_values("psi", ascending=False, na_position="last")
        judged = g[np.isfinite(g["psi"].astype(float))]
        out += f"<h3>{html.escape(table)}</h3>"
        if len(judged):
            fig, ax = plt.subplots(figsize=(10, max(2.2, 0.22 * len(judged) + 1.2)))
            colors = ["#cf222e" if s == "alert" else "#bf8700" if s == "warn" else "#1a7f37" for s in judged["status"]]
            ax.barh(judged["feature"][::-1], judged["psi"].astype(float)[::-1], color=colors[::-1])
            ax.axvline(ms.psi_warn, color="#bf8700", ls="--", lw=1)
            ax.axvline(ms.psi_alert, color="#cf222e", ls="--", lw=1)
            ax.set(title=f"PSI per feature - {table}", xlabel="PSI")
            ax.tick_params(axis="y", labelsize=7)
            out += png(fig)
        out += html_table(g.drop(columns=["table", "day"]),
                          row_class=lambda r: r["status"] if r["status"] in ("warn", "alert") else "")
    return out, True


def _score_drift_html(x: ReportInputs) -> str:
    d = x.tables.score_drift
    if d is None or d.empty:
        return ""
    ms = x.monitor or get_monitor_settings()
    return (f"<h3>Score drift</h3><p class=\"meta\">PSI of each model's batch scores on {x.day} against its own "
            f"earlier scores of the same version (warn at {ms.psi_warn}, alert at {ms.psi_alert}).</p>"
            + html_table(d.drop(columns=["day"]),
                         row_class=lambda r: r["status"] if r["status"] in ("warn", "alert") else ""))


def sec_scores(x: ReportInputs) -> tuple[str, bool]:
    s = x.scores
    if s is None or s.empty or "probability" not in s.columns:
        drift = _score_drift_html(x)
        if drift:
            return drift, True
        return nodata("no batch scores given (riskpipe report --scores <riskpipe score --out parquet>)."), False
    plt = _plt()
    summ = M.score_summary(s)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    col = "score" if "score" in s.columns else "probability"
    axes[0].hist(s[col].astype(float), bins=40, color="#0969da")
    axes[0].set(title=f"{col} distribution ({len(s):,} rows)", xlabel=col, ylabel="rows")
    colors = {"approve": "#1a7f37", "refer": "#bf8700", "decline": "#cf222e"}
    axes[1].bar(summ["band"], summ["rows"], color=[colors.get(b, "#57606a") for b in summ["band"]])
    axes[1].set(title="decision bands", ylabel="rows")
    return (f"<p class=\"meta\">scores: {html.escape(x.scores_path or '')}</p>" + png(fig) + html_table(summ)
            + _score_drift_html(x)), True


def sec_vintage(x: ReportInputs) -> tuple[str, bool]:
    v = x.vintage
    if v.empty:
        why = ("no batch scores given" if x.scores is None else
               "no label rows (label_credit_pd / label_fraud) match the scored ids yet")
        return nodata(f"{why}; performance by vintage needs scores and matured labels."), False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(v["vintage"], v["auc"], marker="o", label="AUC")
    ax.plot(v["vintage"], v["ks"], marker="s", label="KS")
    ax.plot(v["vintage"], v["gini"], marker="^", label="Gini")
    ax.set(title=f"performance by application month ({v['label_table'].iloc[0]})",
           ylim=(min(0.0, float(np.nanmin(v["gini"].astype(float).to_numpy(), initial=0.0))), 1))
    ax.legend()
    return png(fig) + html_table(v), True


def sec_outcomes(x: ReportInputs) -> tuple[str, bool]:
    o, seg = x.outcomes, x.tables.segment_drift
    ms = x.monitor or get_monitor_settings()
    has_out = o is not None and not o.performance.empty
    if not has_out and seg.empty:
        return nodata(f"no outcomes up to {x.day} (riskpipe outcomes --date D joins logged decisions with "
                      "their labels) and no segment to compare."), False
    plt = _plt()
    out = ""
    if has_out:
        p = o.performance
        names = [f"{m} v{v}" for m, v in zip(p["model_name"], p["model_version"], strict=True)]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        pos = np.arange(len(p))
        axes[0].bar(pos - 0.2, p["auc"].astype(float), 0.4, label="AUC")
        axes[0].bar(pos + 0.2, p["ks"].astype(float), 0.4, label="KS")
        axes[0].axhline(ms.min_ks, color="#cf222e", ls="--", lw=1)
        axes[0].set(title="realised AUC / KS per served version", xticks=pos, xticklabels=names, ylim=(0, 1))
        axes[0].legend(fontsize=7)
        grades = o.calibration[o.calibration["grading"] == "score_grade"]
        for (m, v), g in grades.groupby(["model_name", "model_version"]):
            axes[1].plot(g["mean_predicted"], g["observed"], marker="o", label=f"{m} v{v}")
        axes[1].plot([0, 1], [0, 1], color="#57606a", ls=":", lw=1)
        axes[1].set(title="calibration by score grade", xlabel="mean predicted", ylabel="observed bad rate")
        axes[1].legend(fontsize=7)
        out += (f"<p class=\"meta\">champion decisions joined to their matured labels up to {x.day}; alerts below "
                f"KS {ms.min_ks} / Gini {ms.min_gini}, above a calibration gap of {ms.max_calibration_gap}.</p>"
                + png(fig) + "<h3>Realised performance</h3>" + html_table(p)
                + "<h3>Bad rate by band</h3>" + html_table(o.bands)
                + "<h3>Calibration by grade</h3>" + html_table(
                    o.calibration, row_class=lambda r: "alert" if r["rows"] >= ms.min_rows
                    and r["gap"] > ms.max_calibration_gap else ""))
    else:
        out += nodata(f"no outcomes up to {x.day} (riskpipe outcomes).", "nodata-part")
    out += "<h3>Served vs offline features</h3>"
    if o is not None and not o.skew.empty:
        out += (f"<p class=\"meta\">decisions of {x.day}: share of served values that differ from Feast's "
                f"point-in-time values (alert above {ms.skew_max_mismatch_share}).</p>"
                + html_table(o.skew.sort_values("mismatch_share", ascending=False),
                             row_class=lambda r: "alert" if r["status"] == "alert" else ""))
    else:
        out += nodata(f"no skew comparison for the decisions of {x.day}.", "nodata-part")
    out += f"<h3>PSI / CSI by {html.escape(ms.segment_column)}</h3>"
    if not seg.empty:
        judged = seg[np.isfinite(seg["psi"].astype(float))]
        if len(judged):
            top = judged.groupby(["kind", "segment"])["psi"].max().unstack("kind").fillna(0.0)
            fig, ax = plt.subplots(figsize=(10, max(2.2, 0.3 * len(top) + 1.2)))
            top.plot.barh(ax=ax)
            ax.axvline(ms.max_segment_psi, color="#cf222e", ls="--", lw=1)
            ax.set(title=f"largest score PSI / feature CSI per {ms.segment_column}", xlabel="PSI")
            out += png(fig)
        out += html_table(seg.sort_values("psi", ascending=False, na_position="last").drop(columns=["day"]),
                          row_class=lambda r: "alert" if r["status"] == "alert" else "", max_rows=50)
    else:
        out += nodata(f"no {ms.segment_column} segment in the decisions or feature tables of {x.day}.", "nodata-part")
    return out, True


def sec_early_warning(x: ReportInputs) -> tuple[str, bool]:
    e = x.early_warning
    if e is None or e.empty:
        return nodata(f"no loan_early_warning_daily partition for {x.day}, or no active loan triggers a rule."), False
    rules = ", ".join(f"{n} (+{p:g})" for n, p, _ in M.EW_RULES)
    return (f"<p class=\"meta\">Rule-based ranking (no early-warning model yet); points: {html.escape(rules)}.</p>"
            + html_table(e, row_class=lambda r: "alert" if r["risk_points"] >= 4 else "warn")), True


def sec_rings(x: ReportInputs) -> tuple[str, bool]:
    r = x.rings
    if r is None or r.empty:
        return nodata(f"no customer_graph_daily partition for {x.day} (riskpipe graph), or no shared component."), False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.3 * len(r) + 1.2)))
    labels = [str(c)[:18] for c in r["component_id"]][::-1]
    share = r["component_bad_share"].astype(float).to_numpy()[::-1]
    ax.barh(labels, r["component_size"].to_numpy()[::-1], color=plt.cm.Reds(0.25 + 0.75 * np.nan_to_num(share)))
    for i, (n, b) in enumerate(zip(r["component_size"].to_numpy()[::-1], share, strict=True)):
        ax.text(n, i, f"  bad {b:.0%}", va="center", fontsize=7)
    ax.set(title=f"largest components on {x.day} (colour: bad share)", xlabel="customers")
    ax.tick_params(axis="y", labelsize=7)
    return png(fig) + html_table(r, row_class=lambda q: "alert" if q["component_bad_share"] >= 0.5 else ""), True


def sec_models(x: ReportInputs) -> tuple[str, bool]:
    m, h = x.models, x.history_moves
    moves = ""
    if h is not None and not h.empty:
        moves = (f"<h3>Alias history</h3><p class=\"meta\">the newest {len(h)} alias moves up to {x.day}, newest "
                 "first (riskpipe model-history --model-name M shows one model's)</p>"
                 + html_table(h, row_class=lambda r: "warn" if r["action"] in ("rollback", "approval_requested")
                              else ""))
    if m is None or m.empty:
        if moves:
            return moves, True
        return nodata(x.models_note or "no champion or challenger registered in MLflow yet."), False
    return html_table(m) + moves, True


#: bar colours of the label statuses (others: matplotlib's cycle)
STATUS_COLOURS = {"bad": "#cf222e", "good": "#1a7f37", "indeterminate": "#8c959f", "unresolved": "#bf8700"}


def sec_labels(x: ReportInputs) -> tuple[str, bool]:
    lab = x.labels
    if lab is None or lab.empty:
        return nodata(f"no label partition up to {x.day} (a label row appears once its performance window has "
                      "closed within the lake)."), False
    plt = _plt()
    tables = sorted(lab["label_table"].unique())
    fig, axes = plt.subplots(len(tables), 1, figsize=(10, 2.8 * len(tables)), squeeze=False)
    for ax, table in zip(axes[:, 0], tables, strict=True):
        pivot = lab[lab["label_table"] == table].pivot_table(index="feature_date", columns="label_status",
                                                             values="rows", aggfunc="sum", fill_value=0)
        bottom = np.zeros(len(pivot))
        dates = pd.to_datetime(pd.Series(pivot.index))
        for status in pivot.columns:
            ax.bar(dates, pivot[status], bottom=bottom, label=status, color=STATUS_COLOURS.get(status))
            bottom += pivot[status].to_numpy()
        ax.set(title=f"{table}: rows by label status per feature date", ylabel="rows")
        ax.legend(fontsize=7, loc="upper left")
        ax.tick_params(axis="x", labelrotation=30)
    totals = lab.pivot_table(index="label_table", columns="label_status", values="rows", aggfunc="sum",
                             fill_value=0)
    totals["rows"] = totals.sum(axis=1)
    held = totals["unresolved"] if "unresolved" in totals else 0
    totals["unresolved_share"] = held / totals["rows"]
    return (png(fig) + "<p class=\"meta\">unresolved: not bad by what the lake knows, but a payment record in "
            "quarantine could make it bad (label null, never trained on); it resolves when a corrected record "
            "lands and the date is rebuilt</p>" + html_table(totals.reset_index())), True


RENDER = {"alerts": sec_alerts, "pipeline": sec_pipeline, "volumes": sec_volumes, "quarantine": sec_quarantine, "validation": sec_validation,
          "drift": sec_drift, "scores": sec_scores, "vintage": sec_vintage, "labels": sec_labels,
          "outcomes": sec_outcomes, "early-warning": sec_early_warning,
          "fraud-rings": sec_rings, "models": sec_models}


def render_page(title: str, meta: str, sections: list[tuple[str, str]], renderers: dict[str, Callable[[Any], tuple[str, bool]]],
                x: Any, on_section: Callable[[str], None] | None = None, css: str = "") -> tuple[str, dict[str, bool]]:
    """A self-contained page of ``sections`` (id, title) rendered by ``renderers[id](x)``, with a
    navigation bar; returns the HTML and which sections had data. ``meta`` is HTML (escape it)."""
    parts, has = [], {}
    for sid, heading in sections:
        if on_section:
            on_section(sid)
        try:
            body, ok = renderers[sid](x)
        except Exception as err:  # noqa: BLE001 - one broken section must not hide the others
            log.exception("section %s of %r failed", sid, title)
            body, ok = f"<p class=\"nodata\">This section could not be rendered: {html.escape(repr(err))}</p>", False
        has[sid] = ok
        parts.append(f"<section id=\"{sid}\"><h2>{html.escape(heading)}</h2>{body}</section>")
    nav = "".join(f"<a href=\"#{sid}\">{html.escape(t)}</a>" for sid, t in sections)
    doc = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}{css}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class=\"meta\">generated {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}{meta}</p>"
        f"<nav>{nav}</nav>{''.join(parts)}</body></html>\n"
    )
    return doc, has


def render(x: ReportInputs, on_section: Callable[[str], None] | None = None) -> tuple[str, dict[str, bool]]:
    """The whole HTML document and which sections had data."""
    meta = (f"; history {x.history[0]} .. {x.history[1]}; drift reference {x.reference[0]} .. {x.reference[1]} "
            f"({html.escape(x.reference_note)})")
    return render_page(f"riskpipe risk report {x.day}", meta, SECTIONS, RENDER, x, on_section)


# ---- orchestration --------------------------------------------------------------------------------------
def collect(day: dt.date, settings: Settings, ms: MonitorSettings | None = None, *,
            scores: Path | None = None, model_name: str | None = None,
            reference: tuple[dt.date, dt.date] | None = None,
            on_step: Callable[[str], None] | None = None) -> ReportInputs:
    """Compute every input of the report for ``day``."""
    ms = ms or get_monitor_settings()
    step = on_step or (lambda _: None)
    model_name = model_name or ms.reference_model
    note = "given window"
    if reference is None and model_name:
        step("training window")
        reference = M.training_window(model_name, settings)
        note = f"training window of {model_name}" if reference else f"{ms.reference_days} days before {day} " \
                                                                    f"(no training window found for {model_name})"
    elif reference is None:
        note = f"the {ms.reference_days} days before {day}"
    ref = M.reference_window(day, ms, reference)
    hist = (day - dt.timedelta(days=ms.history_days), day)
    step("monitoring facts")
    tables = M.day_tables(day, settings, ms, ref)
    step("history")
    vol = M.volumes(settings, *hist)
    qr = M.quarantine_reasons(settings, *hist)
    val = M.validation_results(settings, *hist)
    step("scores")
    sc = pd.read_parquet(scores) if scores is not None and Path(scores).is_file() else None
    if scores is not None and sc is None:
        log.warning("scores file %s does not exist: score sections left empty", scores)
    vint = M.vintage_performance(sc, M.read_labels(settings, day)) if sc is not None and "probability" in sc else \
        pd.DataFrame()
    step("outcomes")
    facts = O.outcome_facts(day, settings, ms)
    extra = O.discrimination_alerts(day, vint, ms, "vintage_performance",
                                    lambda r: f"{r['label_table']} {r['vintage']}", "labelled") if len(vint) else []
    tables.alerts = pd.concat([a for a in (tables.alerts, facts.alerts, M._frame("alerts", extra)) if len(a)]
                              or [tables.alerts], ignore_index=True)
    step("early warning and rings")
    ew = M.early_warning(day, settings, ms.early_warning_top)
    rings = M.fraud_rings(day, settings, ms.rings_top)
    step("models")
    models_note = ""
    try:
        models = M.model_aliases(settings)
    except Exception as err:  # noqa: BLE001 - graceful when MLflow is unreachable
        log.warning("MLflow registry not readable: %s", err)
        models, models_note = pd.DataFrame(), f"MLflow registry not readable ({err})."
    try:
        moves = M.alias_history(settings, until=day)
    except Exception as err:  # noqa: BLE001 - an unreadable history file must not cost the whole report
        log.warning("alias history not readable: %s", err)
        moves = None
    step("pipeline alerts")
    return ReportInputs(day=day, reference=ref, reference_note=note, history=hist, tables=tables, volumes=vol,
                        quarantine=qr, validation=val, scores=sc, scores_path=str(scores) if scores else None,
                        vintage=vint, early_warning=ew, rings=rings, models=models, models_note=models_note,
                        monitor=ms, history_moves=moves, outcomes=facts,
                        pipeline_alerts=pipeline_alerts(day, settings), labels=M.label_status(settings, None, day))


def default_path(settings: Settings, day: dt.date) -> Path:
    return settings.reports / f"risk_report_{day.isoformat()}.html"


def build_report(day: dt.date | str, settings: Settings | None = None, ms: MonitorSettings | None = None, *,
                 out: Path | None = None, scores: Path | None = None, model_name: str | None = None,
                 reference: tuple[dt.date, dt.date] | None = None, write_tables: bool = True,
                 on_step: Callable[[str], None] | None = None) -> ReportResult:
    """Collect, write the monitoring tables of ``day`` and the HTML report (atomically); see module doc."""

    from riskpipe.settings import get_settings

    s = settings or get_settings()
    ms = ms or get_monitor_settings()
    day = M._day(day)
    x = collect(day, s, ms, scores=scores, model_name=model_name, reference=reference, on_step=on_step)
    paths = M.write_tables(day, x.tables, s) if write_tables else {}
    doc, has = render(x, on_section=(lambda sid: on_step(f"render {sid}")) if on_step else None)
    path = write_atomic(Path(out) if out else default_path(s, day), lambda tmp: tmp.write_text(doc, encoding="utf-8"))
    alerts = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
              for r in x.tables.alerts.to_dict("records")]
    return ReportResult(path=path, tables=paths, alerts=alerts, sections=has)
