"""Outcomes: the champion's served decisions joined to their matured labels, and what they tell.

``riskpipe outcomes --date D`` reads the champion decisions of decision day ``D`` from the decision log
(:mod:`riskpipe.models.decisions`), finds each one's entity in the request (``application_id`` for
credit_pd, ``txn_id`` for fraud, ``loan_id`` for early_warning: the model's label key, see
:data:`riskpipe.models.flows.MODEL_SPECS`) and joins the label row of the model's label table known by
``as_of``. Every champion decision is kept, with a ``status``: ``matured`` (label joined), ``pending``
(no label known yet: counted, joined again on a later run) or ``no_key`` (the request carried no
entity id, so no label can ever be joined). Output: ``<lake>/outcomes/model=<m>/dt=D/data.parquet``,
written to a temporary file and renamed, rows ordered by ``decision_id``: a rerun on the same inputs
writes the same bytes.

The same run can compare the features as served (the decision's ``features`` JSON) with the offline
point-in-time values of the same entity at ``decided_at`` (Feast, through
:func:`riskpipe.features.training.build_training_set`): ``skew.parquet`` next to ``data.parquet``.

Realised performance (AUC, KS, Gini, bad rate by band, calibration by grade) is computed from the
matured outcomes per model version; breaches of the ``RISKPIPE_MONITOR_*`` thresholds become alert
rows in the shape of :data:`riskpipe.monitoring.metrics.SCHEMAS` ``alerts``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from riskpipe.atomic import write_atomic
from riskpipe.errors import RiskpipeError
from riskpipe.features.tables import DATA_FILE, partition_dates
from riskpipe.monitoring import metrics as M
from riskpipe.monitoring.config import MonitorSettings, get_monitor_settings
from riskpipe.orchestration.monitoring import partitions

if TYPE_CHECKING:
    from riskpipe.models.flows import ModelSpec
    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

OUTCOMES_DIR = "outcomes"
SKEW_FILE = "skew.parquet"
#: label tables with one row per entity and day (the others: one row per entity); joined on the key
#: and the decision's day
PER_DAY_LABELS = frozenset({"label_early_warning"})
MATURED, PENDING, NO_KEY = "matured", "pending", "no_key"
#: Parquet metadata key of an outcomes partition: what it was joined with (as_of, label fingerprint, counts)
META_KEY = "riskpipe.outcomes"

COLUMNS: dict[str, str] = {
    "decision_id": "string", "decided_at": "timestamp", "model_name": "string", "model_version": "string",
    "feature_service": "string", "entity_key": "string", "entity_id": "string", "probability": "float64",
    "score": "float64", "band": "string", "status": "string", "label": "int64", "label_feature_ts": "timestamp",
    "label_known_at": "timestamp",
}
SKEW_COLUMNS: dict[str, str] = {
    "model_name": "string", "model_version": "string", "decision_day": "date32", "feature": "string",
    "rows_compared": "int64", "mismatches": "int64", "mismatch_share": "float64", "max_abs_diff": "float64",
    "tolerance": "float64", "status": "string",
}


class OutcomesError(RiskpipeError):
    """Decisions or labels cannot be joined (none logged, unknown endpoint, ambiguous labels)."""


class NoDecisions(OutcomesError):
    """No champion decision of the model on that day."""


@dataclasses.dataclass
class OutcomeResult:
    model: str
    day: dt.date
    path: Path
    rows: int
    matured: int
    pending: int
    no_key: int
    skew_path: Path | None = None
    skew: pd.DataFrame | None = None
    #: False when refresh_outcomes kept a settled partition as it was (see :func:`settled`)
    rejoined: bool = True

    def summary(self) -> dict[str, Any]:
        out = {"model": self.model, "day": self.day.isoformat(), "path": str(self.path), "rows": self.rows,
               "matured": self.matured, "pending": self.pending, "no_key": self.no_key, "rejoined": self.rejoined}
        if self.skew is not None:
            out["skew_path"] = str(self.skew_path)
            out["skew_alerts"] = int((self.skew["status"] == "alert").sum())
        return out


# ---- reading ------------------------------------------------------------------------------------------
def outcomes_root(settings: Settings) -> Path:
    return settings.lake / OUTCOMES_DIR


def partition_dir(settings: Settings, model: str, day: dt.date) -> Path:
    return outcomes_root(settings) / f"model={model}" / f"dt={day.isoformat()}"


def decision_days(settings: Settings, model: str) -> list[dt.date]:
    """Days with logged decisions of ``model``."""
    return partitions(settings.decisions / f"model={model}")


def logged_models(settings: Settings) -> list[str]:
    root = settings.decisions
    return sorted(p.name.split("=", 1)[1] for p in root.glob("model=*") if p.is_dir()) if root.is_dir() else []


def champion_decisions(settings: Settings, model: str, day: dt.date) -> pd.DataFrame:
    """The champion (served) decisions of ``model`` on ``day``; an error naming the folder when none."""
    from riskpipe.models.decisions import read_decisions

    df = read_decisions(settings.decisions, model=model, day=day)
    df = df[df["role"] == "champion"] if len(df) else df
    if df.empty:
        raise NoDecisions(f"no champion decisions of {model!r} on {day} under "
                            f"{settings.decisions / f'model={model}' / f'dt={day.isoformat()}'}")
    return df.drop(columns=[c for c in ("model", "dt") if c in df.columns]).reset_index(drop=True)


def spec_of(decisions: pd.DataFrame) -> ModelSpec:
    """The model spec (label table, key, feature service) of the endpoint that served the decisions."""
    from riskpipe.models.flows import MODEL_SPECS

    endpoints = sorted(set(decisions["endpoint"].astype(str)))
    if len(endpoints) != 1 or endpoints[0] not in MODEL_SPECS:
        raise OutcomesError(f"decisions of {decisions['model_name'].iloc[0]!r} were served by endpoint(s) "
                            f"{endpoints}; expected one of {', '.join(MODEL_SPECS)}")
    return MODEL_SPECS[endpoints[0]]


def _labels(settings: Settings, spec: ModelSpec, as_of: dt.datetime | None) -> pd.DataFrame:
    """The label rows known by ``as_of`` (all present when None), keyed by ``entity_id`` (and ``_day`` for
    daily label tables); two rows for one observation are an error, not a guess."""
    days = partition_dates(settings.features, spec.label_table)
    lab = M.read_partitions(settings.features, spec.label_table, days, [spec.key, "feature_ts", "label",
                                                                        "label_known_at"])
    cols = ["entity_id", "_day", "label", "label_feature_ts", "label_known_at", "_dt"]
    if lab.empty:
        return pd.DataFrame(columns=cols)
    if as_of is not None:
        lab = lab[pd.to_datetime(lab["label_known_at"], utc=True) <= pd.Timestamp(as_of)]
    lab = lab.assign(entity_id=lab[spec.key].astype(str), _day=pd.to_datetime(lab["feature_ts"]).dt.date)
    lab = lab.rename(columns={"feature_ts": "label_feature_ts"})[cols]
    ident = ["entity_id"] + (["_day"] if spec.label_table in PER_DAY_LABELS else [])
    dup = lab.duplicated(ident, keep=False)
    if dup.any():
        raise OutcomesError(f"{spec.label_table}: {int(dup.sum())} label rows share their observation "
                            f"({spec.key}{' and day' if len(ident) > 1 else ''}), e.g. {spec.key}="
                            f"{lab.loc[dup, 'entity_id'].iloc[0]!r}; cannot tell which outcome applies")
    return lab


def labels_fingerprint(settings: Settings, spec: ModelSpec) -> dict[str, str]:
    """Per partition of the model's label table (``YYYY-MM-DD``), the signature of its files (name, size,
    modification time): it changes when the partition is rebuilt."""
    root = settings.features / spec.label_table
    out: dict[str, list[str]] = {}
    for f in sorted(root.glob("dt=*/*.parquet")) if root.is_dir() else []:
        st = f.stat()
        out.setdefault(f.parent.name.split("=", 1)[1], []).append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return {k: ",".join(v) for k, v in out.items()}


def _entity_id(request: str, key: str) -> str | None:
    value = json.loads(request).get(key) if request else None
    return None if value is None else str(value)


# ---- the join -----------------------------------------------------------------------------------------
def join(decisions: pd.DataFrame, labels: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Champion decisions with their label (``COLUMNS``): matured, pending or no_key; none dropped."""
    return _join(decisions, labels, spec)[list(COLUMNS)]


def _join(decisions: pd.DataFrame, labels: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """:func:`join` with the label partition (``_dt``) each matured outcome was found in."""
    d = decisions.copy()
    d["entity_key"] = spec.key
    d["entity_id"] = [_entity_id(r, spec.key) for r in d["request"]]
    d["decided_at"] = pd.to_datetime(d["decided_at"], utc=True)
    on = ["entity_id"]
    if spec.label_table in PER_DAY_LABELS:
        d["_day"] = d["decided_at"].dt.date
        on.append("_day")
    lab = labels[[*on, "label", "label_feature_ts", "label_known_at", "_dt"]]
    j = d.merge(lab, on=on, how="left", validate="many_to_one")
    j["status"] = np.where(j["entity_id"].isna(), NO_KEY, np.where(j["label"].isna(), PENDING, MATURED))
    j["label"] = j["label"].astype("Int64")
    return j[[*COLUMNS, "_dt"]].sort_values("decision_id", kind="stable").reset_index(drop=True)


def _arrow(df: pd.DataFrame, columns: dict[str, str]):
    import pyarrow as pa

    types = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "date32": pa.date32(),
             "timestamp": pa.timestamp("us", tz="UTC")}
    arrays = []
    for c, t in columns.items():
        v = df[c]
        if t == "timestamp":
            v = pd.to_datetime(v, utc=True)
        elif t == "string":
            v = v.astype(object).where(v.notna(), None).map(lambda x: x if x is None else str(x))
        arrays.append(pa.array(v, type=types[t], from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema([(c, types[t]) for c, t in columns.items()]))


def _publish(table: Any, path: Path, meta: dict[str, Any] | None = None) -> None:
    import pyarrow.parquet as pq

    if meta is not None:
        table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True)})
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def _meta(path: Path) -> dict[str, Any] | None:
    """What an outcomes partition was joined with (``META_KEY`` in its Parquet metadata), if readable."""
    import pyarrow.parquet as pq

    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY.encode())
        return json.loads(raw) if raw else None
    except (OSError, ValueError):
        return None


def settled(path: Path, as_of: dt.datetime | None, fingerprint: dict[str, str]) -> dict[str, Any] | None:
    """The join facts of the outcomes partition at ``path`` when joining it again with the labels known
    by ``as_of`` would write the same rows, else None: nothing was pending, it was joined by a time no
    later than ``as_of`` (labels known then are still known) and none of the label partitions its
    outcomes came from has been rebuilt since (same signature in :func:`labels_fingerprint`). A label
    row of the same observation appearing in another partition would make the join ambiguous; the days
    still joined raise that error."""
    meta = _meta(path) if path.is_file() else None
    if not meta or meta.get("pending") != 0 or not isinstance(meta.get("label_partitions"), dict):
        return None
    if any(fingerprint.get(p) != sig for p, sig in meta["label_partitions"].items()):
        return None
    then = meta.get("as_of")
    if then is None:  # joined with every label: settled only for another join with every label
        return meta if as_of is None else None
    return meta if as_of is None or dt.datetime.fromisoformat(then) <= as_of else None


def join_outcomes(day: dt.date | str, model: str, settings: Settings | None = None, *,
                  as_of: dt.datetime | None = None, skew: bool = False, store: Any = None,
                  ms: MonitorSettings | None = None,
                  labels: tuple[pd.DataFrame, str] | None = None) -> OutcomeResult:
    """Join ``model``'s champion decisions of ``day`` with the labels known by ``as_of`` (default: every
    label row in the lake) and write the outcomes partition; with ``skew``, also the served-vs-offline
    feature comparison of those decisions (see the module doc). ``labels``: the label rows of the
    model's label table as :func:`_labels` reads them for ``as_of`` and the table's
    :func:`labels_fingerprint` taken before reading them, when the caller has them already."""
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    day = M._day(day)
    decisions = champion_decisions(s, model, day)
    spec = spec_of(decisions)
    if labels is not None and spec.name == model:
        lab, fingerprint = labels
    else:  # the fingerprint first: a rebuild while reading shows as a change on the next run
        fingerprint = labels_fingerprint(s, spec)
        lab = _labels(s, spec, as_of)
    out = _join(decisions, lab, spec)
    used = sorted({d.isoformat() for d in out.loc[out["status"] == MATURED, "_dt"]})
    path = partition_dir(s, model, day) / DATA_FILE
    counts = out["status"].value_counts()
    res = OutcomeResult(model, day, path, len(out), int(counts.get(MATURED, 0)), int(counts.get(PENDING, 0)),
                        int(counts.get(NO_KEY, 0)))
    _publish(_arrow(out, COLUMNS), path, {
        "as_of": as_of.isoformat() if as_of else None, "label_table": spec.label_table,
        "label_partitions": {p: fingerprint.get(p) for p in used}, "rows": res.rows, "matured": res.matured,
        "pending": res.pending, "no_key": res.no_key})
    if res.pending or res.no_key:
        log.info("outcomes %s %s: %d matured, %d pending, %d without an entity id", model, day, res.matured,
                 res.pending, res.no_key)
    if skew:
        res.skew = served_offline_skew(decisions, spec, s, ms, store=store)
        res.skew_path = partition_dir(s, model, day) / SKEW_FILE
        _publish(_arrow(res.skew.assign(decision_day=day), SKEW_COLUMNS), res.skew_path)
    return res


def end_of(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` (UTC): labels known "by D" are known before it."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def refresh_outcomes(day: dt.date | str, settings: Settings | None = None, *, models: list[str] | None = None,
                     store: Any = None, ms: MonitorSettings | None = None) -> list[OutcomeResult]:
    """What the monitoring DAG runs for date ``D``: join every decision day up to ``D`` with the labels
    known by the end of ``D`` (pending outcomes mature as their labels arrive; the result depends only
    on the lake and ``D``) and compare ``D``'s served features with the offline values.

    Incremental: a past day's partition that is :func:`settled` (nothing pending, joined by a time no
    later than this one, label table unchanged since) is kept as it is (``rejoined`` False), so a daily
    run re-joins only the days whose labels can still arrive; the label table is read once per model."""
    from riskpipe.models.flows import MODEL_SPECS
    from riskpipe.settings import get_settings

    s = settings or get_settings()
    day = M._day(day)
    as_of = end_of(day)
    out = []
    for model in models or logged_models(s):
        spec = MODEL_SPECS.get(model)
        fingerprint = labels_fingerprint(s, spec) if spec else None
        labels = None
        for d in decision_days(s, model):
            if d > day:
                continue
            path = partition_dir(s, model, d) / DATA_FILE
            kept = settled(path, as_of, fingerprint) if spec and d < day else None
            if kept:
                out.append(OutcomeResult(model, d, path, kept["rows"], kept["matured"], kept["pending"],
                                         kept["no_key"], rejoined=False))
                continue
            if spec and labels is None:
                labels = (_labels(s, spec, as_of), fingerprint)
            try:
                out.append(join_outcomes(d, model, s, as_of=as_of, skew=d == day, store=store, ms=ms,
                                         labels=labels))
            except NoDecisions:  # only shadow decisions that day
                log.info("outcomes %s %s: no champion decisions", model, d)
    return out


def read_outcomes(settings: Settings, until: dt.date | None = None, model: str | None = None,
                  file: str = DATA_FILE) -> pd.DataFrame:
    """Every outcomes partition (or skew file) of decision days up to ``until``, with ``decision_day``."""
    root = outcomes_root(settings)
    frames = []
    for mdir in sorted(root.glob("model=*")) if root.is_dir() else []:
        if model is not None and mdir.name != f"model={model}":
            continue
        for d in partitions(mdir):
            f = mdir / f"dt={d.isoformat()}" / file
            if (until is None or d <= until) and f.is_file():
                frames.append(pd.read_parquet(f).assign(decision_day=d))
    cols = [c for c in (COLUMNS if file == DATA_FILE else SKEW_COLUMNS) if c != "decision_day"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*cols, "decision_day"])


# ---- served vs offline ----------------------------------------------------------------------------------
def _differs(served: Any, offline: Any, tol: float) -> tuple[bool, float]:
    """Whether two values differ beyond the tolerance, and their absolute difference (numbers only)."""
    from riskpipe.models.decisions import _json_value

    a, b = _json_value(served), _json_value(offline)
    if a is None or b is None:
        return (a is None) != (b is None), float("nan")
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        diff = abs(float(a) - float(b))
        return diff > tol * max(1.0, abs(float(b))), diff
    return a != b, float("nan")


def served_offline_skew(decisions: pd.DataFrame, spec: ModelSpec, settings: Settings,
                        ms: MonitorSettings | None = None, *, store: Any = None) -> pd.DataFrame:
    """Per feature of the feature service each decision was served on (the decision's
    ``feature_service``; the model's, for a record without one): how many decisions were compared, the
    share whose served value differs from the offline point-in-time value at ``decided_at`` (beyond
    ``skew_tolerance``), the largest absolute difference, and ``alert`` when the share exceeds
    ``skew_max_mismatch_share``. A model whose champion moved to a newer service has rows for both."""
    from riskpipe.features.store import get_store

    ms = ms or get_monitor_settings()
    store = store or get_store(settings)
    services = decisions["feature_service"].fillna(spec.feature_service) if "feature_service" in decisions \
        else pd.Series(spec.feature_service, index=decisions.index)
    frames = [_service_skew(group.reset_index(drop=True), name, settings, ms, store)
              for name, group in decisions.groupby(services, sort=True)]
    cols = [c for c in SKEW_COLUMNS if c != "decision_day"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _service_skew(decisions: pd.DataFrame, service_name: str, settings: Settings, ms: MonitorSettings,
                  store: Any) -> pd.DataFrame:
    """:func:`served_offline_skew` for the decisions served on one feature service."""
    from riskpipe.features.store import feature_service
    from riskpipe.features.training import EVENT_TS, build_training_set

    service = feature_service(store, service_name)
    names = [f.name for p in service.feature_view_projections for f in p.features]
    served = [json.loads(f) for f in decisions["features"]]
    entity_cols = sorted({k for row in served for k in row} - set(names))
    ents = pd.DataFrame([{k: row.get(k) for k in entity_cols} for row in served])
    ents[EVENT_TS] = pd.to_datetime(decisions["decided_at"], utc=True).to_numpy()
    offline = build_training_set(service_name, ents, settings=settings, store=store).frame
    versions = ",".join(sorted(set(decisions["model_version"].astype(str))))
    rows = []
    for f in names:
        if f not in offline.columns or not any(f in row for row in served):
            continue
        diffs = [_differs(row.get(f), off, ms.skew_tolerance) for row, off in zip(served, offline[f], strict=True)]
        n, bad = len(diffs), sum(d for d, _ in diffs)
        num = [x for _, x in diffs if not np.isnan(x)]
        share = bad / n if n else float("nan")
        rows.append({"model_name": str(decisions["model_name"].iloc[0]), "model_version": versions, "feature": f,
                     "rows_compared": n, "mismatches": int(bad), "mismatch_share": share,
                     "max_abs_diff": max(num) if num else float("nan"), "tolerance": ms.skew_tolerance,
                     "status": "alert" if share > ms.skew_max_mismatch_share else "ok"})
    cols = [c for c in SKEW_COLUMNS if c != "decision_day"]
    return pd.DataFrame(rows, columns=cols)


# ---- realised performance -------------------------------------------------------------------------------
def matured(outcomes: pd.DataFrame) -> pd.DataFrame:
    return outcomes[outcomes["status"] == MATURED]


def realised_performance(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per model and version: decisions, matured share, bad rate, AUC, KS, Gini and Brier of the served
    probabilities on the matured outcomes (AUC/KS/Gini NaN while one class is missing)."""
    from riskpipe.models.evaluate import auc, brier, ks

    cols = ["model_name", "model_version", "decisions", "matured", "pending", "maturity_share", "bad_rate", "auc",
            "ks", "gini", "brier"]
    rows = []
    for (m, v), g in outcomes.groupby(["model_name", "model_version"], sort=True):
        done = matured(g)
        y, p = done["label"].to_numpy(dtype=float), done["probability"].to_numpy(dtype=float)
        a = auc(y, p) if len(y) else float("nan")
        rows.append({"model_name": m, "model_version": v, "decisions": len(g), "matured": len(done),
                     "pending": int((g["status"] == PENDING).sum()), "maturity_share": len(done) / len(g),
                     "bad_rate": float(y.mean()) if len(y) else float("nan"), "auc": a,
                     "ks": ks(y, p) if len(y) else float("nan"), "gini": 2 * a - 1,
                     "brier": brier(y, p) if len(y) else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def calibration_by_grade(outcomes: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed bad rate per model version, by decision band and by score grade (quantile
    bins of the served probability, ``grade`` 1 = lowest risk): rows, mean predicted, observed, gap."""
    from riskpipe.models.evaluate import reliability

    cols = ["model_name", "model_version", "grading", "grade", "rows", "mean_predicted", "observed", "gap"]
    rows = []
    for (m, v), g in matured(outcomes).groupby(["model_name", "model_version"], sort=True):
        y, p = g["label"].to_numpy(dtype=float), g["probability"].to_numpy(dtype=float)
        by_band = g.assign(y=y, p=p).groupby("band").agg(rows=("y", "size"), mean_predicted=("p", "mean"),
                                                         observed=("y", "mean"))
        for band, r in by_band.iterrows():
            rows.append({"model_name": m, "model_version": v, "grading": "band", "grade": str(band), **r.to_dict()})
        for i, r in reliability(y, p, bins).iterrows():
            rows.append({"model_name": m, "model_version": v, "grading": "score_grade", "grade": str(i + 1),
                         "rows": r["count"], "mean_predicted": r["mean_predicted"], "observed": r["observed"]})
    out = pd.DataFrame(rows, columns=cols)
    out["rows"] = out["rows"].astype("int64")
    out["gap"] = (out["mean_predicted"] - out["observed"]).abs()
    return out


def bad_rate_by_band(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Matured decisions, bad rate and mean PD per model version and band."""
    g = (matured(outcomes).groupby(["model_name", "model_version", "band"], sort=True)
         .agg(rows=("label", "size"), bad_rate=("label", "mean"), mean_pd=("probability", "mean")).reset_index())
    g["bad_rate"] = g["bad_rate"].astype(float)
    return g


def _alert(day: dt.date, kind: str, subject: str, metric: str, value: float, threshold: float,
           message: str) -> dict[str, Any]:
    return {"day": day, "kind": kind, "severity": "warning", "subject": subject, "metric": metric,
            "value": float(value), "threshold": float(threshold), "message": message}


def discrimination_alerts(day: dt.date, perf: pd.DataFrame, ms: MonitorSettings, kind: str,
                          subject: Any, rows_column: str) -> list[dict[str, Any]]:
    """KS below ``min_ks`` / Gini below ``min_gini`` on rows with at least ``min_rows`` labels
    (``subject(row)`` names the row; NaN metrics, i.e. one class only, are not judged)."""
    out = []
    for r in perf.to_dict("records"):
        if r[rows_column] < ms.min_rows:
            continue
        for metric, floor in (("ks", ms.min_ks), ("gini", ms.min_gini)):
            v = r[metric]
            if v is not None and np.isfinite(v) and v < floor:
                out.append(_alert(day, kind, subject(r), metric, v, floor,
                                  f"{subject(r)} {metric.upper()} {v:.3f} < {floor} on {r[rows_column]} labelled rows"))
    return out


def outcome_alerts(day: dt.date, perf: pd.DataFrame, calib: pd.DataFrame, skew: pd.DataFrame,
                   ms: MonitorSettings) -> pd.DataFrame:
    """Alert rows (metrics ``alerts`` schema) for realised KS/Gini below the floors, grades whose
    calibration gap exceeds ``max_calibration_gap`` and features whose served-vs-offline mismatch share
    exceeds ``skew_max_mismatch_share``."""
    rows = discrimination_alerts(day, perf, ms, "realised_performance",
                                 lambda r: f"{r['model_name']} v{r['model_version']}", "matured")
    for r in calib.to_dict("records"):
        if r["rows"] >= ms.min_rows and r["gap"] > ms.max_calibration_gap:
            subject = f"{r['model_name']} v{r['model_version']} {r['grading']} {r['grade']}"
            rows.append(_alert(day, "calibration", subject, "calibration_gap", r["gap"], ms.max_calibration_gap,
                               f"{subject}: predicted {r['mean_predicted']:.3f} vs observed {r['observed']:.3f} "
                               f"on {r['rows']} rows"))
    for r in skew.to_dict("records"):
        if r["status"] == "alert":
            subject = f"{r['model_name']}.{r['feature']}"
            rows.append(_alert(day, "feature_skew", subject, "mismatch_share", r["mismatch_share"],
                               ms.skew_max_mismatch_share,
                               f"{subject}: {r['mismatches']} of {r['rows_compared']} served values differ from the "
                               f"offline point-in-time values (max |diff| {r['max_abs_diff']:.4g})"))
    return M._frame("alerts", rows)


@dataclasses.dataclass
class OutcomeFacts:
    """What the report shows of the outcomes up to one date."""

    performance: pd.DataFrame
    calibration: pd.DataFrame
    bands: pd.DataFrame
    skew: pd.DataFrame
    alerts: pd.DataFrame


def outcome_facts(day: dt.date, settings: Settings, ms: MonitorSettings | None = None) -> OutcomeFacts:
    """Realised performance, calibration and band bad rates of every outcome partition up to ``day``,
    the skew of ``day``'s decisions, and their alerts."""
    ms = ms or get_monitor_settings()
    day = M._day(day)
    out = read_outcomes(settings, until=day)
    skew = read_outcomes(settings, until=day, file=SKEW_FILE)
    skew = skew[skew["decision_day"] == day] if len(skew) else skew
    perf, calib = realised_performance(out), calibration_by_grade(out, ms.calibration_bins)
    return OutcomeFacts(perf, calib, bad_rate_by_band(out), skew, outcome_alerts(day, perf, calib, skew, ms))
