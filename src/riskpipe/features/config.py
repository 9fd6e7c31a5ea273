"""Feast configuration built from riskpipe settings: one set of definitions, two sets of parts.

* embedded: DuckDB offline store over the Parquet lake, SQLite online store, file registry;
* production: Spark offline store, Redis online store (optional password), SQL registry in PostgreSQL.

The same values are rendered two ways: :func:`repo_config` builds a ``RepoConfig`` in code (what
``get_store`` uses), :func:`feature_store_yaml` writes ``feature_repo/feature_store.yaml`` so that
``feast plan`` / ``feast apply`` / ``feast serve`` work from the command line. The YAML never holds
the Redis password: it refers to ``${RISKPIPE_REDIS_PASSWORD}``, which Feast expands at load time.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from riskpipe.errors import ConfigError
from riskpipe.settings import OfflineStore, OnlineStore, RegistryKind, Settings, get_settings

#: Default Feast project; tests and parallel deployments pass their own.
DEFAULT_PROJECT = "riskpipe"
#: The repository's Feast repo (``feature_repo/`` next to ``src/``).
DEFAULT_REPO_PATH = Path(__file__).resolve().parents[3] / "feature_repo"

_repo_settings: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("riskpipe_feast", default=None)


def repo_settings() -> Settings:
    """The settings ``feature_repo/`` modules build their sources from.

    ``get_store(settings)`` sets them while it loads the repo; ``feast apply`` on the command line
    falls back to :func:`riskpipe.settings.get_settings` (the environment).
    """
    return _repo_settings.get() or get_settings()


@contextlib.contextmanager
def using_settings(settings: Settings) -> Iterator[None]:
    token = _repo_settings.set(settings)
    try:
        yield
    finally:
        _repo_settings.reset(token)


def feast_dir(settings: Settings) -> Path:
    """Where the embedded registry file and SQLite online store live."""
    return (settings.data_dir / "feast").resolve()


def redis_connection_string(settings: Settings, *, password_placeholder: str | None = None) -> str:
    """Feast's ``host:port,db=N,password=...`` form of ``RISKPIPE_REDIS_URL`` (+ ``REDIS_PASSWORD``).

    Socket timeouts come from ``online_read_timeout_ms`` so that a read never hangs on a dead
    server: redis-py raises after the bound, and :mod:`riskpipe.features.online` reports it.
    """
    url = urlparse(settings.redis_url)
    if url.scheme not in ("redis", "rediss"):
        raise ConfigError(f"RISKPIPE_REDIS_URL: Feast needs a redis:// or rediss:// URL, got {url.scheme}://")
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    db = (url.path or "/0").lstrip("/") or "0"
    parts = [f"{host}:{port}", f"db={int(db)}"]
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    password = password or (unquote(url.password) if url.password else None)
    if password:
        parts.append(f"password={password_placeholder or password}")
    if url.username:
        parts.append(f"username={unquote(url.username)}")
    if url.scheme == "rediss":
        parts.append("ssl=true")
    timeout = settings.online_read_timeout_ms / 1000.0
    parts += [f"socket_timeout={timeout}", f"socket_connect_timeout={timeout}"]
    return ",".join(parts)


def config_dict(settings: Settings, project: str = DEFAULT_PROJECT, *, for_file: bool = False) -> dict[str, Any]:
    """The Feast configuration as a plain dict (the content of ``feature_store.yaml``)."""
    fdir = feast_dir(settings)
    if settings.registry is RegistryKind.sql:
        registry: dict[str, Any] = {
            "registry_type": "sql",
            "path": settings.postgres_url,
            "cache_ttl_seconds": 60,
            "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True},
        }
    else:
        registry = {"registry_type": "file", "path": str(fdir / "registry.db"), "cache_ttl_seconds": 60}

    if settings.online_store is OnlineStore.redis:
        placeholder = "${RISKPIPE_REDIS_PASSWORD}" if for_file else None
        online: dict[str, Any] = {
            "type": "redis",
            "connection_string": redis_connection_string(settings, password_placeholder=placeholder),
        }
    else:
        online = {"type": "sqlite", "path": str(fdir / "online_store.db")}

    if settings.offline_store is OfflineStore.spark:
        conf = {
            "spark.master": settings.spark_master,
            "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
            "spark.driver.memory": settings.spark_driver_memory,
            "spark.sql.session.timeZone": "UTC",
            **settings.spark_conf,
        }
        offline: dict[str, Any] = {"type": "spark", "spark_conf": conf}
    else:
        offline = {"type": "duckdb"}

    return {
        "project": project,
        "provider": "local",
        "registry": registry,
        "online_store": online,
        "offline_store": offline,
        "entity_key_serialization_version": 3,
        # bounded memory: Feast converts a whole view to protos in one batch unless told otherwise
        "materialization": {"online_write_batch_size": settings.materialize_batch_rows},
    }


def repo_config(settings: Settings | None = None, project: str = DEFAULT_PROJECT,
                repo_path: Path | None = None):
    """A Feast ``RepoConfig`` for these settings (built in code, no YAML involved)."""
    from feast.repo_config import RepoConfig

    settings = settings or get_settings()
    fdir = feast_dir(settings)
    fdir.mkdir(parents=True, exist_ok=True)
    cfg = config_dict(settings, project)
    return RepoConfig(repo_path=Path(repo_path or DEFAULT_REPO_PATH), **cfg)


def feature_store_yaml(settings: Settings | None = None, project: str = DEFAULT_PROJECT) -> str:
    import yaml

    settings = settings or get_settings()
    header = (
        "# Generated by `riskpipe feast-config` from RISKPIPE_* settings "
        f"(offline={settings.offline_store.value}, online={settings.online_store.value}, "
        f"registry={settings.registry.value}). Do not edit: change the environment and regenerate.\n"
    )
    return header + yaml.safe_dump(config_dict(settings, project, for_file=True), sort_keys=False)


def write_feature_store_yaml(settings: Settings | None = None, project: str = DEFAULT_PROJECT,
                             repo_path: Path | None = None) -> Path:
    """Write ``feature_store.yaml`` into the Feast repo so the ``feast`` CLI sees the same config."""
    settings = settings or get_settings()
    feast_dir(settings).mkdir(parents=True, exist_ok=True)
    path = Path(repo_path or DEFAULT_REPO_PATH) / "feature_store.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(feature_store_yaml(settings, project))
    tmp.replace(path)
    return path
