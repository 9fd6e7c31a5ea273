"""Fixtures for the feature-store tests: synthetic contract tables and configured stores."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from riskpipe.features.config import DEFAULT_REPO_PATH
from riskpipe.settings import load_settings
from tests.features import synth

PG_TEST_DB = "riskpipe_feast_test"
REDIS_TEST_DB = 11  # a dedicated Redis database; every test also uses its own Feast project


def embedded_settings(data_dir: Path, **extra):
    return load_settings(data_dir=data_dir, mode="embedded", feast_offline_store="duckdb",
                         feast_online_store="sqlite", feast_registry="file", **extra)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """Embedded parts (DuckDB + SQLite + file registry) over synthetic tables, definitions applied."""
    from riskpipe.features.store import get_store

    data_dir = tmp_path_factory.mktemp("embedded") / "data"
    settings = embedded_settings(data_dir)
    synth.write_all(settings.features)
    store = get_store(settings, apply=True)
    return settings, store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def unique_project(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def feast_pg_url(postgres_available) -> str:
    """A dedicated PostgreSQL database for Feast SQL registries (created if missing)."""
    import sqlalchemy as sa

    admin = sa.create_engine(postgres_available, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("select 1 from pg_database where datname = :d"), {"d": PG_TEST_DB}).scalar()
        if not exists:
            conn.execute(sa.text(f'create database "{PG_TEST_DB}"'))
    admin.dispose()
    url = postgres_available.rsplit("/", 1)[0] + f"/{PG_TEST_DB}"
    yield url
    # remove every test project's rows (test projects are named rp_<kind>_<hex>)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "select table_name from information_schema.columns "
            "where column_name = 'project_id' and table_schema = 'public'")).scalars().all()
        for table in tables:
            conn.execute(sa.text(f'delete from "{table}" where project_id like :p'), {"p": "rp\\_%"})
    engine.dispose()


class RedisServer:
    """A private, non-persistent redis-server process that a test may kill and restart."""

    def __init__(self, port: int, workdir: Path, *extra: str):
        self.port, self.workdir, self.proc, self.extra = port, workdir, None, list(extra)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)", pytrace=False)
    port = 6390 if port_free(6390) else free_port()
    server = RedisServer(port, tmp_path)
    server.start()
    yield server
    server.kill()


def copy_repo(dest: Path) -> Path:
    """A private copy of feature_repo/ (the CLI writes feature_store.yaml into it)."""
    shutil.copytree(DEFAULT_REPO_PATH, dest, ignore=shutil.ignore_patterns("feature_store.yaml", "__pycache__"))
    return dest


def riskpipe_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKPIPE_")}
    env.update(settings_env)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                         env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


FEAST = str(Path(sys.executable).with_name("feast"))


def wait_healthy(server: subprocess.Popen, base: str, log_path, what: str, limit_s: float = 240) -> None:
    """Until the server at ``base`` answers /health; fails with its log if it exits first, or
    after ``limit_s`` (a bound on start-up, not a measurement)."""
    deadline = time.monotonic() + limit_s
    while True:
        assert server.poll() is None, log_path.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(1)
