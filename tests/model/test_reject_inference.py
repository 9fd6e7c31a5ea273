"""Reject inference: fuzzy augmentation, and the through-the-door AUC against the true outcomes.

The population is built here with a known selection bias: the policy declines on a bureau score that
carries risk, so the accepts see a truncated range of it; every applicant's true outcome is drawn, as
the generator does, so the declined applicants' outcomes are known to the evaluation only.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from riskpipe.models.reject import OUTCOME, fuzzy_augment
from riskpipe.models.train import TrainInputError, train_model
from tests.model.conftest import FAST_GBM, ROUNDS


def through_the_door(n: int = 8000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 240, n), unit="D")
    bureau = rng.normal(0, 1, n)
    burden = rng.normal(0, 1, n)
    other = rng.normal(0, 1, n)
    p = 1 / (1 + np.exp(-(-2.2 - 1.0 * bureau + 0.6 * burden + 0.5 * other)))
    approved = bureau - 0.5 * burden + rng.normal(0, 0.5, n) > -0.3  # the policy: about 40 % declined
    return pd.DataFrame({
        "application_id": np.arange(n), "applied_at": t, "bureau_score": bureau, "burden": burden,
        "other": other, "decision": np.where(approved, "approved", "declined"),
        OUTCOME: (rng.random(n) < p).astype(int),
    }).sort_values("applied_at", ignore_index=True)


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.DataFrame]:
    ttd = through_the_door()
    accepts = ttd[ttd["decision"] == "approved"].drop(columns="decision").reset_index(drop=True)
    accepts["default_12m"] = accepts[OUTCOME]  # observed only for the accepts
    rejects = ttd[ttd["decision"] == "declined"].drop(columns="decision").reset_index(drop=True)
    return accepts, rejects


def test_fuzzy_augmentation_doubles_the_declined_rows_with_weights_summing_to_the_reject_weight():
    X = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [0.0, 5.0, 1.0]})
    p = np.array([0.1, 0.5, 0.9])
    Xa, y, w = fuzzy_augment(X, p, reject_weight=0.4)
    assert len(Xa) == 2 * len(X) and list(y) == [1, 1, 1, 0, 0, 0]
    pd.testing.assert_frame_equal(Xa.iloc[:3].reset_index(drop=True), X)
    pd.testing.assert_frame_equal(Xa.iloc[3:].reset_index(drop=True), X)
    np.testing.assert_allclose(w[:3], 0.4 * p)  # as bad, weight w * p
    np.testing.assert_allclose(w[:3] + w[3:], 0.4)  # per applicant: the reject weight
    with pytest.raises(TrainInputError, match=r"probability in \[0, 1\]"):
        fuzzy_augment(X, np.array([0.1, 1.2, 0.3]))
    with pytest.raises(TrainInputError, match="reject weight must be > 0"):
        fuzzy_augment(X, p, reject_weight=0)


@pytest.fixture(scope="module")
def trained(model_env, population):
    accepts, rejects = population
    return train_model(
        accepts, "default_12m", None, "applied_at", "credit_ri", feature_service="credit_pd_v1",
        oot_from="2025-07-01", num_boost_round=ROUNDS, gbm_params=FAST_GBM, rejects=rejects,
        reject_inference="fuzzy", reject_weight=0.5, outcome_column=OUTCOME,
    )


def test_ttd_auc_with_and_without_ri_logged_against_truth(trained, population):
    from mlflow import MlflowClient

    from riskpipe.settings import get_settings

    accepts, rejects = population
    cut = pd.Timestamp("2025-07-01")
    acc_oot, rej_oot, rej_tr = (accepts[accepts["applied_at"] >= cut], rejects[rejects["applied_at"] >= cut],
                                rejects[rejects["applied_at"] < cut])
    assert trained.features == ["bureau_score", "burden", "other"]  # never the outcome, never the key
    assert trained.n_oot == len(acc_oot) and trained.extra["n_rejects_train"] == len(rej_tr) > 0
    ttd = pd.concat([acc_oot, rej_oot], ignore_index=True)
    client = MlflowClient(get_settings().tracking_uri)
    for kind, c in trained.candidates.items():
        m = client.get_run(c.run_id).data.metrics
        assert m["ttd_n"] == len(ttd) and m["ttd_n_declined"] == len(rej_oot) > 0
        assert m["ttd_bad_rate"] == pytest.approx(ttd[OUTCOME].mean())
        for variant in ("no_ri", "fuzzy"):
            assert 0.5 < m[f"ttd_auc_{variant}"] <= 1, (kind, variant)
        # the registered candidate is the fuzzy one; its TTD AUC is against the declined rows' truth
        assert m["ttd_auc_fuzzy"] == pytest.approx(roc_auc_score(ttd[OUTCOME], c.estimator.predict_proba(ttd)))
        assert m["ttd_auc_no_ri"] != m["ttd_auc_fuzzy"]  # two different models were judged
        assert m["oot_n"] == len(acc_oot)  # the accepts-only OOT evaluation as before
        run = client.get_run(c.run_id)
        assert run.data.params["reject_inference"] == "fuzzy" and float(run.data.params["reject_weight"]) == 0.5
        assert client.get_model_version("credit_ri", c.version).tags["reject_inference"] == "fuzzy"
        assert "## Reject inference" in c.card_markdown and "`fuzzy`" in c.card_markdown
        assert f"{len(rej_oot)} declined" in c.card_markdown


def test_fuzzy_models_differ_from_accepts_only(model_env, population, trained):
    accepts, rejects = population
    plain = train_model(accepts, "default_12m", None, "applied_at", "credit_ri", oot_from="2025-07-01",
                        num_boost_round=ROUNDS, gbm_params=FAST_GBM, register=False)
    for kind, c in plain.candidates.items():
        assert not c.ttd_metrics and "Reject inference" not in c.card_markdown
        p_plain = c.estimator.predict_proba(rejects)
        p_fuzzy = trained.candidates[kind].estimator.predict_proba(rejects)
        assert np.abs(p_plain - p_fuzzy).max() > 1e-3, kind


def test_bad_reject_inputs_are_named(model_env, population):
    accepts, rejects = population
    kw = {"oot_from": "2025-07-01", "register": False, "num_boost_round": 5}
    with pytest.raises(TrainInputError, match="unknown reject inference 'parcel'"):
        train_model(accepts, "default_12m", None, "applied_at", "x", reject_inference="parcel", **kw)
    with pytest.raises(TrainInputError, match="needs the declined applications"):
        train_model(accepts, "default_12m", None, "applied_at", "x", reject_inference="fuzzy", **kw)
    labelled = rejects.assign(default_12m=rejects[OUTCOME])
    with pytest.raises(TrainInputError, match=r"declined applications.*row 0 carries label 'default_12m'"):
        train_model(accepts, "default_12m", None, "applied_at", "x", rejects=labelled, reject_inference="fuzzy", **kw)
    with pytest.raises(TrainInputError, match=r"declined applications.*\['burden'\] not found"):
        train_model(accepts, "default_12m", None, "applied_at", "x", rejects=rejects.drop(columns="burden"),
                    reject_inference="fuzzy", **kw)
    late = rejects[rejects["applied_at"] >= pd.Timestamp("2025-07-01")]
    with pytest.raises(TrainInputError, match="no declined applications before the out-of-time cut"):
        train_model(accepts, "default_12m", None, "applied_at", "x", rejects=late, reject_inference="fuzzy", **kw)


def test_cli_train_with_reject_inference(model_env, population, tmp_path):
    from riskpipe.cli import app

    accepts, rejects = population
    accepts.to_parquet(tmp_path / "accepts.parquet")
    rejects.to_parquet(tmp_path / "rejects.parquet")
    res = CliRunner().invoke(app, [
        "train", "--table", str(tmp_path / "accepts.parquet"), "--label", "default_12m", "--time-column",
        "applied_at", "--model-name", "cli_ri", "--oot-from", "2025-07-01", "--rounds", "20",
        "--rejects", str(tmp_path / "rejects.parquet"), "--reject-inference", "fuzzy",
        "--outcome-column", OUTCOME, "--json",
    ])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["reject_inference"] == "fuzzy"
    lgb = next(v for k, v in out.items() if k.startswith("lightgbm v"))
    assert 0.5 < lgb["ttd_auc_no_ri"] <= 1 and 0.5 < lgb["ttd_auc_fuzzy"] <= 1
