"""Reject inference: train and judge an application model on the whole through-the-door population.

Declined applicants never get a loan, so the label table holds accepts only and a model fitted on it
learns the risk of the people the old policy let in (selection bias: the policy declined on features
that carry risk, so among accepts those features look weaker than they are). Fuzzy augmentation, the
standard remedy: fit on the accepts, score every declined application of the training window, add it
twice - as a bad with weight ``w * p`` and as a good with weight ``w * (1 - p)``, ``w`` the reject
weight - and refit both model kinds on accepts (weight 1) plus the augmented rejects.

Whether that helps cannot be seen on the accepts' out-of-time rows (they are the biased sample).
Synthetic worlds know the declined applicants' true outcomes, so when given they are used to report
the AUC on the through-the-door population of the out-of-time window (accepts and declines, true
outcome) for the model with and without reject inference, side by side in the same run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskpipe.models.explain import RiskEstimator, feature_matrix
from riskpipe.models.train import TrainInputError, _check_label, _check_time
from riskpipe.settings import Settings

log = logging.getLogger(__name__)

REJECT_METHODS = ("none", "fuzzy")
NO_RI = "no_ri"
#: the generator's realised outcome of every application, declined ones included
OUTCOME = "true_default_12m"

Fit = Callable[[pd.DataFrame, np.ndarray, np.ndarray | None], RiskEstimator]


def check_method(method: str) -> str:
    """The reject-inference method, or an error listing the known ones."""
    if method not in REJECT_METHODS:
        raise TrainInputError(f"unknown reject inference {method!r}; known: {', '.join(REJECT_METHODS)}")
    return method


@dataclass
class RejectSet:
    """The declined applications split at the out-of-time cut like the accepts."""

    X_train: pd.DataFrame
    X_oot: pd.DataFrame
    outcome_oot: np.ndarray | None  # their true 0/1 outcome (synthetic worlds), else None
    rows_train: pd.DataFrame | None = None  # the rows of X_train as given (keys, time), for the audit table


def split_rejects(
    rejects: pd.DataFrame, features: list[str], label: str, time_column: str, cut: pd.Timestamp,
    outcome_column: str | None, where: str,
) -> RejectSet:
    """Check the declined applications (features, time, no label, outcome if asked) and split them at ``cut``."""
    where = f"{where} (declined applications)"
    if rejects.empty:
        raise TrainInputError(f"{where}: no rows")
    if label in rejects.columns and rejects[label].notna().any():
        row = int(np.flatnonzero(rejects[label].notna().to_numpy())[0])
        raise TrainInputError(f"{where}: declined applications have no observed outcome, but row {row} carries "
                              f"label {label!r} = {rejects[label].iloc[row]!r}")
    missing = [f for f in features if f not in rejects.columns]
    if missing:
        raise TrainInputError(f"{where}: feature column(s) {missing} not found")
    t = _check_time(rejects, time_column, where)
    X = feature_matrix(rejects, features).reset_index(drop=True)
    oot = (t >= cut).to_numpy()
    outcome = None
    if outcome_column is not None:
        outcome = _check_label(rejects, outcome_column, where)[oot]
    given = rejects.drop(columns=[c for c in (label, outcome_column) if c], errors="ignore")
    return RejectSet(X[~oot].reset_index(drop=True), X[oot].reset_index(drop=True), outcome,
                     given[~oot].reset_index(drop=True))


def fuzzy_augment(X: pd.DataFrame, p_bad: np.ndarray, reject_weight: float = 1.0,
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Each declined row twice: first all as bads (weight ``w * p``), then all as goods (``w * (1 - p)``)."""
    p = np.asarray(p_bad, dtype=float)
    if p.shape != (len(X),) or not np.all((p >= 0) & (p <= 1)):
        raise TrainInputError(f"fuzzy augmentation needs one probability in [0, 1] per declined row ({len(X)})")
    if not reject_weight > 0:
        raise TrainInputError(f"reject weight must be > 0, got {reject_weight!r}")
    Xa = pd.concat([X, X], ignore_index=True)
    y = np.concatenate([np.ones(len(X)), np.zeros(len(X))])
    w = reject_weight * np.concatenate([p, 1.0 - p])
    return Xa, y, w


def augmented_rows(accepts_only: RiskEstimator, rs: RejectSet, reject_weight: float) -> pd.DataFrame:
    """What fuzzy augmentation adds to the training data, for the record: each declined row of the
    training window (as given: keys, time, features) twice, with its inferred ``label`` (1, then 0)
    and ``sample_weight`` (``w * p``, ``w * (1 - p)``, ``p`` the accepts-only model's PD)."""
    rows = rs.rows_train if rs.rows_train is not None else rs.X_train
    Xa, y, w = fuzzy_augment(rows, accepts_only.predict_proba(rs.X_train), reject_weight)
    return Xa.assign(label=y.astype(int), sample_weight=w)


def fit_fuzzy(fit: Fit, accepts_only: RiskEstimator, Xtr: pd.DataFrame, ytr: np.ndarray, X_rej: pd.DataFrame,
              reject_weight: float) -> RiskEstimator:
    """Refit ``fit`` on the accepts (weight 1) plus the declined rows augmented with ``accepts_only``'s PD."""
    Xa, ya, wa = fuzzy_augment(X_rej, accepts_only.predict_proba(X_rej), reject_weight)
    X = pd.concat([Xtr.reset_index(drop=True), Xa], ignore_index=True)
    return fit(X, np.concatenate([ytr, ya]), np.concatenate([np.ones(len(ytr)), wa]))


def ttd_metrics(variants: dict[str, RiskEstimator], X_acc: pd.DataFrame, outcome_acc: np.ndarray,
                rs: RejectSet) -> dict[str, float]:
    """AUC of each variant on the out-of-time through-the-door rows (accepts + declines, true outcome)."""
    from riskpipe.models.evaluate import auc

    if rs.outcome_oot is None:
        raise TrainInputError("the through-the-door evaluation needs the declined applications' true outcome")
    X = pd.concat([X_acc.reset_index(drop=True), rs.X_oot], ignore_index=True)
    y = np.concatenate([outcome_acc, rs.outcome_oot])
    out = {f"ttd_auc_{name}": auc(y, est.predict_proba(X)) for name, est in variants.items()}
    out.update({"ttd_n": float(len(y)), "ttd_n_declined": float(len(rs.X_oot)), "ttd_bad_rate": float(y.mean()),
                "ttd_declined_bad_rate": float(rs.outcome_oot.mean()) if len(rs.X_oot) else float("nan")})
    return out


def card_section(method: str, reject_weight: float, n_rejects_train: int, ttd: dict[str, float]) -> str:
    """The model card's reject-inference section (appended to the card)."""
    lines = [f"- method: `{method}`" + (f" (reject weight {reject_weight:g}, {n_rejects_train} declined "
                                         "applications of the training window, each as a weighted bad and good)"
                                         if method != "none" else " (trained on accepts only)")]
    if ttd:
        lines.append(f"- through-the-door out-of-time population: {int(ttd['ttd_n'])} applications, "
                     f"{int(ttd['ttd_n_declined'])} declined; true bad rate {ttd['ttd_bad_rate']:.4f} "
                     f"(declined {ttd['ttd_declined_bad_rate']:.4f})")
        lines += [f"- AUC on it, {name.removeprefix('ttd_auc_')}: {v:.4f}" for name, v in ttd.items()
                  if name.startswith("ttd_auc_")]
    return "\n## Reject inference\n\n" + "\n".join(lines) + "\n"


# ---- the through-the-door population of credit_pd -------------------------------------------------
def declined_applications(first: pd.Timestamp, last: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Declined applications of the silver partitions ``first..last``: the entity rows of the credit_pd
    service (key, customer, ``feature_ts`` = applied_at, the request-time fields) and a null label."""
    from riskpipe.features.tables import PARTITION_KEY

    root = settings.silver / "applications"
    cols = ["application_id", "customer_id", "applied_at", "requested_amount", "decision"]
    frames = []
    for day in pd.date_range(first, last, freq="D"):
        files = sorted((root / f"{PARTITION_KEY}={day.date().isoformat()}").glob("*.parquet"))
        frames += [pd.read_parquet(f, columns=cols) for f in files]
    if not frames:
        raise TrainInputError(f"no silver applications partitions between {first.date()} and {last.date()} under {root}")
    apps = pd.concat(frames, ignore_index=True)
    unknown = sorted(set(apps["decision"].dropna()) - {"approved", "declined"})
    if unknown or apps["decision"].isna().any():
        raise TrainInputError(f"{root}: decision must be 'approved' or 'declined'; found {unknown or [None]}")
    out = apps[apps["decision"] == "declined"].drop(columns="decision").rename(columns={"applied_at": "feature_ts"})
    out["label"] = pd.array([pd.NA] * len(out), dtype="Int64")
    return out.sort_values(["feature_ts", "application_id"], kind="stable", ignore_index=True)


def attach_outcome(df: pd.DataFrame, key: str, truth_path: Path) -> bool:
    """Add the generator's realised outcome (``default_12m``) as :data:`OUTCOME`; False without ground truth."""
    if not truth_path.is_file():
        return False
    truth = pd.read_parquet(truth_path, columns=[key, "default_12m"]).drop_duplicates(key)
    merged = df[[key]].merge(truth, on=key, how="left")
    if merged["default_12m"].isna().any():
        log.warning("%d of %d rows have no ground-truth outcome in %s; no through-the-door evaluation",
                    int(merged["default_12m"].isna().sum()), len(df), truth_path)
        return False
    df[OUTCOME] = merged["default_12m"].astype(int).to_numpy()
    return True


#: models scored at application time, whose through-the-door population includes the declines
TTD_MODELS = ("credit_pd",)


def declined_training_set(spec, first: dt.date, last: dt.date, as_of: dt.datetime,  # noqa: ANN001 (ModelSpec)
                          settings: Settings, *, service: str | None = None) -> pd.DataFrame | None:
    """The declined applications of ``first..last`` whose performance window closed by ``as_of`` (as
    the accepts' labels must have), with the features of ``spec``'s service as of each application
    (the same Feast point-in-time join as the accepts, on ``service``, default the model's, with its
    request fields rebuilt as known by ``as_of`` where silver lacks them) and a null label; written next to the
    accepts' training set as ``<model>-<first>-<last>[-<service>]-declined.parquet``. None when none matured."""
    from riskpipe.features.training import build_training_set

    if spec.name not in TTD_MODELS:
        raise TrainInputError(f"reject inference applies to application models ({', '.join(TTD_MODELS)}), "
                              f"not {spec.name!r}")
    ents = declined_applications(pd.Timestamp(first), pd.Timestamp(last), settings)
    window = spec.definition(settings).performance_window
    ents = ents[pd.to_datetime(ents["feature_ts"], utc=True) + window <= pd.Timestamp(as_of)].reset_index(drop=True)
    if ents.empty:
        return None
    service = spec.check_service(service or spec.feature_service)
    out = settings.runs / "training_sets" / f"{spec.training_set_name(service, first, last, 'declined')}.parquet"
    return build_training_set(service, ents, settings=settings, out=out, request_known_by=as_of).frame
