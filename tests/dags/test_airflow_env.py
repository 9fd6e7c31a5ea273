"""The Airflow environment derived from settings: metadata DB, executor, Spark connection, precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskpipe.orchestration.airflow_env import (
    AirflowConfigError,
    airflow_environ,
    effective_environ,
    load_airflow_settings,
)
from riskpipe.settings import load_settings


def test_embedded_defaults_sqlite_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    s = load_settings(data_dir=tmp_path / "d")
    env = airflow_environ(s, load_airflow_settings())
    home = (tmp_path / "d" / "airflow").resolve()
    assert env["AIRFLOW_HOME"] == str(home)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert Path(env["AIRFLOW__CORE__DAGS_FOLDER"], "risk_daily.py").is_file()
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"
    assert load_airflow_settings().resolved_spark_tasks(s) == "in_process"
    assert load_airflow_settings().resolved_generate(s) is True


def test_production_defaults_postgres_and_spark_submit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"):
        monkeypatch.delenv(k, raising=False)
    s = load_settings(
        data_dir=tmp_path,
        mode="production",
        pii_key="k",
        postgres_url="postgresql+psycopg2://etl:secret@db.internal:5433/riskpipe",
        spark_master="spark://spark-master:7077",
    )
    a = load_airflow_settings()
    env = airflow_environ(s, a)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://etl:secret@db.internal:5433/airflow"
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS" not in env
    # asyncpg is not installed: the API server's async engine goes through psycopg 3
    assert effective_environ(s, a)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == (
        "postgresql+psycopg://etl:secret@db.internal:5433/airflow"
    )
    assert a.resolved_spark_tasks(s) == "spark_submit"
    assert a.resolved_generate(s) is False
    conn = json.loads(env["AIRFLOW_CONN_RISKPIPE_SPARK"])
    assert conn["host"] == "spark://spark-master:7077"
    k8s = load_settings(data_dir=tmp_path, spark_master="k8s://https://kube-api:6443")
    assert json.loads(airflow_environ(k8s, a)["AIRFLOW_CONN_RISKPIPE_SPARK"])["host"] == "k8s://https://kube-api:6443"


def test_environment_wins_over_derived(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    env = effective_environ(load_settings(data_dir=tmp_path), load_airflow_settings())
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKPIPE_AIRFLOW_RETRIES", "many")
    with pytest.raises(AirflowConfigError, match="RISKPIPE_AIRFLOW_RETRIES"):
        load_airflow_settings()


@pytest.mark.parametrize(
    "master",
    # k8s:// masters also resolve this way, but the hook then needs the cncf.kubernetes provider,
    # which is not installed here (the hook fails with a NameError on kube_client without it)
    ["local[2]", "yarn", "spark://spark-master:7077"],
)
def test_spark_provider_resolves_master_from_settings(
    airflow_home: dict[str, str], tmp_path: Path, master: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's own hook reads the connection we derive and submits to the configured master."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    env = airflow_environ(load_settings(data_dir=tmp_path, spark_master=master), load_airflow_settings())
    monkeypatch.setenv("AIRFLOW_CONN_RISKPIPE_SPARK", env["AIRFLOW_CONN_RISKPIPE_SPARK"])
    resolved = SparkSubmitHook(conn_id="riskpipe_spark")._resolve_connection()
    assert resolved["master"] == master
    assert resolved["deploy_mode"] == "client"
    assert resolved["spark_binary"] == "spark-submit"
