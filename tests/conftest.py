"""Shared fixtures: isolated settings per test, real services that fail clearly when absent."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from riskpipe.settings import reset_settings
from tests.worlds import loan_world, store_world, world  # noqa: F401  (session fixtures shared by the suites)

#: py4j logs "Closing down clientserver connection" (INFO) from a finaliser at interpreter exit,
#: after pytest has closed the streams its log handlers write to: "--- Logging error ---" noise
logging.getLogger("py4j").setLevel(logging.WARNING)

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail (never skip) with a message saying what is missing and how to start it."""
    if not _reachable(host, port):
        pytest.fail(
            f"{name} is not reachable on {host}:{port}. This test uses the real service; "
            f"start it (bash infra/services/ensure.sh) or install it (apt-get install "
            f"{'postgresql' if name == 'PostgreSQL' else 'redis-server'}).",
            pytrace=False,
        )


@pytest.fixture
def riskpipe_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data dir and a clean RISKPIPE_* environment for one test."""
    for k in list(os.environ):
        if k.startswith("RISKPIPE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


@pytest.fixture(scope="session")
def postgres_available() -> str:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    return f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/postgres"


@pytest.fixture(scope="session")
def redis_available() -> str:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole test run (starting one costs ~10 s)."""
    import sys

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from riskpipe.settings import load_settings
    from riskpipe.spark.session import get_spark

    session = get_spark(
        "riskpipe-tests",
        load_settings(spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g"),
    )
    yield session
    session.stop()
