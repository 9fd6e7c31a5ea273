"""LightGBM challenger (monotone, deterministic, exact SHAP reasons) and the evaluation metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.evaluate import auc, ks, metrics, psi, reliability
from riskpipe.models.explain import ScoringInputError, score, score_table
from riskpipe.models.gbm import fit_gbm
from tests.model.conftest import FAST_GBM, ROUNDS
from tests.model.synth import make_table

FEATURES = ["missed_payments", "utilisation", "income", "bureau_score", "noise_0", "noise_1", "noise_2"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table(n=5000, seed=5)


@pytest.fixture(scope="module")
def gbm(table):
    return fit_gbm(table, table["default_12m"].to_numpy(), FEATURES, monotone={"missed_payments": 1},
                   num_boost_round=ROUNDS, params=FAST_GBM)


def test_monotone_constraint_holds(table, gbm):
    rows = table.sample(300, random_state=2).reset_index(drop=True)
    pds = []
    for k in range(0, 9):
        r = rows.copy()
        r["missed_payments"] = float(k)
        pds.append(gbm.predict_proba(r))
    pds = np.array(pds)
    assert np.all(np.diff(pds, axis=0) >= -1e-12)
    assert np.mean(pds[-1] - pds[0]) > 0.05


def test_training_is_deterministic(table, gbm):
    again = fit_gbm(table, table["default_12m"].to_numpy(), FEATURES, monotone={"missed_payments": 1},
                    num_boost_round=ROUNDS, params=FAST_GBM)
    np.testing.assert_array_equal(gbm.predict_proba(table.head(500)), again.predict_proba(table.head(500)))


def test_shap_contributions_add_up_and_name_the_driver(table, gbm):
    rows = table.head(200)
    c = gbm.contributions(rows)
    bias = gbm.booster.predict(rows[FEATURES].to_numpy(float), pred_contrib=True)[:, -1]
    p = gbm.predict_proba(rows)
    np.testing.assert_allclose(c.sum(axis=1) + bias, np.log(p / (1 - p)), atol=1e-6)
    row = table.iloc[[0]].copy()
    row["missed_payments"], row["utilisation"], row["bureau_score"] = 9.0, 0.1, -1.5
    row["income"] = float(table["income"].quantile(0.9))
    s = score(gbm, row)[0]
    assert s.reason_codes[0] == "missed_payments"
    assert score(gbm, row)[0] == s


def test_score_table_columns_and_bad_input(table, gbm):
    out = score_table(gbm, table.head(20))
    assert list(out.columns) == ["probability", "score", "band", "reason_codes"]
    assert set(out["band"]) <= {"approve", "refer", "decline"}
    assert ((out["band"] == "decline") == (out["probability"] >= gbm.bands.decline_min_pd)).all()
    bad = table.head(3).copy()
    bad["income"] = bad["income"].astype(object)
    bad.loc[1, "income"] = "lots"
    with pytest.raises(ScoringInputError, match=r"'income'.*'lots'.*row 1"):
        score_table(gbm, bad)
    with pytest.raises(ScoringInputError, match="utilisation"):
        score_table(gbm, table.head(3).drop(columns=["utilisation"]))


def test_metrics_on_known_cases():
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.5, 20000)
    yy = (rng.random(20000) < p).astype(float)
    m = metrics(yy, p, truth=p)
    assert m["auc_ratio_to_best"] == pytest.approx(1.0)
    assert m["gini"] == pytest.approx(2 * m["auc"] - 1)
    assert m["ece"] < 0.02  # p is the true probability: well calibrated
    m2 = metrics(yy, np.clip(p * 3, 0, 1))
    assert m2["ece"] > 0.1 and m2["calibration_ratio"] > 2
    r = reliability(yy, p)
    assert len(r) == 10 and r["count"].sum() == 20000


def test_psi_detects_shift_and_missingness():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 20000)
    assert psi(a, rng.normal(0, 1, 20000)) < 0.01
    assert psi(a, rng.normal(1, 1, 20000)) > 0.25
    b = a.copy()
    b[:6000] = np.nan
    assert psi(a, b) > 0.25


def test_degenerate_features_train_and_score(table):
    """A constant and an all-missing column must not break binning, fitting or scoring."""
    from riskpipe.models.woe import fit_scorecard

    df = table.assign(const=1.0, empty=np.nan)
    feats = [*FEATURES, "const", "empty"]
    y = df["default_12m"].to_numpy()
    sc = fit_scorecard(df, y, feats)
    assert sc.coef["const"] == 0 and sc.coef["empty"] == 0
    gb = fit_gbm(df, y, feats, num_boost_round=5, params=FAST_GBM)
    for est in (sc, gb):
        out = score_table(est, df.head(10))
        assert out["probability"].between(0, 1).all()
        assert all("const" not in r and "empty" not in r for r in out["reason_codes"])


def test_infinite_values_are_refused_with_row(table, gbm):
    bad = table.head(5).copy()
    bad.loc[2, "utilisation"] = np.inf
    with pytest.raises(ScoringInputError, match=r"'utilisation'.*infinite.*row 2"):
        score_table(gbm, bad)


def test_array_scoring_equals_frame_scoring_for_both_kinds(table, gbm):
    """The serving path (feature_values + score_values, no DataFrame) gives what batch scoring gives,
    one row or many, with missing values, bools and numeric strings, and refuses what the frame path
    refuses with the same message."""
    from riskpipe.models.explain import feature_values, score_values
    from riskpipe.models.woe import fit_scorecard

    card = fit_scorecard(table, table["default_12m"].to_numpy(), FEATURES)
    rows = table[FEATURES].head(40).astype(object)
    rows.iloc[3, 0] = None  # missing
    rows.iloc[4, 1] = np.nan
    rows.iloc[5, 2] = str(rows.iloc[5, 2])  # a numeric string converts on both paths
    rows.iloc[6, 4] = True
    dicts = rows.to_dict("records")
    M = feature_values(dicts, FEATURES)
    assert M.shape == (40, len(FEATURES)) and M.dtype == np.float64
    assert np.isnan(M[3, 0]) and np.isnan(M[4, 1]) and M[6, 4] == 1.0
    for est in (card, gbm):
        batch = score(est, rows)
        assert score_values(est, M) == batch
        assert [score_values(est, feature_values([d], FEATURES))[0] for d in dicts[:8]] == batch[:8]
    bad = [dict(d) for d in dicts[:3]]
    bad[1]["income"] = "lots"
    with pytest.raises(ScoringInputError, match=r"'income'.*'lots'.*row 1"):
        feature_values(bad, FEATURES)
    bad[1]["income"] = np.inf
    with pytest.raises(ScoringInputError, match=r"'income'.*infinite.*row 1"):
        feature_values(bad, FEATURES)
    with pytest.raises(ScoringInputError, match="utilisation"):
        feature_values([{k: v for k, v in dicts[0].items() if k != "utilisation"}], FEATURES)
    with pytest.raises(ScoringInputError, match="shape"):
        score_values(gbm, M[:, :3])
