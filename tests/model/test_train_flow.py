"""The training flow on the embedded MLflow: two registered candidates, tags, artifacts, challenger."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskpipe.models.explain import score, score_table
from riskpipe.models.train import TrainInputError, data_hash, train_model
from tests.model.conftest import FAST_GBM, ROUNDS
from tests.model.synth import make_table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table(n=5000, seed=21)


@pytest.fixture(scope="module")
def trained(model_env, table):
    return train_model(
        table, "default_12m", None, "application_date", "credit_pd", truth_column="true_pd",
        feature_service="credit_pd_v1", label_definition="dpd90_12m", monotone={"missed_payments": 1},
        num_boost_round=ROUNDS, gbm_params=FAST_GBM,
    )


def test_both_candidates_registered_with_tags(trained, table):
    from mlflow import MlflowClient

    from riskpipe.settings import get_settings

    client = MlflowClient(get_settings().tracking_uri)
    assert trained.features == ["missed_payments", "utilisation", "income", "bureau_score",
                                "noise_0", "noise_1", "noise_2"]  # id, label, time, truth excluded
    versions = {c.kind: c.version for c in trained.candidates.values()}
    assert sorted(versions.values()) == ["1", "2"]
    for kind, v in versions.items():
        mv = client.get_model_version("credit_pd", v)
        assert mv.tags["feature_service"] == "credit_pd_v1"
        assert mv.tags["label_definition"] == "dpd90_12m"
        assert mv.tags["data_hash"] == data_hash(table)
        assert mv.tags["model_kind"] == kind
        assert mv.tags["train_start"].startswith("2025-01") and mv.tags["oot_start"].startswith("2025-0")
        assert mv.tags["train_end"] < mv.tags["oot_start"]
        run = client.get_run(mv.run_id)
        assert 0.6 < run.data.metrics["oot_auc"] <= 1
        assert run.data.metrics["oot_gini"] == pytest.approx(2 * run.data.metrics["oot_auc"] - 1)
        assert "psi_score" in run.data.metrics and "oot_brier" in run.data.metrics
        assert 0.8 < run.data.metrics["oot_auc_ratio_to_best"] <= 1.05
        arts = {a.path for a in client.list_artifacts(mv.run_id, "plots")}
        assert arts == {f"plots/{n}.png" for n in ("roc", "ks", "calibration", "score_distribution",
                                                    "feature_importance")}
        top = {a.path for a in client.list_artifacts(mv.run_id)}
        assert {"model_card.md", "model_card.html"} <= top
        import mlflow.artifacts

        html = mlflow.artifacts.load_text(f"models:/credit_pd/{v}/artifacts/model_card.html")
        assert html.startswith("<!doctype html>") and "<table>" in html and "credit_pd_v1" in html


def test_data_hash_is_a_content_hash(table):
    assert data_hash(table) == data_hash(table.copy())
    changed = table.copy()
    changed.loc[10, "income"] += 1.0
    assert data_hash(changed) != data_hash(table)


def test_oot_is_later_than_training(trained, table):
    assert trained.train_window[1] < trained.oot_window[0]
    assert trained.n_train + trained.n_oot == len(table)
    months = pd.to_datetime(table["application_date"]).dt.to_period("M")
    assert trained.n_oot == int((months >= pd.Period(trained.oot_window[0][:7], "M")).sum())


def test_challenger_alias_is_the_better_candidate(trained):
    from mlflow import MlflowClient

    from riskpipe.settings import get_settings

    client = MlflowClient(get_settings().tracking_uri)
    best = max(trained.candidates.values(), key=lambda c: c.oot_metrics["auc"])
    assert str(client.get_model_version_by_alias("credit_pd", "challenger").version) == best.version
    assert trained.challenger_version == best.version


def test_registered_model_scores_like_the_estimator(trained, table):
    rows = table.sample(40, random_state=1)
    for c in trained.candidates.values():
        via_uri = score_table(c.model_uri, rows)
        direct = score_table(c.estimator, rows)
        np.testing.assert_allclose(via_uri["probability"], direct["probability"], rtol=1e-12)
        assert list(via_uri["reason_codes"]) == list(direct["reason_codes"])
    import mlflow.pyfunc

    out = mlflow.pyfunc.load_model("models:/credit_pd@challenger").predict(rows[trained.features])
    assert list(out.columns) == ["probability", "score", "band", "reason_codes"]
    assert score("models:/credit_pd@challenger", rows.head(2)) == score("models:/credit_pd@challenger", rows.head(2))


def test_model_card_content(trained):
    card = trained.candidates["scorecard"].card_markdown
    for needle in ("credit_pd_v1", "dpd90_12m", "training window", "out-of-time window", "Calibration",
                   "Limitations", "missed_payments", "## Scorecard"):
        assert needle in card
    assert "best achievable" in card


def test_bad_inputs_are_named(model_env, table):
    bad = table.copy()
    bad["default_12m"] = bad["default_12m"].astype(float)
    bad.loc[7, "default_12m"] = 2.0
    with pytest.raises(TrainInputError, match=r"'default_12m'.*row 7"):
        train_model(bad, "default_12m", None, "application_date", "x", register=False)
    bad = table.copy().astype({"application_date": object})
    bad.loc[3, "application_date"] = "not a date"
    with pytest.raises(TrainInputError, match=r"'application_date'.*row 3"):
        train_model(bad, "default_12m", None, "application_date", "x", register=False)
    with pytest.raises(TrainInputError, match="'nope' not found"):
        train_model(table, "nope", None, "application_date", "x", register=False)
    with pytest.raises(TrainInputError, match=r"listed twice: \['income'\]"):
        train_model(table, "default_12m", ["income", "income"], "application_date", "x", register=False)
    with pytest.raises(TrainInputError, match="monotone constraint"):
        train_model(table, "default_12m", ["income"], "application_date", "x", monotone={"zz": 1}, register=False)
    bad = table.copy()
    bad.loc[bad.index[-1], "true_pd"] = 1.5  # an OOT row (last month)
    with pytest.raises(TrainInputError, match=r"'true_pd'.*\[0, 1\]"):
        train_model(bad, "default_12m", None, "application_date", "x", truth_column="true_pd", register=False,
                    oot_from=str(pd.Timestamp(bad["application_date"].iloc[-1]).date()))
    with pytest.raises(TrainInputError, match="leaves no rows"):
        train_model(table, "default_12m", None, "application_date", "x", oot_from="2030-01-01", register=False)


def test_cli_train_and_score(model_env, table, tmp_path):
    from riskpipe.cli import app

    path = tmp_path / "t.parquet"
    table.to_parquet(path)
    res = CliRunner().invoke(app, [
        "train", "--table", str(path), "--label", "default_12m", "--time-column", "application_date",
        "--model-name", "cli_model", "--features", "missed_payments,utilisation,income",
        "--truth-column", "true_pd", "--monotone", "missed_payments:+1", "--oot-from", "2025-07-01",
        "--rounds", "20", "--json",
    ])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["model_name"] == "cli_model" and out["oot_window"].startswith("2025-07-01")
    scored = tmp_path / "scored.parquet"
    res = CliRunner().invoke(app, ["score", "--model-uri", "models:/cli_model@challenger", "--table", str(path),
                                   "--out", str(scored)])
    assert res.exit_code == 0, res.output
    s = pd.read_parquet(scored)
    assert list(s.columns) == ["application_id", "probability", "score", "band", "reason_codes"]
    assert len(s) == len(table)
    res = CliRunner().invoke(app, ["score", "--model-uri", "models:/cli_model@champion", "--table", str(path),
                                   "--out", str(scored)])
    assert "cannot load model 'models:/cli_model@champion'" in str(res.exception)  # no champion yet


def test_registered_models_are_monotone_in_missed_payments(trained, table):
    """Through the registry (models:/ URI), both candidates: more missed payments never lowers PD."""
    rows = table.sample(100, random_state=4).reset_index(drop=True)
    for c in trained.candidates.values():
        pds = np.array([score_table(c.model_uri, rows.assign(missed_payments=float(k)))["probability"]
                        for k in range(8)])
        assert np.all(np.diff(pds, axis=0) >= -1e-12), c.kind
        assert (pds[-1] > pds[0]).mean() > 0.9, c.kind


def test_rerun_on_same_snapshot_reuses_versions(trained, table):
    """An Airflow retry of the same training must not register duplicate versions."""
    from mlflow import MlflowClient

    from riskpipe.models.registry import read_history
    from riskpipe.settings import get_settings

    client = MlflowClient(get_settings().tracking_uri)
    before = len(client.search_model_versions("name='credit_pd'"))
    n_hist = len(read_history("credit_pd"))
    again = train_model(
        table, "default_12m", None, "application_date", "credit_pd", truth_column="true_pd",
        feature_service="credit_pd_v1", label_definition="dpd90_12m", monotone={"missed_payments": 1},
        num_boost_round=ROUNDS, gbm_params=FAST_GBM,
    )
    assert again.extra["reused"] is True
    assert len(client.search_model_versions("name='credit_pd'")) == before
    assert {k: c.version for k, c in again.candidates.items()} == {k: c.version for k, c in trained.candidates.items()}
    assert again.challenger_version == trained.challenger_version
    assert again.candidates["lightgbm"].oot_metrics["auc"] == pytest.approx(trained.candidates["lightgbm"].oot_metrics["auc"])
    assert len(read_history("credit_pd")) == n_hist  # challenger alias already there: nothing moved
    rows = table.head(20)
    np.testing.assert_allclose(score_table(again.candidates["scorecard"].estimator, rows)["score"],
                               score_table(trained.candidates["scorecard"].estimator, rows)["score"])
    # any change of settings is a different training
    other = train_model(
        table, "default_12m", None, "application_date", "credit_pd", truth_column="true_pd",
        feature_service="credit_pd_v1", label_definition="dpd90_12m", monotone={"missed_payments": 1},
        num_boost_round=ROUNDS + 1, gbm_params=FAST_GBM,
    )
    assert other.extra["reused"] is False
    assert len(client.search_model_versions("name='credit_pd'")) == before + 2
