"""Promotion gates, decision log, alias history and rollback on the embedded MLflow.

One store, one story (each step depends on the one before, so they run in order in one test module):
weak model -> first champion; strong -> promoted; worse -> refused; unstable -> refused; rollback.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from riskpipe.models.registry import (
    RegistryError,
    champion_stack,
    history_path,
    promote,
    read_history,
    rollback,
)
from riskpipe.models.train import train_model
from tests.model.conftest import FAST_GBM, ROUNDS
from tests.model.synth import make_table

NAME = "pd_promo"


def _train(df, features):
    return train_model(df, "default_12m", features, "application_date", NAME, truth_column="true_pd",
                       num_boost_round=ROUNDS, gbm_params=FAST_GBM)


def _champion():
    from mlflow import MlflowClient

    from riskpipe.settings import get_settings

    return str(MlflowClient(get_settings().tracking_uri).get_model_version_by_alias(NAME, "champion").version)


@pytest.fixture(scope="module")
def story(model_env):
    """Run the whole sequence once; tests read what happened."""
    stable = make_table(n=5000, seed=31)
    out = {}
    with pytest.raises(RegistryError, match="no registered model"):
        promote(NAME)
    weak = _train(stable, ["noise_0", "income"])
    out["weak"] = weak
    out["d_first"] = promote(NAME)
    strong = _train(stable, None)
    out["strong"] = strong
    out["d_strong"] = promote(NAME, margin=0.005)
    worse = _train(stable, ["utilisation", "noise_1"])
    out["worse"] = worse
    out["d_worse"] = promote(NAME)
    unstable_df = make_table(n=5000, seed=32, shift=1.0)
    unstable = _train(unstable_df, None)
    out["unstable"] = unstable
    out["d_unstable"] = promote(NAME, margin=-1.0)  # even with any AUC allowed, stability must hold
    out["champion_before_rollback"] = _champion()
    out["d_rollback"] = rollback(NAME)
    out["champion_after_rollback"] = _champion()
    return out


def test_first_passing_challenger_becomes_champion(story):
    d = story["d_first"]
    assert d.promoted and d.from_version is None
    assert d.to_version == story["weak"].challenger_version
    assert "first champion" in d.reasons[0]


def test_better_challenger_is_promoted_with_evidence(story):
    d = story["d_strong"]
    assert d.promoted, d.reasons
    assert d.from_version == story["weak"].challenger_version
    assert d.to_version == story["strong"].challenger_version
    ev = d.evidence
    assert ev["challenger_auc"] >= ev["champion_auc"] + 0.005
    assert ev["oot_rows"] == story["strong"].n_oot  # both re-scored on the same OOT rows
    assert ev["challenger_psi_score"] <= 0.25


def test_worse_challenger_is_not_promoted(story):
    d = story["d_worse"]
    assert not d.promoted and d.action == "reject"
    assert any(r.startswith("not better") for r in d.reasons), d.reasons
    assert d.evidence["challenger_auc"] < d.evidence["champion_auc"] + 0.005


def test_unstable_challenger_is_not_promoted(story):
    d = story["d_unstable"]
    assert not d.promoted
    assert any(r.startswith("unstable: score PSI") for r in d.reasons), d.reasons
    assert d.evidence["challenger_psi_score"] > 0.25
    assert story["champion_before_rollback"] == story["strong"].challenger_version


def test_rollback_restores_previous_champion(story):
    assert story["d_rollback"].to_version == story["weak"].challenger_version
    assert story["champion_after_rollback"] == story["weak"].challenger_version
    assert champion_stack(NAME) == [story["weak"].challenger_version]
    with pytest.raises(RegistryError, match="no previous champion"):
        rollback(NAME)


def test_alias_resolves_as_model_uri(story):
    import mlflow.pyfunc

    from riskpipe.models.explain import score_table

    m = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    assert m.unwrap_python_model().estimator.features == story["weak"].features
    s = score_table(f"models:/{NAME}@champion", make_table(n=50, seed=1))
    assert s["probability"].between(0, 1).all()


def test_every_decision_is_logged(story):
    hist = read_history(NAME)
    actions = [(h["alias"], h["action"]) for h in hist]
    assert actions == [
        ("challenger", "train"), ("champion", "promote"), ("challenger", "cleared"),
        ("challenger", "train"), ("champion", "promote"), ("challenger", "cleared"),
        ("challenger", "train"), ("champion", "reject"),
        ("challenger", "train"), ("champion", "reject"),
        ("champion", "rollback"),
    ]
    for h in hist:
        assert h["who"] == "model-tests" and h["when"] and "reason" in h and "evidence" in h
    rejected = hist[7]
    assert rejected["from_version"] == rejected["to_version"] == story["strong"].challenger_version
    assert "not better" in rejected["reason"] and rejected["evidence"]["champion_auc"] > 0
    lines = history_path().read_text().splitlines()
    assert len(lines) == len(hist) and all(json.loads(x) for x in lines)

    import mlflow

    runs = mlflow.search_runs(experiment_names=["promotions"], output_format="list")
    assert len(runs) == 5  # 4 promotion decisions + 1 rollback
    by_action = sorted(r.data.tags["action"] for r in runs)
    assert by_action == ["promote", "promote", "reject", "reject", "rollback"]
    rej = [r for r in runs if r.data.tags["action"] == "reject"]
    assert all("reason" in r.data.tags and r.data.metrics.get("challenger_auc") for r in rej)


def test_cli_promote_and_rollback(story):
    from riskpipe.cli import app

    # runs last: the refused unstable model is still the challenger, and is refused again
    res = CliRunner().invoke(app, ["promote", "--model-name", NAME, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["promoted"] is False and d["to_version"] == story["weak"].challenger_version
    assert any(r.startswith("unstable") for r in d["reasons"])
    res = CliRunner().invoke(app, ["model-history", "--model-name", NAME, "--json", "--last", "3"])
    assert res.exit_code == 0, res.output
    h = json.loads(res.stdout)
    assert h["aliases"] == {"champion": story["weak"].challenger_version,
                            "challenger": story["unstable"].challenger_version}
    assert [e["action"] for e in h["history"]] == ["reject", "rollback", "reject"]
    res = CliRunner().invoke(app, ["rollback", "--model-name", "no_such_model"])
    assert isinstance(res.exception, RegistryError)


def test_calibration_blow_up_is_not_promoted(model_env):
    """Bad rate collapses in the OOT months (features unchanged): stable scores, broken calibration."""
    df = make_table(n=5000, seed=33, oot_logit_shift=-2.5)
    r = train_model(df, "default_12m", None, "application_date", "pd_calib", truth_column="true_pd",
                    num_boost_round=ROUNDS,
                    gbm_params=FAST_GBM)
    d = promote("pd_calib", margin=-1.0)
    assert not d.promoted
    assert any(x.startswith("calibration: mean predicted / observed") for x in d.reasons), d.reasons
    assert d.evidence["challenger_calibration_ratio"] > 2.0
    assert d.evidence["challenger_psi_score"] < 0.25  # stable population: calibration alone refuses it
    # re-scoring on a table given by the caller uses that table's rows in the same OOT window
    again = promote("pd_calib", margin=-1.0, table=df)
    assert not again.promoted and again.evidence["oot_rows"] == r.n_oot
    assert again.evidence["challenger_auc"] == d.evidence["challenger_auc"]


def test_four_eyes_promotion_needs_a_second_person(model_env, monkeypatch):
    """RISKPIPE_MODEL_PROMOTE_APPROVAL: the gate's pass only requests; another person moves the alias."""
    from riskpipe.cli import app
    from riskpipe.models.config import get_model_settings
    from riskpipe.models.registry import alias_version, approve, configure_mlflow, pending_approval

    monkeypatch.setenv("RISKPIPE_MODEL_PROMOTE_APPROVAL", "true")
    get_model_settings.cache_clear()
    try:
        name = "pd_four_eyes"
        with pytest.raises(RegistryError, match="no registered model"):
            approve(name)
        r = train_model(make_table(n=4000, seed=41), "default_12m", None, "application_date", name,
                        truth_column="true_pd", num_boost_round=ROUNDS, gbm_params=FAST_GBM)
        with pytest.raises(RegistryError, match="no promotion awaiting"):
            approve(name)
        d = promote(name)
        assert (d.action, d.promoted, d.to_version) == ("pending_approval", False, None)
        assert "awaiting approval" in d.reasons[0]
        client = configure_mlflow()
        assert alias_version(client, name, "champion") is None  # nothing moved yet
        req = pending_approval(name)
        assert req["candidate_version"] == r.challenger_version and req["who"] == "model-tests"
        with pytest.raises(RegistryError, match="cannot also approve"):
            approve(name)  # the requester
        monkeypatch.setenv("RISKPIPE_USER", "risk-officer")
        res = CliRunner().invoke(app, ["approve", "--model-name", name, "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["promoted"] and out["to_version"] == r.challenger_version
        assert alias_version(client, name, "champion").version == r.challenger_version
        assert alias_version(client, name, "challenger") is None
        moved = [h for h in read_history(name) if h["alias"] == "champion"][-1]
        assert (moved["action"], moved["who"]) == ("promote", "risk-officer")
        assert moved["evidence"]["requested_by"] == "model-tests"
        assert moved["evidence"]["approved_by"] == "risk-officer" and "challenger_auc" in moved["evidence"]
        assert pending_approval(name) is None
        with pytest.raises(RegistryError, match="no promotion awaiting"):
            approve(name)
    finally:
        get_model_settings.cache_clear()
