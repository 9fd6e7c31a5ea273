"""Models trained on the feature store: label table -> Feast point-in-time training set -> MLflow.

Runs on ``store_world`` (tests/worlds.py): a real generated, ingested world with indicators built by
dbt and fraud labels maturing after two days.
"""

from __future__ import annotations

import datetime as dt
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from riskpipe.models.explain import score_table
from riskpipe.models.flows import MODEL_SPECS, TRUTH, read_labels, score_date, train_from_store
from riskpipe.models.labels import label_definition
from riskpipe.models.registry import CHALLENGER, alias_version, configure_mlflow
from riskpipe.models.train import TrainInputError
from tests.worlds import FRAUD_LABEL_DAYS, STORE_DATES


@pytest.fixture
def store_env(store_world, tmp_path, monkeypatch):
    """store_world's lake with a private MLflow store per test; batch scores the test writes into the
    shared lake are removed after it (their model versions are this test's MLflow's, not the next one's)."""
    import shutil

    monkeypatch.setenv("RISKPIPE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("RISKPIPE_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    scores = store_world.lake / "scores"
    had_scores = scores.exists()
    yield store_world.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
                                         "mlflow_artifact_root": str(tmp_path / "artifacts")})
    if not had_scores:
        shutil.rmtree(scores, ignore_errors=True)


def test_fraud_trains_on_its_feature_service_with_matured_labels_only(store_env):
    s = store_env
    first, last = STORE_DATES[0], STORE_DATES[-1]
    labels, parts = read_labels(MODEL_SPECS["fraud"], first, last, s)
    assert parts == [f"dt={d.isoformat()}" for d in STORE_DATES]
    assert {"txn_id", "customer_id", "amount", "channel", "merchant_country", "device_id", "feature_ts", "label",
            "label_status", "label_known_at"} <= set(
        labels.columns)
    # the fraud definition of labels.yml, its 90-day window overridden by RISKPIPE_FRAUD_LABEL_DAYS
    defn = label_definition("fraud", s)
    assert defn.performance_days == FRAUD_LABEL_DAYS and defn.version == 1

    r = train_from_store("fraud", start=first, end=last, num_boost_round=30, gbm_params={"num_threads": 1},
                         settings=s)
    as_of = pd.Timestamp(r.extra["labels_known_by"])
    assert as_of == pd.Timestamp(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()), tz="UTC")
    ts = pd.read_parquet(r.extra["training_set"])
    # only matured labels (the 2-day performance window closed by as_of, for positives too: early
    # chargebacks alone would inflate the recent bad rate) reached the training set, all of them did
    window = pd.Timedelta(defn.performance_window)
    matured = labels[pd.to_datetime(labels["feature_ts"], utc=True) + window <= as_of]
    assert len(matured) < len(labels)  # the last days' labels are not matured yet
    assert (pd.to_datetime(matured["label_known_at"], utc=True) <= as_of).all()
    assert len(ts) == len(matured) == r.n_train + r.n_oot
    assert set(ts["txn_id"]) == set(matured["txn_id"])
    # the features are the fraud_v1 service's (with its on-demand ones), never keys/request fields/truth
    manifest = json.loads(open(r.extra["manifest"]).read())
    service_cols = {f.split(":", 1)[1] for f in manifest["features"]}
    assert set(r.features) <= service_cols
    assert {"amount_to_mean_30d", "component_bad_share", "is_ecom", "is_cross_border", "is_new_device"} <= set(r.features)
    assert not {"txn_id", "customer_id", "amount", "request_epoch_s", "channel", "merchant_country", "device_id",
                "home_country", "recent_devices_30d", TRUTH, "label"} & set(r.features)
    assert manifest["labels_known_by"] == as_of.isoformat()
    # the training set says which label definition its labels follow, and what it left out
    used = manifest["label_definition"]
    assert (used["name"], used["version"], used["content_hash"]) == ("fraud", 1, defn.content_hash)
    assert used["definition"]["performance_days"] == FRAUD_LABEL_DAYS
    assert used["label_rows"] == {"rows": len(labels), "not_matured": len(labels) - len(matured),
                                  "excluded_indeterminate": 0, "excluded_unresolved": 0, "used": len(ts)}
    # ratio to the best achievable AUC (the generator's true probability on the same OOT rows: the
    # last day of the three matured ones) is reported
    truth = pd.concat(pd.read_parquet(f, columns=["txn_id", "p_fraud"])
                      for f in sorted((s.ground_truth / "transactions").glob("dt=*/*.parquet")))
    oot = ts[ts["feature_ts"].dt.normalize() == ts["feature_ts"].dt.normalize().max()].merge(truth, on="txn_id")
    assert len(oot) == r.n_oot and 0 < oot["label"].sum() < len(oot)
    best = roc_auc_score(oot["label"], oot["p_fraud"])
    for c in r.candidates.values():
        assert c.oot_metrics["best_auc"] == pytest.approx(best)
        assert c.oot_metrics["auc_ratio_to_best"] == pytest.approx(c.oot_metrics["auc"] / best)
    # registered with the service, window and manifest; challenger alias set
    client = configure_mlflow(s)
    v = alias_version(client, "fraud", CHALLENGER)
    assert v.tags["feature_service"] == "fraud_v1"
    run_tags = client.get_run(r.parent_run_id).data.tags
    for tags in (v.tags, run_tags):
        assert (tags["label_definition"], tags["label_definition_version"], tags["label_definition_hash"]) == (
            "fraud", "1", defn.content_hash)
    assert v.tags["labels_known_by"] == as_of.isoformat()
    local = mlflow.artifacts.download_artifacts(v.tags["training_set_manifest"])
    assert json.loads(open(local).read())["feature_service"] == "fraud_v1"

    # batch scoring of a date's population: every transaction of the day, with features as of each
    # transaction (the same Feast retrieval as training), so a batch score equals the training row's
    day = STORE_DATES[1]
    path, scored = score_date("fraud", day, alias=CHALLENGER, settings=s)
    assert path == s.lake / "scores" / "fraud" / f"dt={day}" / "data.parquet" and path.is_file()
    silver = pd.read_parquet(s.silver / "transactions" / f"dt={day}")
    assert sorted(scored["txn_id"]) == sorted(silver["txn_id"])
    assert set(scored["model_version"]) == {v.version}
    same = ts[ts["txn_id"].isin(scored["txn_id"])]
    assert set(same["txn_id"]) == set(scored["txn_id"])
    expect = score_table(f"models:/fraud/{v.version}", same)["probability"].to_numpy()
    got = scored.set_index("txn_id").loc[same["txn_id"], "probability"].to_numpy()
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-12)
    _, rescored = score_date("fraud", day, alias=CHALLENGER, settings=s)  # a rerun: the same rows
    pd.testing.assert_frame_equal(rescored, scored)
    with pytest.raises(TrainInputError, match="no 'champion' alias"):
        score_date("fraud", day, settings=s)

    # an Airflow retry of the same window registers nothing new
    again = train_from_store("fraud", start=first, end=last, num_boost_round=30, gbm_params={"num_threads": 1},
                             settings=s)
    assert again.extra["reused"] is True
    assert {c.version for c in again.candidates.values()} == {c.version for c in r.candidates.values()}


def test_unmatured_window_is_refused_with_a_clear_error(store_env):
    day = STORE_DATES[-1]
    early = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)  # before any label of that day was known
    with pytest.raises(TrainInputError, match="not matured"):
        train_from_store("fraud", start=day, end=day, as_of=early, settings=store_env)
    with pytest.raises(TrainInputError, match="no label partitions"):
        train_from_store("fraud", start="2025-01-01", end="2025-01-31", settings=store_env)
    with pytest.raises(TrainInputError, match="unknown model"):
        train_from_store("nope", start=day, end=day, settings=store_env)


def test_cli_trains_and_scores_a_model_on_the_store(store_env, monkeypatch, tmp_path):
    """`riskpipe train --model`, `riskpipe score --model --alias challenger --date` through the CLI."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from riskpipe.cli import app
    from riskpipe.models.config import get_model_settings
    from riskpipe.settings import reset_settings
    from tests.worlds import FRAUD_LABEL_DAYS

    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(store_env.data_dir))
    monkeypatch.setenv("RISKPIPE_FRAUD_LABEL_DAYS", str(FRAUD_LABEL_DAYS))
    monkeypatch.setenv("RISKPIPE_MODEL_NUM_THREADS", "1")
    reset_settings()
    get_model_settings.cache_clear()
    try:
        first, last = STORE_DATES[0], STORE_DATES[-1]
        args = ["train", "--model", "fraud", "--start", first.isoformat(), "--end", last.isoformat(),
                "--rounds", "20", "--json"]
        r = CliRunner().invoke(app, args, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        text = r.stdout
        trained = json.loads(text[text.index("{"):])  # progress and log lines may come first
        assert trained["model_name"] == "fraud" and trained["challenger"].startswith("v")
        version = trained["challenger"].split()[0][1:]
        out = tmp_path / "scores.parquet"
        r = CliRunner().invoke(app, ["score", "--model", "fraud", "--alias", "challenger", "--date", last.isoformat(),
                                     "--out", str(out)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        scores = pd.read_parquet(out)
        population = population_of(store_env, last)
        assert sorted(scores["txn_id"]) == sorted(population["txn_id"])
        assert set(scores["model_version"]) == {version} and scores["probability"].between(0, 1).all()
        # no champion yet: scoring with it is a clear error, not an empty file
        bad = CliRunner().invoke(app, ["score", "--model", "fraud", "--date", last.isoformat()])
        assert bad.exit_code != 0 and "champion" in str(bad.exception)
        # --feature-service picks among the model's declared services only
        bad = CliRunner().invoke(app, [*args[:-1], "--feature-service", "credit_pd_v2"])
        assert bad.exit_code != 0 and "fraud trains and scores on feature service(s) fraud_v1, not 'credit_pd_v2'" \
            in str(bad.exception)
    finally:
        reset_settings()
        get_model_settings.cache_clear()


def population_of(settings, day):
    from riskpipe.models.flows import population

    return population("fraud", day, settings)


@pytest.fixture
def decision_lake(store_env):
    """store_env whose decision log and outcomes (none before) are removed after the test."""
    from tests.model.conftest import private_decisions

    with private_decisions(store_env) as s:
        yield s


def test_served_population_trains_on_the_decisions_outcomes_at_decision_time(decision_lake, monkeypatch):
    """Outcomes feed retraining: with the served population, the training set holds one row per label
    observation a champion decision served, at the decision's time, and nothing else."""
    from riskpipe.models.decisions import DecisionLog, to_json
    from riskpipe.models.labels import training_rows
    from riskpipe.monitoring import outcomes as O

    s = decision_lake
    spec = MODEL_SPECS["fraud"]
    first, last = STORE_DATES[0], STORE_DATES[-1]
    as_of = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    labels, _ = read_labels(spec, first, last, s)
    usable, _ = training_rows(label_definition("fraud", s), labels, as_of)
    usable = usable.sort_values("txn_id", ignore_index=True)
    t = pd.to_datetime(usable["feature_ts"], utc=True)
    rng = np.random.default_rng(7)
    unserved = set(usable.loc[usable["label"] == 0, "txn_id"].sample(frac=0.2, random_state=1))
    # decided 3 days later (the earliest transactions: still before the training's as-of time)
    pool = set(usable.loc[usable["label"] == 0, "txn_id"]) - unserved
    late = [x for x in usable.sort_values(["feature_ts", "txn_id"])["txn_id"] if x in pool][:5]
    records, expected = [], {}
    for i, (txn, cust, at) in enumerate(zip(usable["txn_id"], usable["customer_id"], t, strict=True)):
        if txn in unserved:
            continue
        when = [at + pd.Timedelta(days=3)] if txn in late else [at + pd.Timedelta(seconds=int(rng.integers(1, 60)))]
        if i % 7 == 0 and txn not in late:  # a retried request: the first decision is the one observed
            when.append(when[0] + pd.Timedelta(minutes=5))
        if txn not in late:
            expected[txn] = when[0]
        for k, w in enumerate(when):
            request = {"txn_id": txn, "customer_id": cust, "amount": 1.0}
            records.append({"decision_id": f"{w:%Y%m%d}-{i:030x}{k:02x}", "decided_at": w.to_pydatetime(),
                            "role": "champion", "shadow_of": None, "endpoint": "fraud", "model_name": "fraud",
                            "model_version": "1", "model_run_id": "r", "feature_service": "fraud_v1",
                            "request_id": None, "request": to_json(request), "features": to_json(request),
                            "features_missing": [], "probability": 0.01, "score": 700.0, "band": "approve",
                            "reason_codes": [], "latency_ms": 1.0})
    log = DecisionLog(s.decisions, flush_seconds=3600)
    for r in records:
        log.append(r)
    log.close()
    assert log.written == len(records)
    days = O.decision_days(s, "fraud")
    for d in days:  # what risk_monitoring does daily
        O.join_outcomes(d, "fraud", s)

    r = train_from_store("fraud", start=first, end=last, num_boost_round=30, gbm_params={"num_threads": 1},
                         settings=s, population="served")
    ts = pd.read_parquet(r.extra["training_set"])
    assert r.extra["population"] == "served" and r.extra["training_set"].endswith("-served.parquet")
    assert ts["txn_id"].is_unique and set(ts["txn_id"]) == set(expected)
    # the point in time is the (first) decision's, the label the label table's
    got = ts.set_index("txn_id")
    assert (pd.to_datetime(got["feature_ts"], utc=True) == pd.Series(expected)[got.index]).all()
    assert (got["label"] == usable.set_index("txn_id").loc[got.index, "label"]).all()
    # fraud's request time stays the event's, not the decision's
    event_s = (pd.to_datetime(usable.set_index("txn_id").loc[got.index, "feature_ts"], utc=True)
               - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    assert (got["request_epoch_s"].to_numpy() == event_s.to_numpy()).all()
    hours = (event_s // 3600) % 24  # the on-demand request hour is the transaction's
    assert (got["request_hour_utc"].to_numpy() == hours.to_numpy()).all()
    manifest = json.loads(open(r.extra["manifest"]).read())
    facts = manifest["label_definition"]
    assert facts["population"] == "served"
    assert facts["served_rows"] == {"label_rows": len(usable), "served": len(expected),
                                    "not_served": len(usable) - len(expected), "decision_outside_window": 5,
                                    "decisions_read": len(records)}
    client = configure_mlflow(s)
    tags = {client.get_model_version("fraud", c.version).tags["training_population"] for c in r.candidates.values()}
    assert tags == {"served"}

    # nothing served in a window: a clear error, not an empty model
    monkeypatch.setenv("RISKPIPE_MODEL_SERVED_MAX_LAG_HOURS", "0.0001")
    from riskpipe.models.config import get_model_settings

    get_model_settings.cache_clear()
    try:
        with pytest.raises(TrainInputError, match="was served by a logged champion decision"):
            train_from_store("fraud", start=first, end=last, num_boost_round=30, settings=s, population="served")
    finally:
        monkeypatch.delenv("RISKPIPE_MODEL_SERVED_MAX_LAG_HOURS")
        get_model_settings.cache_clear()
