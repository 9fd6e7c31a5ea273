"""risk_retrain with dag.test on store_world: Feast training set -> MLflow challenger -> champion gate.

Fraud labels mature after two days in store_world; credit PD (365 days) and early warning (30 days)
have no matured labels there, so their tasks are skipped with the reason, not failed.
"""

from __future__ import annotations

import datetime as dt

import pytest

DAY = dt.date(2026, 1, 7)  # labels known by 2026-01-07 00:00: fraud of 01-02..01-04 has matured


@pytest.fixture
def retrain_env(airflow_home, store_world, tmp_path, monkeypatch):
    from riskpipe.models.config import get_model_settings
    from riskpipe.orchestration.airflow_env import reset_airflow_settings
    from riskpipe.settings import reset_settings
    from tests.dags.conftest import TEST_AIRFLOW_ENV
    from tests.worlds import FRAUD_LABEL_DAYS

    for k, v in TEST_AIRFLOW_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(store_world.data_dir))
    monkeypatch.setenv("RISKPIPE_FRAUD_LABEL_DAYS", str(FRAUD_LABEL_DAYS))
    monkeypatch.setenv("RISKPIPE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("RISKPIPE_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("RISKPIPE_MODEL_NUM_BOOST_ROUND", "30")
    monkeypatch.setenv("RISKPIPE_MODEL_NUM_THREADS", "1")
    monkeypatch.setenv("RISKPIPE_AIRFLOW_RETRAIN_WINDOW_DAYS", "30")
    for reset in (reset_settings, reset_airflow_settings, get_model_settings.cache_clear):
        reset()
    yield tmp_path
    for reset in (reset_settings, reset_airflow_settings, get_model_settings.cache_clear):
        reset()


def test_retrain_trains_gates_and_is_idempotent(retrain_env):
    from riskpipe.models.registry import CHALLENGER, CHAMPION, alias_version, configure_mlflow, read_history
    from riskpipe.orchestration.runner import load_dag, run_dag

    dag = load_dag("risk_retrain")
    assert {t.task_id for t in dag.tasks} == {f"{step}_{m}" for step in ("train", "promote")
                                               for m in ("credit_pd", "fraud", "early_warning")}
    seen = len(read_history())  # the alias history lives with store_world's data dir: only ours counts
    first = run_dag(dag, DAY)
    assert first.ok, first.tasks
    # nothing matured for the slow labels: skipped (with the reason in the log), never failed
    for m in ("credit_pd", "early_warning"):
        assert first.tasks[f"train_{m}"] == "skipped" and first.tasks[f"promote_{m}"] == "skipped"
    assert first.tasks["train_fraud"] == first.tasks["promote_fraud"] == "success"

    client = configure_mlflow()
    versions = client.search_model_versions("name='fraud'")
    assert len(versions) == 2  # scorecard + LightGBM candidates of the one training
    # trained on the feature service, with labels known by the run's logical date
    assert {v.tags["feature_service"] for v in versions} == {"fraud_v1"}
    assert {v.tags["labels_known_by"] for v in versions} == {"2026-01-07T00:00:00+00:00"}
    # the first challenger passes the stability and calibration gates and becomes champion; the alias
    # history says what moved, from what to what, and why
    ours = [h for h in read_history()[seen:] if h["model_name"] == "fraud"]
    assert [(h["alias"], h["action"]) for h in ours] == [
        (CHALLENGER, "train"), (CHAMPION, "promote"), (CHALLENGER, "cleared")]
    champ = alias_version(client, "fraud", CHAMPION)
    assert champ is not None and ours[1]["to_version"] == champ.version == ours[0]["to_version"]
    assert ours[1]["reason"].startswith("first champion")
    assert alias_version(client, "fraud", CHALLENGER) is None

    seen = len(read_history())
    again = run_dag(dag, DAY)  # a rerun of the date: the same training is found, nothing new registered
    assert again.ok, again.tasks
    assert again.tasks["promote_fraud"] == "success"
    assert len(client.search_model_versions("name='fraud'")) == 2
    assert alias_version(client, "fraud", CHAMPION).version == champ.version
    assert [h for h in read_history()[seen:] if h["model_name"] == "fraud" and h["alias"] == CHAMPION] == []

    # risk_monitoring now batch-scores each day's population with the champion and judges score drift
    import numpy as np
    import pandas as pd

    from riskpipe.monitoring.metrics import score_drift, table_path
    from riskpipe.settings import get_settings

    monitoring = load_dag("risk_monitoring")
    for ds in (dt.date(2026, 1, 4), dt.date(2026, 1, 5)):  # feature dates 01-05, 01-06
        r = run_dag(monitoring, ds)
        assert r.ok and r.tasks["score_population"] == "success", r.tasks
    s = get_settings()
    scores = {d: pd.read_parquet(s.lake / "scores" / "fraud" / f"dt={d}" / "data.parquet")
              for d in (dt.date(2026, 1, 5), dt.date(2026, 1, 6))}
    for d, frame in scores.items():
        assert len(frame) > 20 and set(frame.model_version) == {champ.version}, d
        assert frame.probability.between(0, 1).all()
    row = score_drift(dt.date(2026, 1, 6), s, models=["fraud"]).iloc[0]
    assert row.reference_rows == len(scores[dt.date(2026, 1, 5)]) and np.isfinite(row.psi)
    stored = pd.read_parquet(table_path(s, "score_drift", dt.date(2026, 1, 6)))
    assert stored.loc[stored.model == "fraud", "psi"].iloc[0] == pytest.approx(row.psi)
