"""The Airflow environment riskpipe runs in, built from settings rather than from a hand-edited airflow.cfg.

Airflow reads its configuration from ``AIRFLOW_HOME`` and ``AIRFLOW__SECTION__KEY`` variables when it is
first imported, so everything here must be applied *before* ``import airflow``. Embedded mode gives a
private ``AIRFLOW_HOME`` under the data dir with SQLite metadata and the LocalExecutor; production mode
points the metadata at PostgreSQL (``RISKPIPE_AIRFLOW_SQL_ALCHEMY_CONN``, default: database ``airflow``
on ``RISKPIPE_POSTGRES_URL``). The Spark connection used by Spark tasks is derived from
``RISKPIPE_SPARK_MASTER`` so the cluster config lives in one place.

Precedence: an ``AIRFLOW__*`` / ``AIRFLOW_HOME`` / ``AIRFLOW_CONN_*`` variable already in the
environment wins over what is derived here (that is Airflow's own rule, and lets a deployment pin a
value without touching riskpipe settings).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from riskpipe.errors import ConfigError
from riskpipe.settings import Mode, Settings, get_settings

log = logging.getLogger(__name__)

AIRFLOW_PREFIX = "RISKPIPE_AIRFLOW_"
SparkTasks = Literal["in_process", "spark_submit"]


class AirflowConfigError(ConfigError):
    """A RISKPIPE_AIRFLOW_* variable is invalid, or Airflow cannot be set up as configured."""


def _repo_dir(name: str) -> Path:
    """``dags/`` or ``jobs/`` of the checkout the package is installed from (editable install)."""
    return Path(__file__).resolve().parents[3] / name


class AirflowSettings(BaseSettings):
    """Orchestration settings; field ``x`` is read from ``RISKPIPE_AIRFLOW_X``."""

    model_config = SettingsConfigDict(env_prefix=AIRFLOW_PREFIX, extra="ignore", case_sensitive=False)

    home: Path | None = Field(None, description="AIRFLOW_HOME; default $AIRFLOW_HOME or <data_dir>/airflow")
    dags_folder: Path | None = Field(None, description="default: the repository's dags/")
    jobs_dir: Path | None = Field(None, description="spark-submit entry points; default the repository's jobs/")
    sql_alchemy_conn: str | None = Field(
        None, description="metadata DB; default SQLite in AIRFLOW_HOME (embedded), PostgreSQL db 'airflow' (production)"
    )
    executor: str = Field("LocalExecutor", description="LocalExecutor, CeleryExecutor, KubernetesExecutor")
    spark_tasks: SparkTasks | None = Field(
        None, description="in_process (call riskpipe in the worker) or spark_submit; default by spark master"
    )
    spark_conn_id: str = Field("riskpipe_spark")
    spark_binary: Literal["spark-submit", "spark2-submit", "spark3-submit"] = "spark-submit"
    spark_deploy_mode: Literal["client", "cluster"] = "client"
    generate: bool | None = Field(
        None, description="generate the day's synthetic landing files; default: embedded mode with the packaged sources"
    )
    generate_customers: int = Field(1000, ge=10, description="synthetic population size when generate is on")
    generate_days: int = Field(30, ge=1, description="length of the synthetic feed window from start_date")
    generate_seed: int = Field(7)
    start_date: dt.date = Field(dt.date(2026, 1, 1), description="first logical date of the daily DAG")
    catchup: bool = Field(False, description="let the scheduler create every missed run since start_date")
    retries: int = Field(2, ge=0)
    retry_delay_seconds: float = Field(60.0, gt=0)
    max_retry_delay_seconds: float = Field(1800.0, gt=0)
    task_timeout_minutes: float = Field(120.0, gt=0)
    deadline_hours: float = Field(8.0, gt=0, description="a daily run unfinished this long after its day closes alerts")
    freshness_landing_max_lag_days: int = Field(0, ge=0, description="each day's drop is due that day")
    freshness_silver_max_lag_days: int = Field(
        3, ge=0, description="silver is partitioned by event date; sparse feeds (bureau, chargebacks) lag"
    )
    retrain_models: Annotated[list[str], NoDecode] = Field(
        ["credit_pd", "fraud", "early_warning"], description="models the risk_retrain DAG trains (comma list)")
    retrain_window_days: int = Field(
        180, ge=1, description="risk_retrain trains on the label dates of the N days before its logical date")
    retrain_schedule: str = Field("0 3 * * 1", description="risk_retrain cron (UTC); default Mondays 03:00")
    fail_once: str | None = Field(
        None, description="fault injection for tests: '<step>:<marker file>' makes <step> raise once"
    )

    @field_validator("retrain_models", mode="before")
    @classmethod
    def _models(cls, v: object) -> object:
        from riskpipe.models.config import MODEL_NAMES  # light: no MLflow/Feast/LightGBM import

        names = [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v
        unknown = [n for n in names or [] if n not in MODEL_NAMES]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; known: {', '.join(MODEL_NAMES)}")
        return names

    def resolved_home(self, settings: Settings) -> Path:
        if self.home:
            return self.home.resolve()
        if os.environ.get("AIRFLOW_HOME"):
            return Path(os.environ["AIRFLOW_HOME"]).resolve()
        return (settings.data_dir / "airflow").resolve()

    def resolved_dags_folder(self) -> Path:
        return (self.dags_folder or _repo_dir("dags")).resolve()

    def resolved_jobs_dir(self) -> Path:
        return (self.jobs_dir or _repo_dir("jobs")).resolve()

    def resolved_sql_alchemy_conn(self, settings: Settings) -> str:
        if self.sql_alchemy_conn:
            return self.sql_alchemy_conn
        if settings.mode is Mode.production:
            from sqlalchemy.engine import make_url

            return make_url(settings.postgres_url).set(database="airflow").render_as_string(hide_password=False)
        return f"sqlite:///{self.resolved_home(settings) / 'airflow.db'}"

    def resolved_spark_tasks(self, settings: Settings) -> SparkTasks:
        if self.spark_tasks:
            return self.spark_tasks
        return "in_process" if settings.spark_master.startswith("local") else "spark_submit"

    def resolved_generate(self, settings: Settings) -> bool:
        if self.generate is not None:
            return self.generate
        return settings.mode is Mode.embedded and settings.sources_file is None


def load_airflow_settings(**overrides: object) -> AirflowSettings:
    """Read RISKPIPE_AIRFLOW_* with an error that names the bad variable."""
    from riskpipe.settings import load_section

    return load_section(AirflowSettings, AIRFLOW_PREFIX, "Airflow", overrides, AirflowConfigError)


@functools.cache
def get_airflow_settings() -> AirflowSettings:
    return load_airflow_settings()


def reset_airflow_settings() -> None:
    get_airflow_settings.cache_clear()


def spark_connection(settings: Settings, af: AirflowSettings) -> dict[str, object]:
    """The Airflow connection (JSON form) the Spark provider reads: master from RISKPIPE_SPARK_MASTER.

    The provider takes ``host`` as the full master URL when it contains ``://`` or has no port, which
    covers local[*], yarn, spark://h:7077 and k8s://https://api:6443 alike.
    """
    return {
        "conn_type": "spark",
        "host": settings.spark_master,
        "extra": {"deploy-mode": af.spark_deploy_mode, "spark-binary": af.spark_binary},
    }


def airflow_environ(settings: Settings | None = None, af: AirflowSettings | None = None) -> dict[str, str]:
    """The AIRFLOW_* variables derived from riskpipe settings (not yet merged with the environment)."""
    s = settings or get_settings()
    a = af or get_airflow_settings()
    env = {
        "AIRFLOW_HOME": str(a.resolved_home(s)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(a.resolved_dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": a.executor,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": a.resolved_sql_alchemy_conn(s),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        f"AIRFLOW_CONN_{a.spark_conn_id.upper()}": json.dumps(spark_connection(s, a)),
    }
    if s.mode is Mode.embedded:
        # one-person embedded UI: no login screen (never in production)
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    return env


def effective_environ(settings: Settings | None = None, af: AirflowSettings | None = None) -> dict[str, str]:
    """Derived AIRFLOW_* values with those already set in the process environment taking precedence."""
    derived = airflow_environ(settings, af)
    env = {k: os.environ.get(k, v) for k, v in derived.items()}
    async_key = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"
    async_url = os.environ.get(async_key) or async_conn(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    if async_url:
        env[async_key] = async_url
    return env


def async_conn(sync_url: str) -> str | None:
    """The async URL Airflow 3's API server needs next to a PostgreSQL sync URL.

    Airflow would derive ``postgresql+asyncpg://``, but asyncpg is not in this environment; psycopg 3
    (installed) speaks async through SQLAlchemy's ``postgresql+psycopg`` dialect. SQLite needs
    nothing here (Airflow derives aiosqlite itself).
    """
    from sqlalchemy.engine import make_url

    url = make_url(sync_url)
    if not url.drivername.startswith("postgresql"):
        return None
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


_SECRET_HINTS = ("KEY", "PASSWORD", "SECRET", "TOKEN")


def riskpipe_environ(settings: Settings | None = None) -> dict[str, str]:
    """RISKPIPE_* variables an Airflow scheduler/worker needs to see the same data as this process.

    The data dir is made absolute (workers do not share our working directory); secrets are left
    out (they must reach the workers through the deployment's secret mechanism, never a printout).
    """
    s = settings or get_settings()
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("RISKPIPE_") and not any(h in k for h in _SECRET_HINTS)
    }
    env["RISKPIPE_DATA_DIR"] = str(s.data_dir.resolve())
    return dict(sorted(env.items()))


def apply_environ(settings: Settings | None = None, af: AirflowSettings | None = None) -> dict[str, str]:
    """Put the effective Airflow variables into ``os.environ`` (call before the first ``import airflow``)."""
    if "airflow.configuration" in sys.modules:
        log.debug("airflow already imported: its configuration was read before riskpipe set it")
    env = effective_environ(settings, af)
    os.environ.update(env)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        # spark-submit and the airflow CLI ship in the same environment as this interpreter
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return env


def ensure_database(sql_alchemy_conn: str) -> bool:
    """Create the PostgreSQL metadata database if it is missing; returns True when it was created.

    SQLite needs nothing (Airflow creates the file); other back ends are left to their operators.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    url = make_url(sql_alchemy_conn)
    if not url.drivername.startswith("postgresql") or not url.database:
        return False
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("select 1 from pg_database where datname = :n"), {"n": url.database}
            ).scalar()
            if exists:
                return False
            conn.execute(text(f'create database "{url.database}"'))
            log.info("created Airflow metadata database %s", url.database)
            return True
    except OperationalError as err:
        raise AirflowConfigError(
            f"cannot reach the Airflow metadata database server {url.render_as_string(hide_password=True)}: "
            f"{err.orig}"
        ) from None
    finally:
        admin.dispose()


def migrate(env: dict[str, str] | None = None) -> None:
    """Create or upgrade the Airflow metadata schema with ``airflow db migrate`` (idempotent).

    Runs the Airflow CLI in a child process with the given (default: effective) variables, so the
    calling process may or may not have imported Airflow already.
    """
    import subprocess

    env = {**os.environ, **(env or effective_environ())}
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    ensure_database(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    airflow_bin = Path(sys.executable).parent / "airflow"
    cmd = [str(airflow_bin) if airflow_bin.exists() else "airflow", "db", "migrate"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise AirflowConfigError(f"airflow db migrate failed (AIRFLOW_HOME={env['AIRFLOW_HOME']}):\n{tail}")
    log.info("Airflow metadata ready in %s", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("@")[-1])
