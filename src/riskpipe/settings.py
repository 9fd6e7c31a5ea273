"""Typed settings for riskpipe, read from environment variables (prefix ``RISKPIPE_``).

One object decides which parts run: the *embedded* defaults (Spark ``local[*]``, dbt-duckdb, Feast on
DuckDB + SQLite + file registry, MLflow on SQLite, Airflow on SQLite) or the *production* parts
(a Spark cluster, dbt-spark, Feast on Spark + Redis + SQL registry in PostgreSQL, MLflow on PostgreSQL).
Switching is configuration only; no code path forks on anything but these fields.

Nothing is read at import time: call :func:`get_settings` (cached) and :func:`reset_settings` in tests.
Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskpipe.errors import ConfigError

_S = TypeVar("_S", bound=BaseSettings)

ENV_PREFIX = "RISKPIPE_"

# A fixed development key: only ever used in embedded mode, and loudly marked as such in run metadata.
DEV_PII_KEY = "riskpipe-embedded-dev-key-not-for-production"


class SettingsError(ConfigError):
    """Raised with a message naming every environment variable that has a bad value."""


class Mode(StrEnum):
    embedded = "embedded"
    production = "production"


class OfflineStore(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class OnlineStore(StrEnum):
    sqlite = "sqlite"
    redis = "redis"


class RegistryKind(StrEnum):
    file = "file"
    sql = "sql"


class DbtTarget(StrEnum):
    local = "local"
    cluster = "cluster"


class Settings(BaseSettings):
    """All riskpipe configuration. Field ``x`` is read from ``RISKPIPE_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False)

    mode: Mode = Field(Mode.embedded, description="embedded (one machine, no services) or production")
    data_dir: Path = Field(Path("data"), description="root of landing/, lake/, ground_truth/, mlflow/ ...")
    landing_dir: Path | None = Field(None, description="raw drops; default <data_dir>/landing")
    lake_dir: Path | None = Field(None, description="silver/quarantine/features/_runs; default <data_dir>/lake")
    sources_file: Path | None = Field(None, description="source declarations; default: packaged sources.yml")
    pii_key: SecretStr | None = Field(None, description="HMAC key for PII tokens; required in production")
    log_level: str = Field("INFO")

    # Spark
    spark_master: str = Field("local[*]", description="local[*], spark://host:7077, k8s://..., yarn")
    spark_shuffle_partitions: int = Field(8, ge=1)
    spark_driver_memory: str = Field("4g")
    spark_conf: dict[str, str] = Field(default_factory=dict, description='extra Spark conf as JSON object')

    # dbt
    dbt_target: DbtTarget | None = Field(None, description="local (duckdb) or cluster (spark); default by mode")
    dbt_threads: int = Field(2, ge=1)
    dbt_memory_limit: str = Field(
        "50%", pattern=r"^\d+(\.\d+)?(%|[KMGT]i?B)$",
        description="memory limit of the local target's DuckDB, a share of RAM ('50%') or a size ('12GB'). Past "
        "it the build spills to disk (DuckDB's .tmp in the working directory). DuckDB's own default (80% of RAM) leaves no room "
        "for the Spark JVM beside it: at 100,000 customers x 90 days it was OOM-killed on a 24 GiB machine")
    labels_file: Path | None = Field(
        None, description="label definitions (bad event, windows, exclusions; validated, and their content "
        "hash is recorded on every model trained with them); default: the packaged riskpipe/models/labels.yml")
    fraud_label_days: int | None = Field(
        None, ge=1, le=365, description="overrides the fraud label's performance window of "
        "riskpipe/models/labels.yml (days after a transaction by which its fraud chargeback counts as reported)")

    # Great Expectations
    data_docs_keep_runs: int = Field(
        60, ge=1, description="validation runs kept per dataset in the Data Docs site; older results and "
        "their pages are deleted before a new run is added (the JSON summaries under _runs are kept)")

    # Feast
    feast_offline_store: OfflineStore | None = None
    feast_online_store: OnlineStore | None = None
    feast_registry: RegistryKind | None = None
    online_read_timeout_ms: int = Field(200, ge=1, description="bound on one online read before it fails")
    materialize_batch_rows: int = Field(
        50_000, ge=1, description="rows converted and written to the online store per batch when materialising "
        "(Feast's materialization.online_write_batch_size; Feast's default is all rows of a view in one batch, "
        "which for 1M customers x credit features took more than 24 GiB and was killed)")
    # `riskpipe feature-server` (Feast's `feast serve`; see riskpipe.features.server for why these defaults)
    feature_server_workers: int = Field(1, ge=1, description="gunicorn worker processes of the feature server")
    feature_server_max_requests: int = Field(
        0, ge=0, description="recycle a worker after this many requests (0: never; Feast's default 1000 drops "
        "keep-alive connections and, with one worker, stops serving while the new worker starts)")
    feature_server_keep_alive_s: int = Field(30, ge=1, description="idle keep-alive connection timeout (seconds)")
    feature_server_registry_ttl_s: int = Field(60, ge=1, description="the server reloads the registry this often")
    feature_server_access_log: bool = Field(False, description="one access-log line per request")
    feature_server_optimize: bool = Field(
        True, description="run the server with PYTHONOPTIMIZE=1: typeguard's runtime checks in Feast (~2.5 ms "
        "of CPU per request) and assert statements are skipped")

    # Services
    redis_url: str = Field("redis://127.0.0.1:6379/0")
    redis_password: SecretStr | None = None
    postgres_url: str = Field("postgresql+psycopg2://postgres@127.0.0.1:5432/riskpipe")

    # MLflow
    mlflow_tracking_uri: str | None = Field(None, description="default sqlite:///<data_dir>/mlflow/mlflow.db")
    mlflow_artifact_root: str | None = Field(None, description="default <data_dir>/mlflow/artifacts")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v

    @field_validator("labels_file")
    @classmethod
    def _labels_file(cls, v: Path | None) -> Path | None:
        # a path only (the content is validated where it is read: riskpipe.models.labels names the
        # file and every bad field); a missing file is refused here, naming the variable
        if v is not None and not Path(v).is_file():
            raise ValueError(f"no label definitions file at {v}")
        return v

    @field_validator("spark_master")
    @classmethod
    def _master(cls, v: str) -> str:
        if not (v.startswith(("local", "spark://", "k8s://", "yarn", "sc://"))):
            raise ValueError("must be local[...], spark://host:port, k8s://..., yarn or sc://...")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @field_validator("postgres_url")
    @classmethod
    def _pg(cls, v: str) -> str:
        if not v.startswith("postgresql"):
            raise ValueError("must be a postgresql:// or postgresql+driver:// URL")
        return v

    @model_validator(mode="after")
    def _production_needs_key(self) -> Settings:
        if self.mode is Mode.production and (self.pii_key is None or not self.pii_key.get_secret_value()):
            raise ValueError(
                f"{ENV_PREFIX}PII_KEY must be set in production mode (the HMAC key for PII tokens)"
            )
        return self

    # ---- derived locations -------------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return (self.landing_dir or self.data_dir / "landing").resolve()

    @property
    def lake(self) -> Path:
        return (self.lake_dir or self.data_dir / "lake").resolve()

    @property
    def silver(self) -> Path:
        return self.lake / "silver"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def features(self) -> Path:
        return self.lake / "features"

    @property
    def runs(self) -> Path:
        return self.lake / "_runs"

    @property
    def decisions(self) -> Path:
        """The online decision log (``riskpipe serve``): ``<lake>/decisions/model=<m>/dt=<day>/``."""
        return self.lake / "decisions"

    @property
    def ground_truth(self) -> Path:
        return (self.data_dir / "ground_truth").resolve()

    @property
    def reports(self) -> Path:
        return (self.data_dir / "reports").resolve()

    # ---- derived parts: production mode switches every part, each can be overridden -------------
    @property
    def offline_store(self) -> OfflineStore:
        return self.feast_offline_store or (
            OfflineStore.spark if self.mode is Mode.production else OfflineStore.duckdb
        )

    @property
    def online_store(self) -> OnlineStore:
        return self.feast_online_store or (
            OnlineStore.redis if self.mode is Mode.production else OnlineStore.sqlite
        )

    @property
    def registry(self) -> RegistryKind:
        return self.feast_registry or (RegistryKind.sql if self.mode is Mode.production else RegistryKind.file)

    @property
    def dbt(self) -> DbtTarget:
        return self.dbt_target or (DbtTarget.cluster if self.mode is Mode.production else DbtTarget.local)

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> str:
        return self.mlflow_artifact_root or str((self.data_dir / "mlflow" / "artifacts").resolve())

    @property
    def pii_secret(self) -> bytes:
        """The HMAC key. Embedded mode falls back to a fixed development key; production has none."""
        if self.pii_key is not None and self.pii_key.get_secret_value():
            return self.pii_key.get_secret_value().encode()
        return DEV_PII_KEY.encode()

    @property
    def uses_dev_pii_key(self) -> bool:
        return self.pii_key is None or not self.pii_key.get_secret_value()


def _explain(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = e.get("loc") or ()
        name = f"{ENV_PREFIX}{str(loc[0]).upper()}" if loc else "settings"
        msg = e.get("msg", "invalid value").removeprefix("Value error, ")
        lines.append(f"{name}: {msg}" if loc else msg)
    return "invalid riskpipe configuration:\n  " + "\n  ".join(lines)


def load_section(cls: type[_S], prefix: str, what: str, overrides: dict[str, object],
                 error: type[ConfigError] = ConfigError) -> _S:
    """Build one stage's settings class (``RISKPIPE_<STAGE>_*``) with the same readable error for all:
    one line per invalid variable, named as the user sets it."""
    try:
        return cls(**overrides)
    except ValidationError as err:
        lines = [f"{prefix}{str(e['loc'][0]).upper()}: {str(e.get('msg')).removeprefix('Value error, ')}"
                 if e.get("loc") else str(e.get("msg")) for e in err.errors()]
        raise error(f"invalid {what} configuration:\n  " + "\n  ".join(lines)) from None


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus explicit overrides), with readable errors."""
    from pydantic_settings.exceptions import SettingsError as _SourceError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_explain(err)) from None
    except _SourceError as err:  # a value that is not even parseable (e.g. bad JSON)
        field = str(err).split('field "', 1)[-1].split('"', 1)[0]
        raise SettingsError(
            f"invalid riskpipe configuration:\n  {ENV_PREFIX}{field.upper()}: cannot parse value ({err})"
        ) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests, or after changing the environment)."""
    get_settings.cache_clear()
