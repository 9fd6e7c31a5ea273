"""Scores people can act on: points scale, decision band and reason codes for every score.

Both model kinds implement :class:`RiskEstimator`; their reason codes differ in origin but not in
meaning: the features that pushed *this* applicant's risk up the most.

- scorecard: points lost per feature versus the best bin of that feature (the classic adverse-action
  reason), see :meth:`riskpipe.models.woe.Scorecard.contributions`;
- LightGBM: exact TreeSHAP contributions in log-odds from ``Booster.predict(pred_contrib=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from riskpipe.errors import RiskpipeError


class ScoringInputError(RiskpipeError):
    """Rows to score lack a feature or carry a non-numeric value."""


@dataclass(frozen=True)
class ScoreScale:
    """Maps a probability of the bad outcome onto a points scale (higher points = lower risk).

    ``score = offset + factor * ln(odds good:bad)`` with ``factor = pdo / ln 2`` so that ``pdo`` points
    double the odds and ``base_score`` sits at ``base_odds``.
    """

    pdo: float = 20.0
    base_score: float = 600.0
    base_odds: float = 50.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def points(self, pd_: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(pd_, dtype=float), 1e-12, 1 - 1e-12)
        return self.offset + self.factor * np.log((1 - p) / p)

    def probability(self, points: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp((np.asarray(points, dtype=float) - self.offset) / self.factor))


@dataclass(frozen=True)
class Bands:
    """Decision bands on the PD: approve below ``approve_max_pd``, decline from ``decline_min_pd``."""

    approve_max_pd: float = 0.05
    decline_min_pd: float = 0.20

    def band(self, pd_: np.ndarray) -> np.ndarray:
        p = np.asarray(pd_, dtype=float)
        return np.where(p < self.approve_max_pd, "approve", np.where(p >= self.decline_min_pd, "decline", "refer"))


class RiskEstimator(Protocol):
    """What both model kinds provide (fitted, pickle-able, no MLflow dependency).

    ``X`` is a frame holding the model's feature columns, or a float64 array whose columns are
    ``features`` in that order (the serving path: one row, no pandas).
    """

    kind: str
    features: list[str]
    scale: ScoreScale
    bands: Bands

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray: ...

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """n x p matrix: how much each feature raised this row's risk (>0 = adverse)."""
        ...

    def importance(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class ScoredRow:
    """One score: PD, points, band and the features that pushed the risk up, worst first."""

    probability: float
    score: float
    band: str
    reason_codes: list[str] = field(default_factory=list)


class WeightError(RiskpipeError, ValueError):
    """Sample weights that cannot weight a fit (wrong length, negative, not finite, all zero)."""


def check_weights(weight: np.ndarray | None, n: int) -> np.ndarray | None:
    """The sample weights of ``n`` training rows as float64 (None stays None: unweighted)."""
    if weight is None:
        return None
    w = np.asarray(weight, dtype=float)
    if w.shape != (n,):
        raise WeightError(f"sample weights have shape {w.shape}; one weight per training row ({n}) is needed")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise WeightError(f"sample weight at row {row} is {w[row]!r}; weights must be finite and >= 0")
    if w.sum() <= 0:
        raise WeightError("sample weights sum to 0: nothing to fit")
    return w


def feature_matrix(X: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The model's features as float64 (NaN = missing), or an error naming the column and row."""
    missing = [f for f in features if f not in X.columns]
    if missing:
        raise ScoringInputError(f"rows to score lack feature column(s) {missing}")
    try:  # fast path (one conversion for the whole block): numbers, bools and None/NaN
        values = np.asarray(X[features].to_numpy(), dtype="float64")
    except (TypeError, ValueError):  # something non-numeric: the column-wise path names it
        values = None
    if values is not None:  # numeric strings convert here as pd.to_numeric converts them below
        if np.isinf(values).any():
            row, col = (int(v[0]) for v in np.nonzero(np.isinf(values)))
            raise ScoringInputError(
                f"feature column {features[col]!r} has an infinite value {values[row, col]} at row {row}")
        return pd.DataFrame(values, columns=features, index=X.index)
    out = {}
    for f in features:
        col = X[f]
        if col.dtype == bool or pd.api.types.is_numeric_dtype(col):
            out[f] = col.astype("float64")
            continue
        conv = pd.to_numeric(col, errors="coerce")
        bad = conv.isna() & col.notna()
        if bad.any():
            row = bad.to_numpy().nonzero()[0][0]
            raise ScoringInputError(
                f"feature column {f!r} has a non-numeric value {col.iloc[row]!r} at row {row}"
            )
        out[f] = conv.astype("float64")
    frame = pd.DataFrame(out, index=X.index)
    inf = np.isinf(frame.to_numpy())
    if inf.any():
        row, col = (int(v[0]) for v in np.nonzero(inf))
        raise ScoringInputError(
            f"feature column {features[col]!r} has an infinite value {frame.iat[row, col]} at row {row}"
        )
    return frame


def feature_values(rows: list[Mapping[str, Any]], features: list[str]) -> np.ndarray:
    """Rows (dicts) as the float64 matrix :func:`feature_matrix` would give, without a DataFrame.

    The serving path scores one row; a frame costs more than the model. The same values convert
    (numbers, bools, numeric strings, None as NaN) and the same errors name the column and row.
    """
    try:
        values = np.asarray([[r[f] for f in features] for r in rows], dtype="float64").reshape(len(rows), len(features))
    except (KeyError, TypeError, ValueError):  # a missing column or a value that is not a number
        values = None
    if values is None or np.isinf(values).any():  # the frame path names what is wrong
        return feature_matrix(pd.DataFrame(list(rows)), features).to_numpy()
    return values


def model_matrix(X: pd.DataFrame | np.ndarray, features: list[str]) -> np.ndarray:
    """The float block a model scores: ``X``'s feature columns, or ``X`` itself when it is an array."""
    if isinstance(X, np.ndarray):
        if X.ndim != 2 or X.shape[1] != len(features):
            raise ScoringInputError(f"a feature array of shape {X.shape} does not hold the model's "
                                    f"{len(features)} features")
        return X.astype(np.float64, copy=False)
    return X[features].to_numpy(dtype=np.float64)


def top_reasons(contrib: np.ndarray, features: list[str], k: int) -> list[list[str]]:
    """Per row, the up to ``k`` features with the largest positive (adverse) contribution."""
    if contrib.size == 0:
        return [[] for _ in range(contrib.shape[0])]
    k = min(k, contrib.shape[1])
    # stable ordering: larger contribution first, ties by feature order
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    names = np.asarray(features, dtype=object)
    out: list[list[str]] = []
    for i in range(contrib.shape[0]):
        idx = order[i]
        keep = idx[contrib[i, idx] > 1e-9]
        out.append([str(n) for n in names[keep]])
    return out


def _as_frame(rows: pd.DataFrame | Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, Mapping):
        return pd.DataFrame([dict(rows)])
    return pd.DataFrame(list(rows))


def resolve_estimator(model: Any) -> RiskEstimator:
    """Accept an estimator, a loaded pyfunc model, or a model URI (``models:/credit_pd@champion``)."""
    if isinstance(model, str):
        import mlflow.pyfunc
        from mlflow.exceptions import MlflowException

        from riskpipe.models.registry import configure_mlflow

        configure_mlflow()
        uri = model
        try:
            model = mlflow.pyfunc.load_model(uri)
        except MlflowException as err:
            raise ScoringInputError(f"cannot load model {uri!r}: {err.message}") from None
    if hasattr(model, "unwrap_python_model"):
        model = model.unwrap_python_model()
    if hasattr(model, "estimator"):
        model = model.estimator
    if not hasattr(model, "predict_proba") or not hasattr(model, "contributions"):
        raise ScoringInputError(f"not a riskpipe model: {type(model).__name__}")
    return model


def _score_parts(est: RiskEstimator, M: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                               list[list[str]]]:
    p = est.predict_proba(M)
    k = k or getattr(est, "n_reasons", 4)
    return p, est.scale.points(p), est.bands.band(p), top_reasons(est.contributions(M), est.features, k)


def score_frame(est: RiskEstimator, X: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """probability, score, band, reason_codes (list of feature names) for every row of ``X``."""
    p, points, band, reasons = _score_parts(est, feature_matrix(X, est.features).to_numpy(), k)
    return pd.DataFrame({"probability": p, "score": points, "band": band, "reason_codes": reasons}, index=X.index)


def score_values(est: RiskEstimator, M: np.ndarray, k: int | None = None) -> list[ScoredRow]:
    """:func:`score` of a float64 matrix whose columns are ``est.features`` (see :func:`feature_values`)."""
    p, points, band, reasons = _score_parts(est, model_matrix(M, est.features), k)
    return [ScoredRow(float(a), float(b), str(c), list(d)) for a, b, c, d in zip(p, points, band, reasons, strict=True)]


def score(model: Any, rows: pd.DataFrame | Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[ScoredRow]:
    """Score rows with any riskpipe model: PD, points, band and reason codes per row."""
    est = resolve_estimator(model)
    out = score_frame(est, _as_frame(rows))
    return [
        ScoredRow(float(r.probability), float(r.score), str(r.band), list(r.reason_codes))
        for r in out.itertuples(index=False)
    ]


def score_table(model_uri: Any, df: pd.DataFrame) -> pd.DataFrame:
    """Batch scoring: ``df`` with probability, score, band and reason_codes (list) per row."""
    return score_frame(resolve_estimator(model_uri), df)
