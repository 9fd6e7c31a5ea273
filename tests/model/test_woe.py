"""The scorecard: monotone bins, missing as its own bin, points that add up, reasons that make sense."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.explain import ScoreScale, score
from riskpipe.models.woe import MIN_BIN_BADS, bin_feature, fit_scorecard
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
    # a bin under 5% of the rows only with evidence of its own (MIN_BIN_BADS bad and good rows)
    small = fb.counts < 0.05 * len(x)
    assert np.all(np.minimum(fb.bads, fb.counts - fb.bads)[small] >= MIN_BIN_BADS), (fb.counts, fb.bads)
    assert len(fb.woe) >= 2
    strict = bin_feature("x", x, y, max_bins=20, min_bin_frac=0.05, min_bin_bads=None)
    assert strict.counts.min() >= 0.05 * len(x)
    assert np.all(np.diff(strict.woe) >= 0), strict.woe


def _rare_flag(n: int, flagged: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 0/1 flag on ``flagged`` of ``n`` rows that multiplies the bad rate by 20 (1% -> 20%)."""
    rng = np.random.default_rng(seed)
    flag = np.zeros(n)
    flag[rng.choice(n, flagged, replace=False)] = 1.0
    y = (rng.random(n) < np.where(flag == 1, 0.2, 0.01)).astype(float)
    return flag, y


def test_a_rare_value_with_evidence_keeps_its_own_bin():
    # a new-device flag on 2% of transactions: under min_bin_frac, but ~200 bad rows of its own
    flag, y = _rare_flag(50_000, 1000, seed=4)
    fb = bin_feature("new_device", flag, y)
    assert len(fb.woe) == 2
    assert fb.counts[1] == 1000
    assert fb.woe[1] - fb.woe[0] > 2.5  # ln(20) = 3.0 apart, less the smoothing
    # without the evidence clause the rule of 5% merges the flag away: it would get no points
    assert len(bin_feature("new_device", flag, y, min_bin_bads=None).woe) == 1
    # on 100 rows (~20 bads) its risk is too uncertain for a bin of its own
    few, y_few = _rare_flag(50_000, 100, seed=5)
    assert len(bin_feature("new_device", few, y_few).woe) == 1


def test_a_rare_flag_gets_points_on_the_card():
    rng = np.random.default_rng(6)
    flag, y = _rare_flag(50_000, 1000, seed=7)
    X = pd.DataFrame({"new_device": flag, "noise": rng.normal(size=len(y))})
    card = fit_scorecard(X, y, ["new_device", "noise"])
    assert card.coef["new_device"] > 0.5
    p = card.predict_proba(pd.DataFrame({"new_device": [0.0, 1.0], "noise": [0.0, 0.0]}))
    assert p[1] / p[0] > 10


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
