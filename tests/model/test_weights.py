"""Sample weights reach both fits: the scorecard (binning and regression) and LightGBM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.explain import WeightError
from riskpipe.models.gbm import fit_gbm
from riskpipe.models.woe import bin_feature, fit_scorecard
from tests.model.conftest import FAST_GBM, ROUNDS
from tests.model.synth import make_table

FEATURES = ["missed_payments", "utilisation", "income", "bureau_score"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table(n=3000, seed=5, n_noise=0)


def test_integer_weights_bin_and_fit_like_repeated_rows():
    """A row of weight k counts as k rows: bins, WOE and coefficients equal those of the repeated table."""
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame({"a": rng.integers(0, 6, n).astype(float), "b": rng.integers(0, 4, n).astype(float)})
    X.loc[rng.random(n) < 0.1, "b"] = np.nan
    p = 1 / (1 + np.exp(-(-2 + 0.5 * X["a"] - 0.4 * X["b"].fillna(5))))
    y = (rng.random(n) < p).astype(float)
    w = rng.integers(1, 4, n).astype(float)
    rep = np.repeat(np.arange(n), w.astype(int))

    fb_w = bin_feature("b", X["b"].to_numpy(), y, sample_weight=w)
    fb_r = bin_feature("b", X["b"].to_numpy()[rep], y[rep])
    np.testing.assert_array_equal(fb_w.edges, fb_r.edges)
    np.testing.assert_allclose(fb_w.counts, fb_r.counts)
    np.testing.assert_allclose(fb_w.bads, fb_r.bads)
    np.testing.assert_allclose(fb_w.woe, fb_r.woe)
    assert fb_w.missing_count == pytest.approx(fb_r.missing_count)
    assert fb_w.missing_woe == pytest.approx(fb_r.missing_woe)

    sc_w = fit_scorecard(X, y, ["a", "b"], sample_weight=w)
    sc_r = fit_scorecard(X.iloc[rep].reset_index(drop=True), y[rep], ["a", "b"])
    sc_1 = fit_scorecard(X, y, ["a", "b"])
    for f in ("a", "b"):
        assert sc_w.coef[f] == pytest.approx(sc_r.coef[f], rel=1e-3, abs=1e-4)
    assert sc_w.intercept == pytest.approx(sc_r.intercept, rel=1e-3, abs=1e-4)
    # and the weights did change the fit (the unweighted one differs)
    assert not np.allclose(sc_w.predict_proba(X), sc_1.predict_proba(X), rtol=1e-3)


def test_weights_move_the_quantile_edges():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 10, 5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(-3 + 0.6 * x)))).astype(float)  # steep: bins stay monotone
    w = np.where(x > 5, 0.0, 1.0)  # rows above 5 weigh nothing: every quantile falls at or below 5
    fb = bin_feature("x", x, y, max_bins=10, min_bin_frac=0.0, direction=1, sample_weight=w)
    plain = bin_feature("x", x, y, max_bins=10, min_bin_frac=0.0, direction=1)
    assert fb.counts.sum() == pytest.approx(w.sum())
    assert plain.edges.max() > 6 and (len(fb.edges) == 0 or fb.edges.max() <= 5)


def test_weights_change_both_models(table):
    X, y = table, table["default_12m"].to_numpy(float)
    heavy_bads = np.where(y == 1, 3.0, 1.0)  # bads count three times: odds of bad x3, PDs rise
    sc, sc_w = (fit_scorecard(X, y, FEATURES, sample_weight=w) for w in (None, heavy_bads))
    gb, gb_w = (fit_gbm(X, y, FEATURES, num_boost_round=ROUNDS, params=FAST_GBM, sample_weight=w)
                for w in (None, heavy_bads))
    for plain, weighted in ((sc, sc_w), (gb, gb_w)):
        p0, p1 = plain.predict_proba(X), weighted.predict_proba(X)
        assert p1.mean() > 1.5 * p0.mean(), plain.kind
        assert p1.mean() == pytest.approx(np.average(y, weights=heavy_bads), rel=0.15), plain.kind


def test_bad_weights_are_refused_with_the_row(table):
    y = table["default_12m"].to_numpy(float)
    w = np.ones(len(y))
    w[17] = -1.0
    with pytest.raises(WeightError, match="row 17"):
        fit_scorecard(table, y, FEATURES, sample_weight=w)
    with pytest.raises(WeightError, match=r"one weight per training row \(3000\)"):
        fit_gbm(table, y, FEATURES, num_boost_round=5, sample_weight=w[:10])
    with pytest.raises(WeightError, match="sum to 0"):
        fit_gbm(table, y, FEATURES, num_boost_round=5, sample_weight=np.zeros(len(y)))
