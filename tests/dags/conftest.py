"""Fixtures for the DAG tests: one migrated AIRFLOW_HOME (SQLite) per test session.

Airflow reads its configuration when first imported, so the session fixture sets the environment
before anything imports ``airflow`` and runs ``airflow db migrate`` once (~10 s). Runs use
``dag.test`` in this process; Spark tasks run in-process on the shared ``spark`` fixture session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

#: fast retries for the tests (the DAG files read these when they are parsed)
TEST_AIRFLOW_ENV = {
    "RISKPIPE_AIRFLOW_RETRY_DELAY_SECONDS": "1",
    "RISKPIPE_AIRFLOW_MAX_RETRY_DELAY_SECONDS": "2",
    "RISKPIPE_AIRFLOW_TASK_TIMEOUT_MINUTES": "15",
}


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """AIRFLOW_HOME with SQLite metadata, migrated once; yields the AIRFLOW_* variables in force."""
    if "airflow.settings" in sys.modules:
        pytest.fail(
            "airflow was imported before the airflow_home fixture set AIRFLOW_HOME; "
            "its configuration would point at the wrong metadata database",
            pytrace=False,
        )
    from riskpipe.orchestration.airflow_env import (
        apply_environ,
        load_airflow_settings,
        migrate,
        reset_airflow_settings,
    )
    from riskpipe.settings import load_settings

    home = tmp_path_factory.mktemp("airflow_home")
    saved = dict(os.environ)
    for k in list(os.environ):
        if k.startswith("AIRFLOW"):
            del os.environ[k]
    os.environ.update(TEST_AIRFLOW_ENV)
    os.environ["RISKPIPE_AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    reset_airflow_settings()
    env = apply_environ(load_settings(data_dir=home / "data"), load_airflow_settings())
    migrate(env)
    yield env
    os.environ.clear()
    os.environ.update(saved)
    reset_airflow_settings()


@pytest.fixture
def dag_env(airflow_home: dict[str, str], riskpipe_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data dir for one DAG test, with a small synthetic feed; returns the data dir."""
    from riskpipe.orchestration.airflow_env import reset_airflow_settings

    for k, v in TEST_AIRFLOW_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RISKPIPE_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("RISKPIPE_SPARK_SHUFFLE_PARTITIONS", "2")
    monkeypatch.setenv("RISKPIPE_AIRFLOW_GENERATE", "true")
    monkeypatch.setenv("RISKPIPE_AIRFLOW_GENERATE_CUSTOMERS", "150")
    monkeypatch.setenv("RISKPIPE_AIRFLOW_GENERATE_DAYS", "4")
    monkeypatch.setenv("RISKPIPE_AIRFLOW_START_DATE", "2026-01-01")
    reset_airflow_settings()
    yield riskpipe_env
    reset_airflow_settings()
