"""The scorecard: monotone bins, missing as its own bin, points that add up, reasons that make sense."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.explain import ScoreScale, score
from riskpipe.models.woe import bin_feature, fit_scorecard
from tests.model.synth import make_table

FEATURES = ["missed_payments", "utilisation", "income", "bureau_score", "noise_0", "noise_1", "noise_2"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table(n=5000, seed=11)


@pytest.fixture(scope="module")
def card(table):
    return fit_scorecard(table, table["default_12m"].to_numpy(), FEATURES)


def test_bins_are_monotone_in_risk_and_merge_small_bins():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 20000)
    # non-monotone wiggle on top of a rising trend: binning must iron it out
    p = 1 / (1 + np.exp(-(-3 + 0.3 * x + 0.6 * np.sin(3 * x))))
    y = (rng.random(len(x)) < p).astype(float)
    fb = bin_feature("x", x, y, max_bins=20, min_bin_frac=0.05)
    assert fb.direction == 1
    assert np.all(np.diff(fb.woe) >= 0), fb.woe
    assert fb.counts.min() >= 0.05 * len(x)
    assert len(fb.woe) >= 2


def test_declared_direction_wins_and_missing_is_its_own_bin():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(-1 - x)))).astype(float)  # risk falls with x
    x[:500] = np.nan
    y[:500] = 1.0  # missing is very risky
    fb = bin_feature("x", x, y, direction=-1)
    assert np.all(np.diff(fb.woe) <= 0)
    assert fb.missing_count == 500
    assert fb.missing_woe > fb.woe.max()  # the missing bin keeps its own (high) risk
    assert fb.index(np.array([np.nan]))[0] == -1


def test_more_missed_payments_never_lowers_pd(table, card):
    rows = table.sample(300, random_state=3).reset_index(drop=True)
    pds = []
    for k in range(0, 9):
        r = rows.copy()
        r["missed_payments"] = float(k)
        pds.append(card.predict_proba(r))
    pds = np.array(pds)
    assert np.all(np.diff(pds, axis=0) >= -1e-12)
    assert np.all(pds[-1] > pds[0])  # and it does matter
    assert card.coef["missed_payments"] > 0


def test_points_add_up_to_the_score(table, card):
    rows = table.head(50)
    pts = card.base_points
    total = np.full(len(rows), pts)
    for f in card.features:
        p, miss = card.points_of(f)
        idx = card.bins[f].index(rows[f].to_numpy(float))
        total += np.where(idx < 0, miss, p[np.clip(idx, 0, len(p) - 1)])
    np.testing.assert_allclose(total, card.scale.points(card.predict_proba(rows)), atol=1e-6)


def test_noise_gets_no_or_little_weight(card):
    imp = card.importance()
    assert imp["missed_payments"] > max(imp["noise_0"], imp["noise_1"], imp["noise_2"]) * 3


def test_same_input_same_score_and_reason_names_the_driver(table, card):
    row = table.iloc[[0]].copy()
    row["missed_payments"] = 8.0
    row["utilisation"] = 0.05
    row["income"] = float(table["income"].quantile(0.95))
    row["bureau_score"] = -2.0
    a, b = score(card, row), score(card, row)
    assert a == b
    assert a[0].reason_codes[0] == "missed_payments"
    good = row.copy()
    good["missed_payments"] = 0.0
    assert "missed_payments" not in score(card, good)[0].reason_codes  # best bin loses no points


def test_score_scale_doubles_odds_every_pdo():
    s = ScoreScale(pdo=20, base_score=600, base_odds=50)
    p50 = 1 / 51
    assert s.points(np.array([p50]))[0] == pytest.approx(600)
    p100 = 1 / 101
    assert s.points(np.array([p100]))[0] == pytest.approx(620)
    np.testing.assert_allclose(s.probability(s.points(np.array([0.1, 0.3]))), [0.1, 0.3])


def test_declared_directions_are_kept_on_the_card(table):
    sc = fit_scorecard(table, table["default_12m"].to_numpy(), ["missed_payments", "income"],
                       monotone={"missed_payments": 1})
    assert sc.monotone == {"missed_payments": 1}
    assert sc.bins["missed_payments"].direction == 1 and sc.bins["income"].direction == -1  # inferred


def test_table_lists_every_bin(card):
    t = card.table()
    assert set(t["feature"]) == set(FEATURES)
    assert "missing" in set(t.loc[t.feature == "bureau_score", "bin"])
    mp = t[t.feature == "missed_payments"]
    assert mp["points"].is_monotonic_decreasing  # more missed payments, fewer points


def test_collinearity_cannot_flip_a_features_direction():
    """b rises with risk on its own but has a negative partial effect given a: an unconstrained
    logistic fit on the WOE gives b a negative weight (so more b would *lower* PD against its own
    bins); the scorecard keeps every weight >= 0, so PD never falls as b rises."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    n = 8000
    a = rng.normal(0, 1, n)
    b = a + rng.normal(0, 0.6, n)
    c = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 2.0 * a - 0.8 * b + 0.8 * c)))).astype(float)
    df = pd.DataFrame({"a": a, "b": b, "c": c})
    sc = fit_scorecard(df, y, ["a", "b", "c"], min_iv=0.0)
    assert sc.bins["b"].direction == 1
    Z = np.column_stack([sc.bins[f].transform(df[f].to_numpy()) for f in "abc"])
    assert LogisticRegression(C=1e6).fit(Z, y).coef_[0][1] < 0  # the trap is real
    assert min(sc.coef.values()) >= 0
    rows = df.sample(200, random_state=0).reset_index(drop=True)
    grid = np.linspace(-3, 3, 13)
    pds = np.array([sc.predict_proba(rows.assign(b=v)) for v in grid])
    assert np.all(np.diff(pds, axis=0) >= -1e-12)
