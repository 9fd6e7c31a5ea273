"""Benchmark: training time of the WOE scorecard and the LightGBM challenger.

Scale "full": 1,000,000 rows x 60 features; "small": 100,000 x 60. The anchor is a plain scikit-learn
``LogisticRegression`` (lbfgs) fitted on the same matrix (NaN filled with column medians, as it
cannot take missing values) in the same run, so the ratio is comparable across machines. Lower
time and lower ratio are better. A last row times the whole ``train_model`` flow (both models,
OOT evaluation, plots, MLflow logging and registration into a throw-away SQLite store).
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pandas as pd

ROWS = {"small": 100_000, "full": 1_000_000}
N_FEATURES = 60
ROUNDS = 200


def make_matrix(n: int, p: int = N_FEATURES, seed: int = 0) -> pd.DataFrame:
    """A credit-like table: 12 informative features (some discrete, some with missing values), noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, p)).astype(np.float64)
    X[:, 0] = rng.poisson(0.8, n)  # missed payments
    X[:, 1] = rng.beta(2, 3, n)  # utilisation
    X[rng.random(n) < 0.1, 3] = np.nan  # a bureau field, sometimes missing
    w = np.zeros(p)
    w[:12] = [0.7, 1.8, -0.4, 0.4, 0.3, -0.3, 0.25, 0.2, -0.2, 0.15, 0.1, 0.1]
    logit = -3.0 + np.nan_to_num(X) @ w
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    df = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(p)])
    months = rng.integers(0, 12, n)
    df["application_date"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(months * 31, unit="D")
    df["default"] = y
    return df


def _timed(fn) -> tuple[float, object]:  # noqa: ANN001
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(scale: str) -> list[dict]:
    from sklearn.linear_model import LogisticRegression

    from riskpipe.models.gbm import fit_gbm
    from riskpipe.models.woe import fit_scorecard

    n = ROWS[scale]
    df = make_matrix(n)
    feats = [c for c in df.columns if c.startswith("f")]
    y = df["default"].to_numpy()
    X = df[feats]
    filled = X.fillna(X.median()).to_numpy()
    anchor, _ = _timed(lambda: LogisticRegression(max_iter=200).fit(filled, y))
    shape = f"{n:,} rows x {len(feats)} features"
    rows = []
    t_sc, _ = _timed(lambda: fit_scorecard(X, y, feats, monotone={"f00": 1}))
    rows.append({
        "name": "train_scorecard", "figure": round(t_sc, 2), "unit": "s", "anchor": "sklearn LogisticRegression fit",
        "anchor_figure": round(anchor, 2), "ratio": round(t_sc / anchor, 2),
        "goal": "ratio <= 5 (binning + constrained fit within a few plain LR fits)",
        "note": f"{shape}; WOE binning of every feature + non-negative logistic fit; lower is better",
    })
    t_gb, _ = _timed(lambda: fit_gbm(X, y, feats, monotone={"f00": 1}, num_boost_round=ROUNDS))
    rows.append({
        "name": "train_lightgbm", "figure": round(t_gb, 2), "unit": "s", "anchor": "sklearn LogisticRegression fit",
        "anchor_figure": round(anchor, 2), "ratio": round(t_gb / anchor, 2),
        "goal": "< 120 s at full scale on 2 cores",
        "note": f"{shape}; {ROUNDS} rounds, num_threads=2, deterministic, monotone on f00; lower is better",
    })
    t_flow = _flow(df, feats)
    rows.append({
        "name": "train_model_end_to_end", "figure": round(t_flow, 2), "unit": "s",
        "anchor": "sklearn LogisticRegression fit", "anchor_figure": round(anchor, 2), "ratio": round(t_flow / anchor, 2),
        "goal": "< 300 s at full scale",
        "note": f"{shape}; both models + OOT metrics, plots, cards, eval-set artifact, MLflow (SQLite) registration; "
                "lower is better",
    })
    return rows


def _flow(df: pd.DataFrame, feats: list[str]) -> float:
    from riskpipe.models.config import get_model_settings
    from riskpipe.models.train import train_model
    from riskpipe.settings import reset_settings

    old = os.environ.get("RISKPIPE_DATA_DIR")
    old_uri = os.environ.pop("RISKPIPE_MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as d:
        os.environ["RISKPIPE_DATA_DIR"] = d
        reset_settings()
        get_model_settings.cache_clear()
        try:
            t, _ = _timed(lambda: train_model(df, "default", feats, "application_date", "bench_train",
                                              monotone={"f00": 1}, num_boost_round=ROUNDS))
        finally:
            if old is None:
                os.environ.pop("RISKPIPE_DATA_DIR", None)
            else:
                os.environ["RISKPIPE_DATA_DIR"] = old
            if old_uri is not None:
                os.environ["RISKPIPE_MLFLOW_TRACKING_URI"] = old_uri
            reset_settings()
    return t


if __name__ == "__main__":
    import json
    import sys

    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        sys.stdout.write(json.dumps(row) + "\n")
