"""The training flow on any labelled table: out-of-time split, scorecard + LightGBM, evaluation,
MLflow logging and registration, ``challenger`` alias.

The Feast feature services (credit_pd, fraud, early_warning) plug in by handing their training set
here with ``feature_service=<name>``; nothing in this module knows about a particular model.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskpipe.errors import RiskpipeError
from riskpipe.models.config import ModelSettings, get_model_settings
from riskpipe.models.explain import Bands, RiskEstimator, ScoreScale, feature_matrix
from riskpipe.models.labels import label_definitions
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: per candidate run with fuzzy reject inference: the declined rows added to its training data
AUGMENTED_ARTIFACT = "reject_inference/augmented_declined.parquet"
KEY_COLUMN = re.compile(r"(^id$|_id$|^id_|_key$|_token$)", re.IGNORECASE)


class TrainInputError(RiskpipeError):
    """The training table cannot be used as given (missing column, bad label, bad time, no OOT)."""


@dataclass
class Candidate:
    """One trained candidate and where it lives in MLflow."""

    kind: str
    estimator: RiskEstimator
    oot_metrics: dict[str, float]
    train_metrics: dict[str, float]
    psi: dict[str, float]
    run_id: str | None = None
    version: str | None = None
    model_uri: str | None = None
    card_markdown: str = ""
    ttd_metrics: dict[str, float] = field(default_factory=dict)  # through-the-door AUCs (reject.py)
    augmented: pd.DataFrame | None = None  # fuzzy reject inference: the declined rows it trained on (weighted)


@dataclass
class TrainResult:
    """Both candidates, which became ``challenger``, and the data they were judged on."""

    model_name: str
    challenger_kind: str
    challenger_version: str | None
    candidates: dict[str, Candidate]
    features: list[str]
    train_window: tuple[str, str]
    oot_window: tuple[str, str]
    data_hash: str
    n_train: int
    n_oot: int
    parent_run_id: str | None = None
    eval_set_uri: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ---- input checks ---------------------------------------------------------------------------------
def data_hash(df: pd.DataFrame) -> str:
    """Content hash of a table (columns, dtypes, values; row order matters): the data snapshot id."""
    h = hashlib.sha256()
    h.update("|".join(f"{c}:{t}" for c, t in df.dtypes.items()).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def select_features(
    df: pd.DataFrame, label: str, time_column: str, truth_column: str | None = None,
    exclude: list[str] | None = None,
) -> list[str]:
    """All numeric (or boolean) columns that are not the label, time, truth or a key (``*_id``...)."""
    skip = {label, time_column, truth_column, *(exclude or [])}
    out = [
        c for c in df.columns
        if c not in skip and not KEY_COLUMN.search(str(c))
        and (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if not out:
        raise TrainInputError(f"no numeric feature columns found (columns: {list(df.columns)})")
    return out


def _check_label(df: pd.DataFrame, label: str, where: str) -> np.ndarray:
    if label not in df.columns:
        raise TrainInputError(f"{where}: label column {label!r} not found (columns: {list(df.columns)})")
    y = pd.to_numeric(df[label], errors="coerce")
    bad = y.isna() | ~y.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrainInputError(
            f"{where}: label column {label!r} must be 0/1 without nulls; row {row} has {df[label].iloc[row]!r}"
        )
    return y.to_numpy(dtype=float)


def _check_time(df: pd.DataFrame, time_column: str, where: str) -> pd.Series:
    if time_column not in df.columns:
        raise TrainInputError(f"{where}: time column {time_column!r} not found (columns: {list(df.columns)})")
    t = pd.to_datetime(df[time_column], errors="coerce", utc=False)
    bad = t.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrainInputError(
            f"{where}: time column {time_column!r} has an unparseable or null value "
            f"{df[time_column].iloc[row]!r} at row {row}"
        )
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t


def oot_split(t: pd.Series, oot_from: str | pd.Timestamp | None) -> pd.Timestamp:
    """The first instant of the out-of-time window: given, else the start of the last ~quarter of months,
    else (a window shorter than two months, e.g. a retraining window of days) of the last ~quarter of days."""
    if oot_from is not None:
        cut = pd.Timestamp(oot_from)
    else:
        months = np.sort(t.dt.to_period("M").unique())
        days = np.sort(t.dt.normalize().unique())
        if len(months) >= 2:
            cut = months[-max(1, int(round(len(months) * 0.25)))].start_time
        elif len(days) >= 2:
            cut = pd.Timestamp(days[-max(1, int(round(len(days) * 0.25)))])
        else:
            raise TrainInputError(
                f"the time column spans {len(days)} day(s); an out-of-time split needs at least 2 "
                "(or pass --oot-from)"
            )
    if not (t < cut).any() or not (t >= cut).any():
        raise TrainInputError(
            f"out-of-time cut {cut.date()} leaves no rows on one side (data spans {t.min()} .. {t.max()})"
        )
    return cut


def training_key(spec: dict[str, Any]) -> str:
    """Hash of everything that determines the trained models (data snapshot + settings)."""
    import json
    from importlib.metadata import version

    body = json.dumps({**spec, "riskpipe": version("riskpipe")}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def _metric_key(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", s)


# ---- the flow -------------------------------------------------------------------------------------
def _evaluate(
    est: RiskEstimator, Xtr: pd.DataFrame, ytr: np.ndarray, Xoot: pd.DataFrame, yoot: np.ndarray,
    truth: np.ndarray | None,
) -> tuple[dict, dict, dict, np.ndarray, np.ndarray, np.ndarray]:
    from riskpipe.models.evaluate import metrics, psi

    p_tr, p_oot = est.predict_proba(Xtr), est.predict_proba(Xoot)
    s_tr, s_oot = est.scale.points(p_tr), est.scale.points(p_oot)
    m_oot = metrics(yoot, p_oot, truth)
    m_tr = metrics(ytr, p_tr)
    ps = {"score": psi(s_tr, s_oot)}
    top = sorted(est.importance().items(), key=lambda kv: kv[1], reverse=True)[:5]
    for f, _ in top:
        ps[f"feature_{f}"] = psi(Xtr[f].to_numpy(float), Xoot[f].to_numpy(float))
    return m_oot, m_tr, ps, p_oot, s_tr, s_oot


def train_model(
    df: pd.DataFrame,
    label: str,
    features: list[str] | None,
    time_column: str,
    model_name: str,
    *,
    oot_from: str | pd.Timestamp | None = None,
    truth_column: str | None = None,
    feature_service: str = "adhoc",
    label_definition: str | None = None,
    monotone: dict[str, int] | None = None,
    exclude: list[str] | None = None,
    num_boost_round: int = 200,
    gbm_params: dict[str, Any] | None = None,
    register: bool = True,
    force: bool = False,
    source: str = "dataframe",
    settings: Settings | None = None,
    model_settings: ModelSettings | None = None,
    rejects: pd.DataFrame | None = None,
    reject_inference: str = "none",
    reject_weight: float | None = None,
    outcome_column: str | None = None,
) -> TrainResult:
    """Train the scorecard and the LightGBM challenger, validate out of time, log and register both.

    The better of the two on OOT AUC gets the ``challenger`` alias; ``promote`` decides whether it
    replaces the ``champion``. ``monotone`` maps feature -> +1 (risk rises with it) / -1.

    Idempotent: a re-run on the same data snapshot with the same settings (an Airflow retry) finds
    the versions it registered before (tag ``training_key``) and returns them instead of registering
    duplicates; ``force=True`` trains and registers anew.

    ``rejects`` are the declined applications (same feature and time columns, no label): with
    ``reject_inference="fuzzy"`` both candidates are refitted on accepts plus fuzzy-augmented rejects
    (``reject_weight``, default ``RISKPIPE_MODEL_REJECT_WEIGHT``). ``outcome_column`` (the true 0/1
    outcome on both tables, synthetic worlds) adds the through-the-door AUC with and without reject
    inference (:mod:`riskpipe.models.reject`).
    """
    from riskpipe.models import reject as ri
    from riskpipe.models.gbm import DEFAULT_PARAMS, fit_gbm
    from riskpipe.models.woe import fit_scorecard

    ms = model_settings or get_model_settings()
    ri.check_method(reject_inference)
    reject_weight = ms.reject_weight if reject_weight is None else reject_weight
    where = source
    if df.empty:
        raise TrainInputError(f"{where}: the table has no rows")
    y = _check_label(df, label, where)
    t = _check_time(df, time_column, where)
    if truth_column is not None and truth_column not in df.columns:
        raise TrainInputError(f"{where}: truth column {truth_column!r} not found")
    if reject_inference != "none" and rejects is None:
        raise TrainInputError(f"{where}: reject inference {reject_inference!r} needs the declined applications")
    outcome = None if outcome_column is None else _check_label(df, outcome_column, where)
    if outcome_column is not None:
        exclude = [*(exclude or []), outcome_column]
    feats = list(features) if features else select_features(df, label, time_column, truth_column, exclude)
    dupes = sorted({f for f in feats if feats.count(f) > 1})
    if dupes:
        raise TrainInputError(f"{where}: feature(s) listed twice: {dupes}")
    for f in feats:
        if f in (label, time_column, truth_column, outcome_column):
            raise TrainInputError(f"{where}: {f!r} cannot be both a feature and the label/time/truth/outcome column")
    monotone = {f: int(np.sign(d)) for f, d in (monotone or {}).items()}
    unknown = sorted(set(monotone) - set(feats))
    if unknown:
        raise TrainInputError(f"{where}: monotone constraint(s) on non-feature column(s) {unknown}")
    X = feature_matrix(df, feats)  # float64, clear error on a non-numeric value
    cut = oot_split(t, oot_from)
    tr, oot = (t < cut).to_numpy(), (t >= cut).to_numpy()
    rs = None if rejects is None else ri.split_rejects(rejects, feats, label, time_column, cut, outcome_column, where)
    if reject_inference != "none" and rs is not None and rs.X_train.empty:
        raise TrainInputError(f"{where}: no declined applications before the out-of-time cut {cut.date()} "
                              "to infer from")
    for name, mask in (("training", tr), ("out-of-time", oot)):
        if len(np.unique(y[mask])) < 2:
            raise TrainInputError(f"{where}: the {name} window has only one label value; cannot train/validate")
    train_window = (t[tr].min().isoformat(), t[tr].max().isoformat())
    oot_window = (t[oot].min().isoformat(), t[oot].max().isoformat())
    snapshot = data_hash(df)
    scale = ScoreScale(ms.pdo, ms.base_score, ms.base_odds)
    bands = Bands(ms.approve_max_pd, ms.decline_min_pd)
    Xtr, Xoot, ytr, yoot = X[tr], X[oot], y[tr], y[oot]
    truth = None
    if truth_column is not None:
        tv = pd.to_numeric(df[truth_column], errors="coerce")
        bad = (tv.isna() | (tv < 0) | (tv > 1)).to_numpy() & oot
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise TrainInputError(
                f"{where}: truth column {truth_column!r} must be a probability in [0, 1] on the OOT rows; "
                f"row {row} has {df[truth_column].iloc[row]!r}"
            )
        truth = tv.to_numpy(float)[oot]
    log.info("training %s: %d train rows (%s..%s), %d OOT rows, %d features", model_name, len(ytr),
             train_window[0], train_window[1], len(yoot), len(feats))

    gbm_full = {**DEFAULT_PARAMS, **(gbm_params or {})}
    # a name declared in labels.yml brings its version and content hash (tags, training key, card)
    declared = label_definitions(settings).get(label_definition or label)
    label_tags = declared.tags() if declared else {"label_definition": label_definition or label}
    key = training_key({
        "data_hash": snapshot, "label": label, **label_tags,
        "time_column": time_column, "oot_from": cut.isoformat(), "features": feats, "monotone": monotone,
        "truth_column": truth_column, "feature_service": feature_service, "num_boost_round": num_boost_round,
        "gbm_params": gbm_full, "model_settings": ms.model_dump(mode="json"),
        **({} if rejects is None else {"rejects_hash": data_hash(rejects), "reject_inference": reject_inference,
                                       "reject_weight": reject_weight, "outcome_column": outcome_column}),
    })
    if register and not force:
        from riskpipe.models.registry import find_training

        found = find_training(model_name, key, settings)
        if found is not None:
            return found

    fits: dict[str, ri.Fit] = {
        "scorecard": lambda X_, y_, w_: fit_scorecard(X_, y_, feats, monotone=monotone, scale=scale, bands=bands,
                                                      n_reasons=ms.reason_codes, sample_weight=w_),
        "lightgbm": lambda X_, y_, w_: fit_gbm(X_, y_, feats, monotone=monotone, scale=scale, bands=bands,
                                               num_boost_round=num_boost_round, params=gbm_params,
                                               n_reasons=ms.reason_codes, sample_weight=w_),
    }
    ests: dict[str, RiskEstimator] = {kind: fit(Xtr, ytr, None) for kind, fit in fits.items()}
    ttd: dict[str, dict[str, float]] = {}
    augmented: dict[str, pd.DataFrame] = {}
    compare = rs is not None and outcome is not None
    if rs is not None and reject_inference == "none" and not compare:
        log.warning("%s: declined applications given without reject inference or their outcome: not used", where)
    if rs is not None and (reject_inference == "fuzzy" or compare) and not rs.X_train.empty:
        fuzzy = {kind: ri.fit_fuzzy(fit, ests[kind], Xtr, ytr, rs.X_train, reject_weight) for kind, fit in fits.items()}
        if compare:
            ttd = {kind: ri.ttd_metrics({ri.NO_RI: ests[kind], "fuzzy": fuzzy[kind]}, Xoot, outcome[oot], rs)
                   for kind in fits}
        if reject_inference == "fuzzy":
            augmented = {kind: ri.augmented_rows(ests[kind], rs, reject_weight) for kind in fits}
            ests = fuzzy
    cands: dict[str, Candidate] = {}
    evals: dict[str, tuple] = {}
    for kind, est in ests.items():
        m_oot, m_tr, ps, p_oot, s_tr, s_oot = _evaluate(est, Xtr, ytr, Xoot, yoot, truth)
        cands[kind] = Candidate(kind, est, m_oot, m_tr, ps, ttd_metrics=ttd.get(kind, {}),
                                augmented=augmented.get(kind))
        evals[kind] = (p_oot, s_tr, s_oot)
        log.info("%s: OOT AUC %.4f KS %.4f score PSI %.4f", kind, m_oot["auc"], m_oot["ks"], ps["score"])
    best = "lightgbm" if cands["lightgbm"].oot_metrics["auc"] > cands["scorecard"].oot_metrics["auc"] else "scorecard"
    result = TrainResult(
        model_name=model_name, challenger_kind=best, challenger_version=None, candidates=cands, features=feats,
        train_window=train_window, oot_window=oot_window, data_hash=snapshot, n_train=int(tr.sum()),
        n_oot=int(oot.sum()), extra={"training_key": key, "reused": False, "reject_inference": reject_inference,
                                     "reject_weight": reject_weight,
                                     "n_rejects_train": 0 if rs is None else len(rs.X_train)},
    )
    for kind, c in cands.items():
        c.card_markdown = _card(result, c, ms, feature_service, label,
                                declared.ref if declared else label_tags["label_definition"], time_column,
                                yoot, evals[kind][0])
        if rs is not None:
            c.card_markdown += ri.card_section(reject_inference, reject_weight, len(rs.X_train), c.ttd_metrics)
    if register:
        _log_to_mlflow(result, df[oot], evals, feature_service=feature_service, label=label,
                       label_tags=label_tags, time_column=time_column,
                       truth_column=truth_column, source=source, settings=settings)
    return result


def _card(r: TrainResult, c: Candidate, ms: ModelSettings, feature_service: str, label: str,
          label_definition: str, time_column: str, yoot: np.ndarray, p_oot: np.ndarray) -> str:
    from riskpipe.models.card import CardInputs, render_markdown
    from riskpipe.models.evaluate import reliability

    est = c.estimator
    return render_markdown(CardInputs(
        model_name=r.model_name, kind=c.kind, feature_service=feature_service, label=label,
        label_definition=label_definition, time_column=time_column, train_window=r.train_window,
        oot_window=r.oot_window, data_hash=r.data_hash, n_train=r.n_train, n_oot=r.n_oot, features=r.features,
        monotone=getattr(est, "monotone", {}) or {}, oot_metrics=c.oot_metrics, train_metrics=c.train_metrics,
        psi=c.psi, reliability=reliability(yoot, p_oot), importance=est.importance(),
        scale={"pdo": ms.pdo, "base_score": ms.base_score, "base_odds": ms.base_odds},
        bands={"approve_max_pd": ms.approve_max_pd, "decline_min_pd": ms.decline_min_pd},
        scorecard_table=est.table() if c.kind == "scorecard" else None,
    ))


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "scipy")]


def _log_to_mlflow(
    r: TrainResult, oot_df: pd.DataFrame, evals: dict[str, tuple], *, feature_service: str, label: str,
    label_tags: dict[str, str], time_column: str, truth_column: str | None, source: str,
    settings: Settings | None,
) -> None:
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    from riskpipe.models.card import render_html
    from riskpipe.models.evaluate import plot_all
    from riskpipe.models.explain import score_frame
    from riskpipe.models.pyfunc import RiskPyfunc
    from riskpipe.models.registry import (
        CHALLENGER,
        EVAL_SET_ARTIFACT,
        configure_mlflow,
        ensure_experiment,
        set_alias,
    )

    s = settings or get_settings()
    client = configure_mlflow(s)
    exp_id = ensure_experiment(r.model_name, s)
    common = {
        "feature_service": feature_service, "label_column": label, **label_tags,
        "time_column": time_column, "train_start": r.train_window[0], "train_end": r.train_window[1],
        "oot_start": r.oot_window[0], "oot_end": r.oot_window[1], "data_hash": r.data_hash, "source": source,
        "training_key": r.extra["training_key"], "n_train": str(r.n_train), "n_oot": str(r.n_oot),
        "features": ",".join(r.features)[:5000], "reject_inference": r.extra["reject_inference"],
    }
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{r.model_name}-train") as parent, \
            tempfile.TemporaryDirectory() as tmp:
        r.parent_run_id = parent.info.run_id
        mlflow.set_tags({**common, "stage": "train"})
        eval_path = Path(tmp) / Path(EVAL_SET_ARTIFACT).name
        oot_df.reset_index(drop=True).to_parquet(eval_path, index=False)
        mlflow.log_artifact(str(eval_path), Path(EVAL_SET_ARTIFACT).parent.as_posix())
        r.eval_set_uri = f"runs:/{parent.info.run_id}/{EVAL_SET_ARTIFACT}"
        Xoot = feature_matrix(oot_df, r.features)
        for kind, c in r.candidates.items():
            est = c.estimator
            with mlflow.start_run(experiment_id=exp_id, run_name=f"{r.model_name}-{kind}", nested=True) as run:
                c.run_id = run.info.run_id
                mlflow.set_tags({**common, "model_kind": kind, "eval_set_uri": r.eval_set_uri})
                params = {"model_kind": kind, "n_features": len(r.features), "n_train": r.n_train, "n_oot": r.n_oot,
                          "pdo": est.scale.pdo, "base_score": est.scale.base_score, "base_odds": est.scale.base_odds,
                          "approve_max_pd": est.bands.approve_max_pd, "decline_min_pd": est.bands.decline_min_pd,
                          "monotone": str(getattr(est, "monotone", {}) or {}), "truth_column": str(truth_column),
                          "reject_inference": r.extra["reject_inference"], "reject_weight": r.extra["reject_weight"],
                          "n_rejects_train": r.extra["n_rejects_train"]}
                if kind == "lightgbm":
                    params.update({f"lgb_{k}": v for k, v in est.params.items() if k != "monotone_constraints"})
                    params["num_trees"] = est.booster.num_trees()
                mlflow.log_params(params)
                mets = {f"oot_{k}": v for k, v in c.oot_metrics.items()}
                mets.update({f"train_{k}": v for k, v in c.train_metrics.items()})
                mets.update({_metric_key(f"psi_{k}"): v for k, v in c.psi.items()})
                mets.update(c.ttd_metrics)
                mlflow.log_metrics({k: float(v) for k, v in mets.items() if np.isfinite(v)})
                d = Path(tmp) / kind
                p_oot, s_tr, s_oot = evals[kind]
                plot_all(d / "plots", oot_df[label].to_numpy(float), p_oot,
                         s_tr, s_oot, est.importance(), f"{r.model_name} {kind}")
                mlflow.log_artifacts(str(d / "plots"), "plots")
                (d / "model_card.md").write_text(c.card_markdown, encoding="utf-8")
                (d / "model_card.html").write_text(render_html(c.card_markdown, f"{r.model_name} {kind}"),
                                                   encoding="utf-8")
                mlflow.log_artifact(str(d / "model_card.md"))
                mlflow.log_artifact(str(d / "model_card.html"))
                if c.augmented is not None:
                    c.augmented.to_parquet(d / Path(AUGMENTED_ARTIFACT).name, index=False)
                    mlflow.log_artifact(str(d / Path(AUGMENTED_ARTIFACT).name), Path(AUGMENTED_ARTIFACT).parent.as_posix())
                if kind == "scorecard":
                    est.table().to_csv(d / "scorecard.csv", index=False)
                    mlflow.log_artifact(str(d / "scorecard.csv"))
                head = Xoot.head(50)
                sig = infer_signature(head, score_frame(est, head).reset_index(drop=True))
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=RiskPyfunc(est), signature=sig, input_example=head.head(3),
                    artifacts={"model_card": str(d / "model_card.md"), "model_card_html": str(d / "model_card.html")},
                    registered_model_name=r.model_name, pip_requirements=_pip_requirements(),
                )
                c.version = str(info.registered_model_version)
                c.model_uri = f"models:/{r.model_name}/{c.version}"
                vtags = {**common, "model_kind": kind, "eval_set_uri": r.eval_set_uri, "run_id": run.info.run_id,
                         "oot_auc": f"{c.oot_metrics['auc']:.6f}", "psi_score": f"{c.psi['score']:.6f}"}
                for k, v in vtags.items():
                    client.set_model_version_tag(r.model_name, c.version, k, str(v))
                client.update_model_version(
                    r.model_name, c.version,
                    description=f"{kind} on feature service {feature_service}; OOT AUC {c.oot_metrics['auc']:.4f}, "
                                f"KS {c.oot_metrics['ks']:.4f}, score PSI {c.psi['score']:.4f}; card: model_card.md",
                )
    ch = r.candidates[r.challenger_kind]
    r.challenger_version = ch.version
    set_alias(client, r.model_name, CHALLENGER, ch.version, action="train",
              reason=f"{r.challenger_kind} has the better OOT AUC of the two candidates",
              evidence={f"{k}_oot_auc": c.oot_metrics["auc"] for k, c in r.candidates.items()}, settings=s)


def read_table(path: str | Path) -> pd.DataFrame:
    """A Parquet file or directory, or an error naming it."""
    p = Path(path)
    if not p.exists():
        raise TrainInputError(f"training table {p} does not exist")
    try:
        return pd.read_parquet(p)
    except Exception as err:  # pyarrow raises several types for a bad file
        raise TrainInputError(f"cannot read training table {p} as Parquet: {err}") from None


def train_table(path: str | Path, **kwargs: Any) -> TrainResult:
    """``train_model`` on a Parquet file or directory (the CLI's entry)."""
    return train_model(read_table(path), source=str(Path(path)), **kwargs)
