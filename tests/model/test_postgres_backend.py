"""The production column: MLflow with PostgreSQL as backend store (the real server on 127.0.0.1:5432).

A unique database per run, dropped afterwards; artifacts stay local (object stores are config only).
"""

from __future__ import annotations

import uuid

import pytest

from riskpipe.settings import reset_settings
from tests.model.conftest import FAST_GBM
from tests.model.synth import make_table

pytestmark = pytest.mark.services


@pytest.fixture
def pg_mlflow(postgres_available: str, riskpipe_env, monkeypatch):
    import psycopg2

    db = f"riskpipe_mlflow_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    uri = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
    monkeypatch.setenv("RISKPIPE_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("RISKPIPE_USER", "pg-test")
    reset_settings()
    try:
        yield uri
    finally:
        # FORCE: MLflow keeps a pooled SQLAlchemy engine per URI with idle connections open
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def test_train_promote_rollback_on_postgres(pg_mlflow):
    import mlflow.pyfunc
    from mlflow import MlflowClient

    from riskpipe.models.registry import promote, read_history, rollback
    from riskpipe.models.train import train_model

    df = make_table(n=3000, seed=41)
    first = train_model(df, "default_12m", ["income", "noise_0"], "application_date", "pg_model",
                        num_boost_round=15, gbm_params=FAST_GBM)
    assert promote("pg_model").promoted
    second = train_model(df, "default_12m", None, "application_date", "pg_model", truth_column="true_pd",
                         monotone={"missed_payments": 1}, num_boost_round=15, gbm_params=FAST_GBM)
    d = promote("pg_model")
    assert d.promoted, d.reasons
    client = MlflowClient(pg_mlflow)
    assert client.get_registered_model("pg_model").name == "pg_model"  # lives in PostgreSQL
    assert str(client.get_model_version_by_alias("pg_model", "champion").version) == second.challenger_version
    assert client.get_model_version(
        "pg_model", second.challenger_version).tags["data_hash"] == first.data_hash
    m = mlflow.pyfunc.load_model("models:/pg_model@champion")
    assert len(m.predict(df[second.features].head(5))) == 5
    rollback("pg_model")
    assert str(client.get_model_version_by_alias("pg_model", "champion").version) == first.challenger_version
    assert [h["action"] for h in read_history("pg_model")][-1] == "rollback"

    import psycopg2

    dbname = pg_mlflow.rsplit("/", 1)[1]
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=dbname) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from model_versions where name = 'pg_model'")
        assert cur.fetchone()[0] == 4
        cur.execute("select count(*) from registered_model_aliases where name = 'pg_model'")
        assert cur.fetchone()[0] == 1  # champion only; challenger was consumed by the promotion
