"""Production parts against the real services: SQL registry in PostgreSQL, Redis online store,
Spark offline store (local Spark). Same definitions as the embedded tests; only settings differ."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from riskpipe.features.config import config_dict, feature_store_yaml, repo_config
from riskpipe.features.materialize import materialize, materialized_until
from riskpipe.features.online import online_features
from riskpipe.features.skew import check_skew
from riskpipe.features.training import training_set
from riskpipe.settings import load_settings
from tests.features import synth
from tests.features.conftest import REDIS_TEST_DB, unique_project
from tests.features.test_embedded import assert_row_matches

D = synth.DAYS
pytestmark = pytest.mark.services


def registry_projects(pg_url: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("select project_id from projects")).scalars())
    finally:
        engine.dispose()


def production_settings(data_dir, redis_url, pg_url, **extra):
    return load_settings(data_dir=data_dir, mode="production", pii_key="test-only-key",
                         redis_url=redis_url, postgres_url=pg_url, spark_master="local[2]",
                         spark_shuffle_partitions=2, spark_driver_memory="1g", **extra)


def test_production_config_and_yaml_keep_the_password_out(tmp_path):
    s = production_settings(tmp_path, "redis://127.0.0.1:6379/3", "postgresql+psycopg2://u@db:5432/feast",
                            redis_password="s3cret")
    cfg = config_dict(s, "p1")
    assert cfg["offline_store"]["type"] == "spark"
    assert cfg["offline_store"]["spark_conf"]["spark.master"] == "local[2]"
    assert cfg["online_store"]["type"] == "redis"
    assert cfg["online_store"]["connection_string"].startswith("127.0.0.1:6379,db=3,password=s3cret,")
    assert "socket_timeout=0.2" in cfg["online_store"]["connection_string"]
    assert cfg["registry"] == {"registry_type": "sql", "path": "postgresql+psycopg2://u@db:5432/feast",
                               "cache_ttl_seconds": 60,
                               "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True}}
    text = feature_store_yaml(s, "p1")
    assert "s3cret" not in text and "password=${RISKPIPE_REDIS_PASSWORD}" in text
    emb = config_dict(load_settings(data_dir=tmp_path), "p1")
    assert (emb["offline_store"]["type"], emb["online_store"]["type"], emb["registry"]["registry_type"]) == \
        ("duckdb", "sqlite", "file")
    # materialisation writes in bounded batches, in both configurations and in the YAML the CLI reads
    assert cfg["materialization"] == emb["materialization"] == {"online_write_batch_size": 50_000}
    assert "online_write_batch_size: 50000" in text
    small = load_settings(data_dir=tmp_path, materialize_batch_rows=7)
    assert repo_config(small, "p1").materialization_config.online_write_batch_size == 7


@pytest.mark.slow
def test_redis_postgres_spark_end_to_end(tmp_path, spark, redis_available, feast_pg_url):
    from riskpipe.features.store import drop_project, get_store

    redis_url = redis_available.rsplit("/", 1)[0] + f"/{REDIS_TEST_DB}"
    settings = production_settings(tmp_path / "data", redis_url, feast_pg_url)
    assert (settings.offline_store.value, settings.online_store.value, settings.registry.value) == \
        ("spark", "redis", "sql")
    synth.write_all(settings.features)
    project = unique_project("rp_prod")
    store = get_store(settings, project=project, apply=True)
    try:
        # the registry really lives in PostgreSQL: a second store object sees the services
        other = get_store(settings, project=project)
        assert {s.name for s in other.list_feature_services()} == {"credit_pd_v1", "credit_pd_v2", "fraud_v1", "early_warning_v1"}

        # point-in-time join on the Spark offline store
        ents = pd.DataFrame({
            "customer_id": ["c1", "c1", "c5", "zz"],
            "event_timestamp": pd.to_datetime([synth.ts(D[1]), synth.ts(D[1]) - dt.timedelta(microseconds=1),
                                               synth.ts(D[1], 12), synth.ts(D[2])]).tz_localize("UTC"),
            "requested_amount": [10.0, 20.0, 30.0, 40.0],
        })
        frame = training_set("credit_pd_v1", ents, settings=settings, store=store)
        for row in frame.to_dict("records"):
            at = row["event_timestamp"].tz_convert("UTC").tz_localize(None).to_pydatetime()
            assert assert_row_matches(row, "customer_credit_daily", row["customer_id"], at) > 40
        by_amount = frame.set_index("requested_amount")
        assert by_amount.loc[10.0, "bureau_score"] == 1014 and by_amount.loc[20.0, "bureau_score"] == 1004
        assert pd.isna(by_amount.loc[30.0, "bureau_score"]) and pd.isna(by_amount.loc[40.0, "bureau_score"])

        # Spark -> Redis materialisation, online reads, skew
        result = materialize(D[2], settings=settings, store=store)
        assert sorted(result.materialized) == ["customer_credit_daily", "customer_fraud_daily",
                                               "customer_graph_daily", "loan_early_warning_daily"]
        out = online_features("early_warning_v1", [{"loan_id": "l2", "customer_id": "c2"},
                                                   {"loan_id": "l9", "customer_id": "c9"}],
                              settings=settings, store=store)
        row = {k: v[0] for k, v in out.items()}
        assert assert_row_matches(row, "loan_early_warning_daily", "l2", synth.ts(D[2], 6)) == 7
        assert row["bureau_score"] == synth.value("customer_credit_daily", 4, "int", "c2", D[2])
        assert out["paid_ratio"][1] is None and out["bureau_score"][1] is None
        # (every service is skew-checked in the embedded tests; one here keeps Spark time down)
        report = check_skew("early_warning_v1", settings=settings, store=store)
        assert report.ok and report.entities == 3, report.mismatches[:5]
        # keys of this project are in the dedicated Redis db, under the project's own prefix
        import redis

        client = redis.Redis.from_url(redis_url)
        assert client.dbsize() > 0 and any(project.encode() in k for k in client.scan_iter(count=1000))
        # idempotent rerun
        assert materialize(D[2], settings=settings, store=store).materialized
        assert materialized_until(store, "customer_credit_daily") == dt.datetime(2026, 1, 3, 23, 59, 59, 999999,
                                                                                 tzinfo=dt.UTC)
    finally:
        drop_project(store)
    # only this project is gone: its Redis keys and its registry rows
    assert not any(project.encode() in k for k in client.scan_iter(count=1000))
    assert project not in registry_projects(feast_pg_url)


@pytest.mark.slow
def test_feast_cli_plan_with_production_yaml(tmp_path, redis_available, feast_pg_url):
    """`feast plan` from the command line on the generated production feature_store.yaml."""
    import subprocess

    import yaml

    from riskpipe.features.config import write_feature_store_yaml
    from tests.features.conftest import FEAST, copy_repo, riskpipe_env

    redis_url = redis_available.rsplit("/", 1)[0] + f"/{REDIS_TEST_DB}"
    env = {"RISKPIPE_MODE": "production", "RISKPIPE_PII_KEY": "test-only-key",
           "RISKPIPE_DATA_DIR": str(tmp_path / "data"), "RISKPIPE_REDIS_URL": redis_url,
           "RISKPIPE_POSTGRES_URL": feast_pg_url, "RISKPIPE_SPARK_MASTER": "local[1]",
           "RISKPIPE_SPARK_DRIVER_MEMORY": "1g"}
    settings = production_settings(tmp_path / "data", redis_url, feast_pg_url)
    synth.write_all(settings.features, days=D[:1])
    repo = copy_repo(tmp_path / "feature_repo")
    project = unique_project("rp_plan")
    write_feature_store_yaml(settings, project, repo_path=repo)
    cfg = yaml.safe_load((repo / "feature_store.yaml").read_text())
    assert (cfg["offline_store"]["type"], cfg["online_store"]["type"], cfg["registry"]["registry_type"]) == \
        ("spark", "redis", "sql")
    proc = subprocess.run([FEAST, "-c", str(repo), "plan"], env=riskpipe_env(env), capture_output=True,
                          text=True, timeout=400)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for name in ("credit_pd_v1", "fraud_v1", "early_warning_v1", "customer_graph_daily", "fraud_request_features"):
        assert name in out
    # `feast apply` registers the definitions in the PostgreSQL registry, where riskpipe reads them
    from riskpipe.features.store import drop_project, get_store

    store = get_store(settings, project=project)
    try:
        proc = subprocess.run([FEAST, "-c", str(repo), "apply"], env=riskpipe_env(env), capture_output=True,
                              text=True, timeout=400)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        assert project in registry_projects(feast_pg_url)
        applied = get_store(settings, project=project)  # a new reader of the registry
        assert {sv.name for sv in applied.list_feature_services()} == {"credit_pd_v1", "credit_pd_v2", "fraud_v1", "early_warning_v1"}
        assert {v.name for v in applied.list_on_demand_feature_views()} == {
            "fraud_request_features", "credit_request_features", "credit_pull_features", "credit_profile_features"}
    finally:
        drop_project(store)
    assert project not in registry_projects(feast_pg_url)
