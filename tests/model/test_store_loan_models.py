"""credit_pd and early_warning trained on the feature store end to end: label table -> Feast point-in-time
training set by feature service -> MLflow, with the label definitions' maturity and exclusions.

Runs on ``loan_world`` (tests/worlds.py): a generated world ingested, built by dbt and the graph job
like ``store_world``, whose loans perform within its seven days, and whose label tables were built under
the time-compressed definitions of tests/loan_world_labels.yml (``RISKPIPE_LABELS_FILE``), so that
credit_pd has bad, good and indeterminate applications and early_warning has loans going past due.
The settings of the world carry the file; nothing here sets the environment variable, so a part of
the store path that read the packaged definitions instead would train on the wrong maturity and
record the wrong hash.
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
from riskpipe.models.flows import MODEL_SPECS, read_labels, train_from_store
from riskpipe.models.labels import (
    EXCLUDED_STATUSES,
    INDETERMINATE,
    UNRESOLVED,
    built_record_path,
    label_definition,
    load_label_definitions,
)
from riskpipe.models.registry import CHALLENGER, alias_version, configure_mlflow
from riskpipe.models.reject import OUTCOME
from riskpipe.models.train import AUGMENTED_ARTIFACT, TrainInputError
from riskpipe.settings import reset_settings
from tests.model.conftest import FAST_GBM
from tests.worlds import LOAN_DATES, LOAN_LABELS_FILE

ROUNDS = 30
FIRST, LAST = LOAN_DATES[0], LOAN_DATES[-1]
#: credit_pd labels (3-day window) of applications before 2026-01-04 have matured by then; the label
#: table holds later ones too (matured by the lake's horizon, 2026-01-07 evening), which must not train
CREDIT_AS_OF = dt.datetime(2026, 1, 7, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def loan_env(loan_world, tmp_path_factory):
    """loan_world's lake with a private MLflow store for this module (trainings share it); the
    environment names the store too, for loading registered models by URI (score_table)."""
    tmp = tmp_path_factory.mktemp("loan_mlflow")
    mlflow_vars = {"mlflow_tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}", "mlflow_artifact_root": str(tmp / "artifacts")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in mlflow_vars.items():
            mp.setenv(f"RISKPIPE_{k.upper()}", v)
        reset_settings()
        yield loan_world.model_copy(update=mlflow_vars)
    reset_settings()


def _train(model: str, s, **kw):  # noqa: ANN001, ANN202
    return train_from_store(model, start=FIRST, end=LAST, num_boost_round=ROUNDS, gbm_params=FAST_GBM,
                            settings=s, **kw)


@pytest.fixture(scope="module")
def credit_plain(loan_env):
    """credit_pd trained on the store without reject inference (accepts only)."""
    return _train("credit_pd", loan_env, as_of=CREDIT_AS_OF)


@pytest.fixture(scope="module")
def credit_fuzzy(loan_env, credit_plain):
    """The same window with fuzzy reject inference (after credit_plain: its challenger alias wins)."""
    return _train("credit_pd", loan_env, as_of=CREDIT_AS_OF, reject_inference="fuzzy")


def _manifest(r) -> dict:  # noqa: ANN001
    return json.loads(open(r.extra["manifest"]).read())


def _service_columns(manifest: dict) -> set[str]:
    return {f.split(":", 1)[1] for f in manifest["features"]}


def _check_registered(s, r, model: str, service: str, defn, counts: dict) -> None:  # noqa: ANN001
    """Every version of the training carries the service, the label definition and the label rows."""
    client = configure_mlflow(s)
    for c in r.candidates.values():
        v = client.get_model_version(model, c.version)
        run = client.get_run(c.run_id).data
        assert v.tags["feature_service"] == service
        for tags in (v.tags, run.tags, client.get_run(r.parent_run_id).data.tags):
            assert (tags["label_definition"], tags["label_definition_version"], tags["label_definition_hash"]) == (
                model, str(defn.version), defn.content_hash)
            assert {k: int(tags[f"label_rows_{k}"]) for k in counts} == counts
        local = mlflow.artifacts.download_artifacts(v.tags["training_set_manifest"])
        logged = json.loads(open(local).read())
        assert logged["feature_service"] == service and logged["label_definition"]["label_rows"] == counts


def test_loan_world_labels_follow_the_labels_file(loan_env):
    """The label tables were built by dbt under the file's definitions: the packaged 365/30-day windows
    would have left them empty this early, and only the file declares 1-DPD indeterminates."""
    s = loan_env
    assert s.labels_file == LOAN_LABELS_FILE
    from_file = load_label_definitions(LOAN_LABELS_FILE).labels
    packaged = load_label_definitions().labels
    for name in ("credit_pd", "early_warning"):
        defn = label_definition(name, s)
        assert defn == from_file[name] and defn.content_hash != packaged[name].content_hash
    credit, parts = read_labels(MODEL_SPECS["credit_pd"], FIRST, LAST, s)
    assert parts == [f"dt={d.isoformat()}" for d in LOAN_DATES]
    statuses = credit["label_status"].value_counts().to_dict()
    assert {"bad", "good", INDETERMINATE} <= set(statuses) <= {"bad", "good", *EXCLUDED_STATUSES}, statuses
    excluded = credit["label_status"].isin(EXCLUDED_STATUSES)
    assert credit.loc[excluded, "label"].isna().all() and credit.loc[~excluded, "label"].notna().all()
    ew, _ = read_labels(MODEL_SPECS["early_warning"], FIRST, LAST, s)
    assert {"bad", "good"} <= set(ew["label_status"]) <= {"bad", "good", UNRESOLVED}
    assert ew["loan_id"].is_unique is False  # daily snapshots
    # the build recorded the definition of each label partition; training under another one (here the
    # packaged definitions: no RISKPIPE_LABELS_FILE) is refused before anything is trained
    for day in LOAN_DATES:
        rec = json.loads(built_record_path(s, "label_credit_pd", day).read_text())
        assert rec["content_hash"] == from_file["credit_pd"].content_hash
        assert rec["file"] == str(LOAN_LABELS_FILE.resolve())
    plain = s.model_copy(update={"labels_file": None})
    with pytest.raises(TrainInputError, match="built under another label definition"):
        train_from_store("credit_pd", start=FIRST, end=LAST, as_of=CREDIT_AS_OF, settings=plain)


def test_credit_pd_trains_on_its_service_with_matured_determinate_labels_only(loan_env, credit_plain):
    s, r = loan_env, credit_plain
    defn = label_definition("credit_pd", s)
    labels, _ = read_labels(MODEL_SPECS["credit_pd"], FIRST, LAST, s)
    window = pd.Timedelta(defn.performance_window)
    as_of = pd.Timestamp(CREDIT_AS_OF)
    matured = (pd.to_datetime(labels["feature_ts"], utc=True) + window <= as_of) & (
        pd.to_datetime(labels["label_known_at"], utc=True) <= as_of)
    indeterminate = labels["label_status"] == INDETERMINATE
    unresolved = labels["label_status"] == UNRESOLVED
    expected = labels[matured & ~indeterminate & ~unresolved]
    # the table holds labels that had not matured by as_of, and matured indeterminates: both are left out
    assert (~matured).sum() > 0 and (matured & indeterminate).sum() > 0

    ts = pd.read_parquet(r.extra["training_set"])
    assert sorted(ts["application_id"]) == sorted(expected["application_id"])
    assert not set(ts["application_id"]) & set(labels.loc[indeterminate | unresolved, "application_id"])
    assert set(ts["label"]) == {0, 1} and set(ts["label_status"]) == {"bad", "good"}
    assert len(ts) == r.n_train + r.n_oot and r.extra["labels_known_by"] == as_of.isoformat()
    counts = {"rows": len(labels), "not_matured": int((~matured).sum()),
              "excluded_indeterminate": int((matured & indeterminate).sum()),
              "excluded_unresolved": int((matured & unresolved).sum()), "used": len(expected)}
    manifest = _manifest(r)
    used = manifest["label_definition"]
    assert used["label_rows"] == counts
    assert (used["name"], used["version"], used["content_hash"]) == ("credit_pd", 1, defn.content_hash)
    assert used["definition"]["performance_days"] == 3 and used["file"] == str(LOAN_LABELS_FILE.resolve())
    # features: the credit_pd_v1 service's (history, bureau, graph, on-demand request features), never
    # keys, the request field itself, the label status or the ground truth
    assert manifest["feature_service"] == "credit_pd_v1"
    cols = _service_columns(manifest)
    assert set(r.features) <= cols
    assert {"bureau_score", "missed_payments_3m", "component_bad_share"} <= set(r.features)
    assert not {"application_id", "customer_id", "requested_amount", "label_status", OUTCOME} & set(r.features)
    # out of time: the last matured application day
    oot_day = pd.to_datetime(ts["feature_ts"]).dt.normalize().max()
    assert r.oot_window[0].startswith(str(oot_day.date()))
    # the generator's truth is the probability of 90+ DPD within 12 months, not of this label: no
    # ratio to a "best achievable" AUC is claimed (it is under the packaged definition)
    spec = MODEL_SPECS["credit_pd"]
    assert spec.truth_applies(load_label_definitions().labels["credit_pd"]) and not spec.truth_applies(defn)
    for c in r.candidates.values():
        assert "best_auc" not in c.oot_metrics and "auc_ratio_to_best" not in c.oot_metrics
    _check_registered(s, r, "credit_pd", "credit_pd_v1", defn, counts)


def test_credit_pd_fuzzy_reject_inference_on_the_store(loan_env, credit_plain, credit_fuzzy):
    """The declined applications of the window join with their service features; fuzzy augmentation
    adds each (before the OOT cut) twice with the accepts-only model's PD as weights; both
    through-the-door AUCs (accepts + declines of the OOT window, the generator's true outcome) are
    logged and are those of the accepts-only and of the registered fuzzy model."""
    s, plain, fuzzy = loan_env, credit_plain, credit_fuzzy
    assert fuzzy.extra["reject_inference"] == "fuzzy" and fuzzy.extra["reused"] is False
    assert fuzzy.challenger_version != plain.challenger_version
    # the same accepts as the plain run
    ts = pd.read_parquet(fuzzy.extra["training_set"])
    pd.testing.assert_frame_equal(ts, pd.read_parquet(plain.extra["training_set"]))
    declined = pd.read_parquet(s.runs / "training_sets" / f"credit_pd-{FIRST}-{LAST}-declined.parquet")
    truth = pd.read_parquet(s.ground_truth / "applications.parquet")
    window = pd.Timedelta(label_definition("credit_pd", s).performance_window)
    expect = truth[(truth["decision"] == "declined") & (truth["applied_at"].dt.date >= FIRST)
                   & (truth["applied_at"].dt.date <= LAST)
                   & (pd.to_datetime(truth["applied_at"], utc=True) + window <= pd.Timestamp(CREDIT_AS_OF))]
    assert sorted(declined["application_id"]) == sorted(expect["application_id"]) and len(declined) > 0
    assert declined["label"].isna().all() and set(fuzzy.features) <= set(declined.columns)

    cut = pd.Timestamp(fuzzy.oot_window[0]).normalize()
    cut = cut.tz_localize("UTC") if cut.tz is None else cut
    before = declined[pd.to_datetime(declined["feature_ts"], utc=True) < cut]
    after = declined[pd.to_datetime(declined["feature_ts"], utc=True) >= cut]
    assert len(before) > 0 and len(after) > 0 and fuzzy.extra["n_rejects_train"] == len(before)

    client = configure_mlflow(s)
    assert alias_version(client, "credit_pd", CHALLENGER).version == fuzzy.challenger_version
    oot = ts[pd.to_datetime(ts["feature_ts"], utc=True) >= cut]
    ttd_rows = pd.concat([oot, after], ignore_index=True)
    outcome = ttd_rows[["application_id"]].merge(truth[["application_id", "default_12m"]], on="application_id",
                                                       how="left")
    y = outcome["default_12m"].astype(int).to_numpy()
    assert len(y) == len(ttd_rows) and 0 < y.sum() < len(y)
    for kind, c in fuzzy.candidates.items():
        metrics = client.get_run(c.run_id).data.metrics
        assert metrics["ttd_n"] == len(ttd_rows) and metrics["ttd_n_declined"] == len(after)
        # with reject inference: the registered (fuzzy) model on the through-the-door rows
        p_fuzzy = score_table(c.model_uri, ttd_rows)["probability"].to_numpy()
        assert metrics["ttd_auc_fuzzy"] == pytest.approx(roc_auc_score(y, p_fuzzy))
        # without: the accepts-only model of the same kind, i.e. the plain run's registered one
        no_ri = plain.candidates[kind]
        p_plain = score_table(no_ri.model_uri, ttd_rows)["probability"].to_numpy()
        assert metrics["ttd_auc_no_ri"] == pytest.approx(roc_auc_score(y, p_plain))
        assert client.get_run(no_ri.run_id).data.metrics["ttd_auc_no_ri"] == pytest.approx(metrics["ttd_auc_no_ri"])
        assert not np.allclose(p_fuzzy, p_plain)  # the declines changed the model
        # the declined rows the fuzzy model trained on: each twice, as a bad weighted by the
        # accepts-only PD and as a good weighted by its complement (reject weight 1 by default)
        aug = pd.read_parquet(mlflow.artifacts.download_artifacts(f"runs:/{c.run_id}/{AUGMENTED_ARTIFACT}"))
        assert len(aug) == 2 * len(before)
        bads, goods = aug[aug["label"] == 1], aug[aug["label"] == 0]
        assert sorted(bads["application_id"]) == sorted(goods["application_id"]) == sorted(before["application_id"])
        assert OUTCOME not in aug.columns  # the truth is for evaluation only
        p_declined = pd.Series(score_table(no_ri.model_uri, before)["probability"].to_numpy(),
                               index=before["application_id"].to_numpy())
        np.testing.assert_allclose(bads["sample_weight"], p_declined.loc[bads["application_id"]], atol=1e-9)
        np.testing.assert_allclose(bads.set_index("application_id")["sample_weight"]
                                   + goods.set_index("application_id").loc[bads["application_id"], "sample_weight"],
                                   1.0, atol=1e-12)
        assert client.get_run(c.run_id).data.params["reject_inference"] == "fuzzy"
    defn = label_definition("credit_pd", s)
    _check_registered(s, fuzzy, "credit_pd", "credit_pd_v1", defn, _manifest(fuzzy)["label_definition"]["label_rows"])


def test_early_warning_trains_on_its_service_with_matured_labels_only(loan_env):
    s = loan_env
    defn = label_definition("early_warning", s)
    labels, _ = read_labels(MODEL_SPECS["early_warning"], FIRST, LAST, s)
    r = _train("early_warning", s)  # as of the end of LAST: the last day's 2-day windows are still open
    as_of = pd.Timestamp(r.extra["labels_known_by"])
    assert as_of == pd.Timestamp(dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time()), tz="UTC")
    matured = (pd.to_datetime(labels["feature_ts"], utc=True) + pd.Timedelta(defn.performance_window) <= as_of) & (
        pd.to_datetime(labels["label_known_at"], utc=True) <= as_of)
    assert 0 < (~matured).sum() and matured.sum() > 0
    unresolved = labels["label_status"] == UNRESOLVED
    used = matured & ~unresolved
    ts = pd.read_parquet(r.extra["training_set"])
    key = ["loan_id", "feature_ts"]
    got = ts[key].assign(feature_ts=pd.to_datetime(ts["feature_ts"], utc=True))
    want = labels.loc[used, key].assign(feature_ts=pd.to_datetime(labels.loc[used, "feature_ts"], utc=True))
    pd.testing.assert_frame_equal(got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True))
    assert set(ts["label"]) == {0, 1}
    counts = {"rows": len(labels), "not_matured": int((~matured).sum()), "excluded_indeterminate": 0,
              "excluded_unresolved": int((matured & unresolved).sum()), "used": int(used.sum())}
    manifest = _manifest(r)
    assert manifest["label_definition"]["label_rows"] == counts
    assert manifest["feature_service"] == "early_warning_v1"
    assert set(r.features) <= _service_columns(manifest)
    assert {"dpd_current", "bureau_score"} <= set(r.features) and "loan_id" not in r.features
    _check_registered(s, r, "early_warning", "early_warning_v1", defn, counts)
    assert alias_version(configure_mlflow(s), "early_warning", CHALLENGER).version == r.challenger_version
    # the truth (the posterior of the generator's process, computed for these rows) gives the ratio
    for c in r.candidates.values():
        assert 0.5 < c.oot_metrics["best_auc"] <= 1 and c.oot_metrics["auc_ratio_to_best"] > 0


# ---- credit_pd_v2: the bureau report pulled at application ------------------------------------------
def _expected_pull(s, rows: pd.DataFrame, known_by: dt.datetime) -> pd.DataFrame:
    """The application day's bureau report per row, computed in DuckDB SQL from silver (independently
    of riskpipe.features.requests): same customer, as_of_date = the UTC day of feature_ts, known by
    ``known_by``, the highest report_id of the day."""
    import duckdb

    from riskpipe.features.requests import BUREAU_PULL_FIELDS

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("obs", rows[["customer_id", "feature_ts"]].assign(_row=range(len(rows))))
    cols = ", ".join(f"r.{f} as pull_{f}" for f in BUREAU_PULL_FIELDS)
    return con.execute(f"""
        with reports as (
            select *, row_number() over (partition by customer_id, as_of_date order by report_id desc) as rk
            from read_parquet('{s.silver / "bureau"}/dt=*/*.parquet')
            where customer_id is not null and known_at <= ?
        )
        select {cols} from obs
        left join reports r on r.customer_id = obs.customer_id and r.rk = 1
             and r.as_of_date = cast(obs.feature_ts at time zone 'UTC' as date)
        order by obs._row""", [known_by]).df().astype("float64")


@pytest.fixture(scope="module")
def credit_v2(loan_env, credit_fuzzy):
    """credit_pd on credit_pd_v2 with fuzzy reject inference (after the v1 trainings)."""
    return _train("credit_pd", loan_env, as_of=CREDIT_AS_OF, reject_inference="fuzzy", feature_service="credit_pd_v2")


def test_credit_pd_v2_rebuilds_the_bureau_pull_point_in_time_and_scores_on_it(loan_env, credit_plain, credit_v2):
    from riskpipe.features.requests import PULL_COLUMNS
    from riskpipe.models.flows import score_date

    s, r = loan_env, credit_v2
    manifest = _manifest(r)
    assert manifest["feature_service"] == "credit_pd_v2"
    assert manifest["request_sources_rebuilt"] == ["bureau_pull_request"]
    assert manifest["request_known_by"] == CREDIT_AS_OF.isoformat()
    ts = pd.read_parquet(r.extra["training_set"])
    # its own file (v1's, which v1's manifest points to, is intact) with the same accepts as on v1 and
    # the pull beside them: the report of the application day
    assert r.extra["training_set"].endswith(f"credit_pd-{FIRST}-{LAST}-credit_pd_v2.parquet")
    v1 = pd.read_parquet(credit_plain.extra["training_set"])
    assert "pull_bureau_score" not in v1.columns and _manifest(credit_plain)["output"]["sha256"] == \
        __import__("hashlib").sha256(open(credit_plain.extra["training_set"], "rb").read()).hexdigest()
    assert ts["application_id"].tolist() == v1["application_id"].tolist()
    expected = _expected_pull(s, ts, CREDIT_AS_OF)
    pd.testing.assert_frame_equal(ts[list(PULL_COLUMNS)].astype("float64"), expected, check_names=False)
    pulled = ts["pull_bureau_score"].notna()
    assert pulled.mean() > 0.5  # the generator pulls a report for most applications
    # the on-demand view: the pulled fields as features and the change since the stored score
    np.testing.assert_array_equal(ts["bureau_score_at_application"], ts["pull_bureau_score"])
    both = pulled & ts["bureau_score"].notna()
    assert both.any()
    np.testing.assert_allclose(ts.loc[both, "bureau_score_change"],
                               ts.loc[both, "pull_bureau_score"] - ts.loc[both, "bureau_score"])
    assert ts.loc[~pulled, "bureau_score_change"].isna().all()
    # the categories the models could not read before, as one flag per value of the source contract
    flags = ts[[f"employment_{v}" for v in ("employed", "self_employed", "unemployed", "retired", "student")]]
    known = ts["employment_status"].notna()
    assert known.all() and (flags.sum(axis=1) == 1).all()
    assert (flags.idxmax(axis=1).str.removeprefix("employment_") == ts["employment_status"]).all()
    assert {f"employment_{v}" for v in ts["employment_status"].unique()} <= set(r.features)
    regions = ts[[c for c in ts.columns if c.startswith("region_")]]
    assert regions.shape[1] == 5 and (regions.idxmax(axis=1).str.removeprefix("region_") == ts["region"].str.lower()).all()
    # the model reads the features, never the raw request fields
    assert "bureau_score_at_application" in r.features and not set(PULL_COLUMNS) & set(r.features)
    assert set(credit_plain.features) < set(r.features)

    # the declined applications get the same rebuild (reject inference trains on them)
    declined = pd.read_parquet(s.runs / "training_sets" / f"credit_pd-{FIRST}-{LAST}-credit_pd_v2-declined.parquet")
    assert len(declined) > 0 and r.extra["n_rejects_train"] > 0
    pd.testing.assert_frame_equal(declined[list(PULL_COLUMNS)].astype("float64"),
                                  _expected_pull(s, declined, CREDIT_AS_OF), check_names=False)

    defn = label_definition("credit_pd", s)
    _check_registered(s, r, "credit_pd", "credit_pd_v2", defn, manifest["label_definition"]["label_rows"])
    # batch scoring follows the version's service: the day's silver applications carry no pull, the
    # training set rebuilds it from the lake
    day = FIRST
    _, scored = score_date("credit_pd", day, alias=CHALLENGER, out=s.runs / "v2_scores.parquet", settings=s)
    apps = pd.concat([pd.read_parquet(f) for f in (s.silver / "applications" / f"dt={day}").glob("*.parquet")])
    assert sorted(scored["application_id"]) == sorted(apps["application_id"])
    assert set(scored["model_version"]) == {r.challenger_version}
    score_manifest = json.loads((s.runs / "v2_scores.manifest.json").read_text())
    assert score_manifest["feature_service"] == "credit_pd_v2"
    assert score_manifest["request_sources_rebuilt"] == ["bureau_pull_request"]
    # a service the model does not declare is refused by name
    with pytest.raises(TrainInputError, match="credit_pd_v1, credit_pd_v2, not 'fraud_v1'"):
        train_from_store("credit_pd", start=FIRST, end=LAST, as_of=CREDIT_AS_OF, settings=s,
                         feature_service="fraud_v1")


@pytest.fixture
def loan_decisions(loan_env):
    """loan_env whose decision log and outcomes (none before) are removed after the test."""
    from tests.model.conftest import private_decisions

    with private_decisions(loan_env) as s:
        yield s


def test_served_population_on_v2_trains_on_the_pull_each_decision_logged(loan_decisions, credit_v2):
    """Retraining credit_pd_v2 on its served population reads the bureau pull as each decision logged it
    (what the model saw, even where the lake now says otherwise), and rebuilds it from the lake only for
    decisions served on credit_pd_v1 (which carried none)."""
    from riskpipe.features.requests import PULL_COLUMNS
    from riskpipe.models.decisions import DecisionLog, to_json
    from riskpipe.models.labels import training_rows
    from riskpipe.monitoring import outcomes as O

    s = loan_decisions
    spec = MODEL_SPECS["credit_pd"]
    labels, _ = read_labels(spec, FIRST, LAST, s)
    usable, _ = training_rows(label_definition("credit_pd", s), labels, CREDIT_AS_OF)
    usable = usable.sort_values("application_id", ignore_index=True)
    decided = pd.to_datetime(usable["feature_ts"], utc=True) + pd.Timedelta(seconds=30)
    lake = _expected_pull(s, usable.assign(feature_ts=decided), CREDIT_AS_OF)
    kind = np.arange(len(usable)) % 3  # 0: v2, a pull the lake does not have; 1: v2, an empty pull; 2: v1
    logged = lake + 0.5
    logged.loc[logged["pull_bureau_score"].isna(), list(PULL_COLUMNS)] = [612.0, 3, 1500.0, 0, 1, 80]
    records = []
    for i, (app, cust, at) in enumerate(zip(usable["application_id"], usable["customer_id"], decided, strict=True)):
        request = {"application_id": app, "customer_id": cust, "requested_amount": 1000.0}
        pull = {0: logged.iloc[i].to_dict(), 1: dict.fromkeys(PULL_COLUMNS), 2: {}}[kind[i]]
        records.append({
            "decision_id": f"{at:%Y%m%d}-{i:032x}", "decided_at": at.to_pydatetime(), "role": "champion",
            "shadow_of": None, "endpoint": "credit_pd", "model_name": "credit_pd", "model_version": "1",
            "model_run_id": "r", "feature_service": "credit_pd_v1" if kind[i] == 2 else "credit_pd_v2",
            "request_id": None, "request": to_json(request), "features": to_json({**request, **pull}),
            "features_missing": [], "probability": 0.05, "score": 650.0, "band": "approve", "reason_codes": [],
            "latency_ms": 1.0})
    log = DecisionLog(s.decisions, flush_seconds=3600)
    for rec in records:
        log.append(rec)
    log.close()
    assert log.written == len(records)
    for d in O.decision_days(s, "credit_pd"):
        O.join_outcomes(d, "credit_pd", s)

    r = _train("credit_pd", s, as_of=CREDIT_AS_OF, feature_service="credit_pd_v2", population="served")
    assert r.extra["training_set"].endswith("-credit_pd_v2-served.parquet")
    ts = pd.read_parquet(r.extra["training_set"]).set_index("application_id").loc[usable["application_id"]]
    assert (pd.to_datetime(ts["feature_ts"], utc=True).to_numpy() == decided.to_numpy()).all()
    expected = pd.concat([logged[kind == 0], lake[kind == 1] * np.nan, lake[kind == 2]]).sort_index()
    pd.testing.assert_frame_equal(ts[list(PULL_COLUMNS)].reset_index(drop=True).astype("float64"), expected,
                                  check_names=False)
    # the logged pulls differ from the lake's, so the features follow the log, not a rebuild
    assert (ts["pull_bureau_score"].to_numpy()[kind == 0] != lake["pull_bureau_score"].to_numpy()[kind == 0]).all()
    np.testing.assert_array_equal(ts["bureau_score_at_application"], ts["pull_bureau_score"])
    manifest = _manifest(r)
    assert manifest["request_rows_logged"] == {"bureau_pull_request": int((kind < 2).sum())}
    assert manifest["request_sources_rebuilt"] == ["bureau_pull_request"]  # the v1 decisions' rows
    assert manifest["label_definition"]["served_rows"]["served"] == len(usable)
