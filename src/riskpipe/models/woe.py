"""Transparent baseline: WOE binning + logistic regression, expressed as a points scorecard.

Why these choices:

- **Quantile bins, merged until monotone and large enough.** Start from quantile cut points (or the
  distinct values of a discrete feature), then merge adjacent bins whose (smoothed) WOE goes against
  the feature's risk direction, and bins smaller than ``min_bin_frac`` of the rows unless they carry
  evidence of their own: at least ``min_bin_bads`` bad and as many good rows. A scorecard whose
  points jump up and down with a feature cannot be explained to a regulator or a customer. The
  evidence clause keeps rare values that matter: a 0/1 flag set on 2% of transactions (a new device)
  would otherwise be merged into the common bin and lose its points altogether.
- **Missing is its own bin**: a missing bureau record is information, not noise to impute away.
- **Non-negative coefficients on the risk-WOE.** Each feature enters as ``z = ln(%bad / %good)`` of
  its bin; the logistic fit constrains every coefficient to be >= 0. Together with monotone bins this
  makes the scorecard monotone *by construction*: if more missed payments never means a lower bin
  WOE, it can never mean a lower PD, whatever the collinearity among the features.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskpipe.models.explain import Bands, ScoreScale, check_weights, model_matrix

log = logging.getLogger(__name__)

SMOOTH = 0.5  # additive smoothing of bin counts: keeps WOE finite for pure bins
#: a bin below ``min_bin_frac`` of the rows stays when it holds at least this many bad and good rows
#: (summed weights): the standard error of its WOE is then at most about sqrt(2 / 50) = 0.2
MIN_BIN_BADS = 50.0


@dataclass
class FeatureBins:
    """Bins of one feature: right-closed intervals cut at ``edges``, plus a missing bin."""

    name: str
    direction: int  # +1: risk rises with the value, -1: risk falls
    edges: np.ndarray  # k-1 cut points for k numeric bins; bin i = (edges[i-1], edges[i]]
    counts: np.ndarray
    bads: np.ndarray
    missing_count: float  # rows (or their summed weight) with no value
    missing_bads: float
    woe: np.ndarray = field(default_factory=lambda: np.zeros(0))  # risk-WOE per numeric bin
    missing_woe: float = 0.0

    def index(self, x: np.ndarray) -> np.ndarray:
        """Bin index per value; -1 for missing."""
        idx = np.searchsorted(self.edges, x, side="left")
        return np.where(np.isnan(x), -1, idx)

    def lookup(self, per_bin: np.ndarray, missing: float, x: np.ndarray) -> np.ndarray:
        """``per_bin[bin of x]``, ``missing`` where x is NaN (three array operations: serving calls
        this for every feature of every request)."""
        idx = np.searchsorted(self.edges, x, side="left")  # NaN sorts last: a valid index, replaced below
        return np.where(np.isnan(x), missing, per_bin[np.minimum(idx, len(per_bin) - 1)])

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Risk-WOE (ln %bad/%good) of each value's bin."""
        return self.lookup(self.woe, self.missing_woe, x)

    def labels(self) -> list[str]:
        lo = [-np.inf, *self.edges]
        hi = [*self.edges, np.inf]
        return [f"({a:g}, {b:g}]" for a, b in zip(lo, hi, strict=True)]

    def information_value(self) -> float:
        goods = self.counts - self.bads
        tb = self.bads.sum() + self.missing_bads
        tg = goods.sum() + (self.missing_count - self.missing_bads)
        if tb <= 0 or tg <= 0:
            return 0.0
        db = np.append(self.bads, self.missing_bads) / tb
        dg = np.append(goods, self.missing_count - self.missing_bads) / tg
        w = np.append(self.woe, self.missing_woe)
        return float(np.sum((db - dg) * w))


def _woe(bads: np.ndarray, counts: np.ndarray, total_bad: float, total_good: float, k: int) -> np.ndarray:
    goods = counts - bads
    db = (bads + SMOOTH) / (total_bad + SMOOTH * k)
    dg = (goods + SMOOTH) / (total_good + SMOOTH * k)
    return np.log(db / dg)


def _merge(edges: list[float], counts: list[float], bads: list[float], i: int) -> None:
    """Merge bin i with bin i+1 in place."""
    counts[i] += counts.pop(i + 1)
    bads[i] += bads.pop(i + 1)
    edges.pop(i)


def _lower_quantiles(x: np.ndarray, q: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """Quantiles that are data values (numpy's ``lower``); weighted: the smallest value whose
    cumulative weight share reaches ``q``."""
    if weight is None:
        return np.quantile(x, q, method="lower")
    order = np.argsort(x, kind="stable")
    share = np.cumsum(weight[order]) / weight.sum()
    return x[order][np.minimum(np.searchsorted(share, q, side="left"), len(x) - 1)]


def bin_feature(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_bins: int = 10,
    min_bin_frac: float = 0.05,
    min_bin_bads: float | None = MIN_BIN_BADS,
    direction: int | None = None,
    sample_weight: np.ndarray | None = None,
) -> FeatureBins:
    """Monotone quantile binning of one numeric feature against a 0/1 label.

    With ``sample_weight`` every count is a sum of weights (quantiles, bad rates, the minimum bin
    size, the direction): a row of weight 0.3 counts as 0.3 of a row, as reject inference needs.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    wt = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    miss = np.isnan(x)
    xv, yv, wv = x[~miss], y[~miss], wt[~miss]
    aw = None if sample_weight is None else wv  # None keeps the unweighted arithmetic exactly as it was
    total_bad, total_good = float(wt @ y), float(wt.sum() - wt @ y)
    if direction is None:
        if len(xv) > 1 and np.std(xv) > 0 and np.std(yv) > 0:
            direction = 1 if np.cov(xv, yv, aweights=aw)[0, 1] >= 0 else -1
        else:
            direction = 1
    if len(xv) == 0:
        edges_arr = np.zeros(0)
    else:
        uniq = np.unique(xv)
        if len(uniq) <= max_bins:
            edges_arr = uniq[:-1]
        else:
            edges_arr = np.unique(_lower_quantiles(xv, np.linspace(0, 1, max_bins + 1)[1:-1], aw))
            edges_arr = edges_arr[edges_arr < uniq[-1]]
    idx = np.searchsorted(edges_arr, xv, side="left")
    k = len(edges_arr) + 1
    counts = np.bincount(idx, weights=wv, minlength=k).astype(float).tolist()
    bads = np.bincount(idx, weights=wv * yv, minlength=k).astype(float).tolist()
    edges = edges_arr.astype(float).tolist()
    # drop empty bins (can arise from 'lower' quantiles)
    i = 0
    while i < len(counts) and len(counts) > 1:
        if counts[i] == 0:
            _merge(edges, counts, bads, i if i < len(counts) - 1 else i - 1)
        else:
            i += 1
    min_count = min_bin_frac * (float(wv.sum()) if len(xv) else 1.0)
    changed = True
    while changed and len(counts) > 1:
        changed = False
        w = _woe(np.array(bads), np.array(counts), total_bad, total_good, len(counts) + 1)
        for i in range(len(counts) - 1):
            if direction * (w[i + 1] - w[i]) < 0:  # against the risk direction
                _merge(edges, counts, bads, i)
                changed = True
                break
        if changed:
            continue
        small = [i for i, c in enumerate(counts) if c < min_count and not (
            min_bin_bads is not None and min(bads[i], c - bads[i]) >= min_bin_bads)]
        if small:
            i = min(small, key=lambda j: counts[j])
            if i == 0:
                _merge(edges, counts, bads, 0)
            elif i == len(counts) - 1:
                _merge(edges, counts, bads, i - 1)
            else:  # merge with the neighbour of closer risk
                left = abs(w[i] - w[i - 1])
                right = abs(w[i + 1] - w[i])
                _merge(edges, counts, bads, i - 1 if left <= right else i)
            changed = True
    fb = FeatureBins(
        name=name,
        direction=direction,
        edges=np.asarray(edges, dtype=float),
        counts=np.asarray(counts, dtype=float),
        bads=np.asarray(bads, dtype=float),
        missing_count=float(wt[miss].sum()) if sample_weight is not None else int(miss.sum()),
        missing_bads=float(wt[miss] @ y[miss]),
    )
    k = len(counts) + (1 if fb.missing_count else 0)
    fb.woe = _woe(fb.bads, fb.counts, total_bad, total_good, k)
    if fb.missing_count:
        fb.missing_woe = float(
            _woe(np.array([fb.missing_bads]), np.array([float(fb.missing_count)]), total_bad, total_good, k)[0]
        )
    return fb


def _fit_nonneg_logit(
    Z: np.ndarray, y: np.ndarray, l2: float, sample_weight: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Logistic regression with coefficients >= 0 (intercept free), by L-BFGS-B; the log loss is the
    weighted mean when ``sample_weight`` is given."""
    from scipy.optimize import minimize

    n, p = Z.shape
    share = np.full(n, 1.0 / n) if sample_weight is None else np.asarray(sample_weight, float) / np.sum(sample_weight)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[0] + Z @ theta[1:]
        # logloss = log(1+e^eta) - y*eta, computed stably
        loss = np.logaddexp(0.0, eta) - y * eta
        pr = 1.0 / (1.0 + np.exp(-eta))
        r = (pr - y) * share
        g = np.empty(p + 1)
        g[0] = r.sum()
        g[1:] = Z.T @ r + l2 * theta[1:]
        return float(loss @ share + 0.5 * l2 * theta[1:] @ theta[1:]), g

    base = np.clip(y @ share, 1e-6, 1 - 1e-6)
    theta0 = np.concatenate([[np.log(base / (1 - base))], np.full(p, 0.5)])
    bounds = [(None, None)] + [(0.0, None)] * p
    res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 500})
    return float(res.x[0]), np.asarray(res.x[1:])


@dataclass
class Scorecard:
    """A fitted WOE scorecard: bins, coefficients and the points table derived from them."""

    features: list[str]
    bins: dict[str, FeatureBins]
    intercept: float
    coef: dict[str, float]
    scale: ScoreScale
    bands: Bands
    n_reasons: int = 4
    monotone: dict[str, int] = field(default_factory=dict)  # declared directions (others inferred per feature)
    kind: str = "scorecard"

    # ---- scoring ---------------------------------------------------------------------------------
    def _matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The features as one float block (one conversion, not one per column: serving scores one row)."""
        return model_matrix(X, self.features)

    def _z(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        M = self._matrix(X)
        return np.column_stack([self.bins[f].transform(M[:, j]) for j, f in enumerate(self.features)])

    def log_odds(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Intercept plus each feature's WOE times its weight, added feature by feature in a fixed order:
        a row's value is then bit-identical whether it is scored alone (serving, replay) or in a batch.
        A matrix product is not: BLAS picks its summation order by shape and CPU (1 ulp apart)."""
        Z = self._z(X)
        eta = np.full(len(Z), self.intercept)
        for j, f in enumerate(self.features):
            eta = eta + Z[:, j] * self.coef[f]
        return eta

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(X)))

    def points_of(self, f: str) -> tuple[np.ndarray, float]:
        """Points of each numeric bin and of the missing bin of feature ``f``."""
        fb = self.bins[f]
        beta = self.coef[f]
        return -self.scale.factor * beta * fb.woe, -self.scale.factor * beta * fb.missing_woe

    @property
    def base_points(self) -> float:
        """Points everyone starts with; add the feature points to get the score."""
        return self.scale.offset - self.scale.factor * self.intercept

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Points lost per feature versus that feature's best bin (>= 0; larger = more adverse)."""
        out = np.empty((len(X), len(self.features)))
        M = self._matrix(X)
        for j, f in enumerate(self.features):
            pts, miss_pts = self.points_of(f)
            fb = self.bins[f]
            best = max(pts.max(), miss_pts if fb.missing_count else -np.inf)
            out[:, j] = best - fb.lookup(pts, miss_pts, M[:, j])
        return out

    def importance(self) -> dict[str, float]:
        """Spread of points a feature can move (best bin minus worst bin)."""
        imp = {}
        for f in self.features:
            pts, miss = self.points_of(f)
            allp = np.append(pts, miss) if self.bins[f].missing_count else pts
            imp[f] = float(allp.max() - allp.min())
        return imp

    def table(self) -> pd.DataFrame:
        """The scorecard as a person reads it: feature, bin, count, bad rate, WOE, points."""
        rows = []
        for f in self.features:
            fb = self.bins[f]
            pts, miss_pts = self.points_of(f)
            for lab, c, b, w, p in zip(fb.labels(), fb.counts, fb.bads, fb.woe, pts, strict=True):
                rows.append((f, lab, int(c), b / c if c else np.nan, -w, round(float(p), 2)))
            if fb.missing_count:
                rows.append(
                    (f, "missing", fb.missing_count, fb.missing_bads / fb.missing_count, -fb.missing_woe,
                     round(float(miss_pts), 2))
                )
        return pd.DataFrame(rows, columns=["feature", "bin", "count", "bad_rate", "woe", "points"])


def fit_scorecard(
    X: pd.DataFrame,
    y: np.ndarray,
    features: list[str],
    *,
    monotone: dict[str, int] | None = None,
    scale: ScoreScale | None = None,
    bands: Bands | None = None,
    max_bins: int = 10,
    min_bin_frac: float = 0.05,
    min_bin_bads: float | None = MIN_BIN_BADS,
    l2: float = 1e-4,
    min_iv: float = 0.02,
    n_reasons: int = 4,
    sample_weight: np.ndarray | None = None,
) -> Scorecard:
    """Bin every feature, fit the constrained logistic regression, return the scorecard.

    ``sample_weight`` (one non-negative weight per row) weights the binning and the regression alike.
    """
    y = np.asarray(y, dtype=float)
    sample_weight = check_weights(sample_weight, len(y))
    monotone = monotone or {}
    bins = {
        f: bin_feature(f, X[f].to_numpy(dtype=float), y, max_bins=max_bins, min_bin_frac=min_bin_frac,
                       min_bin_bads=min_bin_bads, direction=monotone.get(f) or None, sample_weight=sample_weight)
        for f in features
    }
    # weak features (information value below min_iv) get no points: fewer lines on the card,
    # and noise cannot pick up weight by chance
    active = [f for f in features if bins[f].information_value() >= min_iv] or list(features)
    Z = np.column_stack([bins[f].transform(X[f].to_numpy(dtype=float)) for f in active])
    b0, beta = _fit_nonneg_logit(Z, y, l2, sample_weight)
    coef = {f: 0.0 for f in features}
    coef.update(zip(active, (float(b) for b in beta), strict=True))
    log.info("scorecard: %d features, %d pass IV >= %s, %d with weight > 0", len(features), len(active), min_iv,
             sum(b > 1e-9 for b in beta))
    return Scorecard(
        features=list(features), bins=bins, intercept=b0, coef=coef, scale=scale or ScoreScale(),
        bands=bands or Bands(), n_reasons=n_reasons, monotone=dict(monotone),
    )
