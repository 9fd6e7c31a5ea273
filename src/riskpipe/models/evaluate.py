"""Out-of-time evaluation: discrimination, calibration, stability, and the plots a reviewer reads.

Everything here is a pure function of labels and scores so that promotion can re-score two models on
the same OOT rows and compare like with like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, p))


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score CDFs of bads and goods."""
    from sklearn.metrics import roc_curve

    if len(np.unique(y)) < 2:
        return float("nan")
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability curve on quantile bins of the prediction: mean predicted vs observed rate."""
    p = np.asarray(p, float)
    y = np.asarray(y, float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    df = pd.DataFrame({"bin": idx, "p": p, "y": y})
    g = df.groupby("bin").agg(mean_predicted=("p", "mean"), observed=("y", "mean"), count=("y", "size"))
    return g.reset_index(drop=True)


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: count-weighted mean |predicted - observed| over the curve."""
    r = reliability(y, p, bins)
    return float(np.sum(r["count"] * (r["mean_predicted"] - r["observed"]).abs()) / r["count"].sum())


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (deciles of expected).

    Missing values form their own bin, so a feature going missing more often shows up as a shift.
    """
    e = np.asarray(expected, float)
    a = np.asarray(actual, float)
    ev, av = e[~np.isnan(e)], a[~np.isnan(a)]
    if len(ev) == 0:
        edges = np.zeros(0)
    else:
        edges = np.unique(np.quantile(ev, np.linspace(0, 1, bins + 1)[1:-1]))

    def dist(v: np.ndarray, nan_count: int, n: int) -> np.ndarray:
        c = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1).astype(float)
        return np.append(c, nan_count) / max(n, 1)

    de = dist(ev, len(e) - len(ev), len(e))
    da = dist(av, len(a) - len(av), len(a))
    eps = 1e-4
    de, da = np.maximum(de, eps), np.maximum(da, eps)
    return float(np.sum((da - de) * np.log(da / de)))


def metrics(y: np.ndarray, p: np.ndarray, truth: np.ndarray | None = None) -> dict[str, float]:
    """AUC, KS, Gini, Brier, ECE, calibration ratio (mean p / rate) and, with truth, AUC ratio."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    a = auc(y, p)
    rate = float(y.mean()) if len(y) else float("nan")
    out = {
        "auc": a,
        "ks": ks(y, p),
        "gini": 2 * a - 1,
        "brier": brier(y, p),
        "ece": ece(y, p),
        "calibration_ratio": float(p.mean() / rate) if rate > 0 else float("nan"),
        "bad_rate": rate,
        "n": float(len(y)),
    }
    if truth is not None:
        best = auc(y, np.asarray(truth, float))
        out["best_auc"] = best
        out["auc_ratio_to_best"] = a / best if best and not np.isnan(best) else float("nan")
    return out


# ---- plots ----------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_all(
    out_dir: Path,
    y: np.ndarray,
    p: np.ndarray,
    train_scores: np.ndarray,
    oot_scores: np.ndarray,
    importance: dict[str, float],
    title: str,
) -> list[Path]:
    """ROC, KS, calibration, score distribution and feature importance PNGs; returns their paths."""
    from sklearn.metrics import roc_curve

    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    def save(fig, name: str) -> None:
        path = out_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=72)
        plt.close(fig)
        paths.append(path)

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {auc(y, p):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC (OOT) - {title}")
    ax.legend(loc="lower right")
    save(fig, "roc.png")

    order = np.sort(p)
    bad, good = np.sort(p[y == 1]), np.sort(p[y == 0])
    cdf_b = np.searchsorted(bad, order, side="right") / max(len(bad), 1)
    cdf_g = np.searchsorted(good, order, side="right") / max(len(good), 1)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(order, cdf_g, label="goods")
    ax.plot(order, cdf_b, label="bads")
    ax.set(xlabel="predicted PD", ylabel="cumulative share", title=f"KS {ks(y, p):.3f} (OOT) - {title}")
    ax.legend()
    save(fig, "ks.png")

    r = reliability(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    hi = float(max(r["mean_predicted"].max(), r["observed"].max(), 1e-3))
    ax.plot([0, hi], [0, hi], "k--", lw=0.8)
    ax.plot(r["mean_predicted"], r["observed"], "o-")
    ax.set(xlabel="mean predicted PD", ylabel="observed bad rate", title=f"Calibration, Brier {brier(y, p):.4f}")
    save(fig, "calibration.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(train_scores, bins=40, alpha=0.5, density=True, label="train")
    ax.hist(oot_scores, bins=40, alpha=0.5, density=True, label="OOT")
    ax.set(xlabel="score (points)", ylabel="density", title=f"Score distribution, PSI {psi(train_scores, oot_scores):.3f}")
    ax.legend()
    save(fig, "score_distribution.png")

    top = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:20][::-1]
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.3 * len(top) + 1)))
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set(title=f"Feature importance - {title}")
    save(fig, "feature_importance.png")
    return paths
