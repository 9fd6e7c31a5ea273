"""Spark tasks: the same job either in the worker's own process or through ``spark-submit``.

Which one is configuration (``RISKPIPE_AIRFLOW_SPARK_TASKS``; default ``in_process`` for a ``local``
master, ``spark_submit`` otherwise), never a fork in the DAG: a DAG task calls :func:`run_spark_job`
with the ``jobs/<name>.py`` entry point, its arguments and the in-process callable that the entry
point itself calls. ``spark_submit`` goes through the Spark provider's ``SparkSubmitHook`` (what
``SparkSubmitOperator`` runs) on the connection derived from ``RISKPIPE_SPARK_MASTER``, with the
Spark conf from settings and the ``RISKPIPE_*`` variables passed to the driver.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from riskpipe.errors import RiskpipeError

log = logging.getLogger(__name__)

_SECRET_HINTS = ("KEY", "PASSWORD", "SECRET", "TOKEN")


class SparkJobError(RiskpipeError):
    """A spark-submit job is missing or failed."""


def submit_conf(settings: Any) -> dict[str, str]:
    """Spark conf for a submitted job: the same base conf as :func:`riskpipe.spark.session.get_spark`."""
    from riskpipe.spark.session import BASE_CONF

    return {**BASE_CONF, "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions), **settings.spark_conf}


def driver_env(deploy_mode: str) -> dict[str, str]:
    """RISKPIPE_* for the driver. In cluster mode they travel as Spark conf (visible in the submit
    command line), so secrets are left out and must come from the cluster's secret mechanism
    (see infra/airflow/README.md)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("RISKPIPE_")}
    if deploy_mode == "cluster":
        env = {k: v for k, v in env.items() if not any(h in k for h in _SECRET_HINTS)}
    else:
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        env["PYSPARK_PYTHON"] = os.environ.get("PYSPARK_PYTHON", sys.executable)
    return env


def submit(job: str, args: list[str]) -> None:
    """``spark-submit jobs/<job>.py <args>`` through the provider hook and the riskpipe connection."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    from riskpipe.orchestration.airflow_env import get_airflow_settings
    from riskpipe.settings import get_settings

    s, a = get_settings(), get_airflow_settings()
    app = a.resolved_jobs_dir() / f"{job}.py"
    if not app.is_file():
        raise SparkJobError(f"no spark-submit entry point {app} (RISKPIPE_AIRFLOW_JOBS_DIR)")
    hook = SparkSubmitHook(
        conn_id=a.spark_conn_id,
        conf=submit_conf(s),
        name=f"riskpipe-{job}",
        driver_memory=s.spark_driver_memory,
        application_args=args,
        env_vars=driver_env(a.spark_deploy_mode),
    )
    log.info("spark-submit %s %s", app, " ".join(args))
    try:
        hook.submit(application=str(app))
    except Exception as err:  # the hook raises AirflowException with the tail of spark-submit's output
        raise SparkJobError(f"spark job {job} {' '.join(args)} failed: {err}") from err


def run_spark_job(job: str, args: list[str], in_process: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one Spark step as configured; returns the step's summary (in-process) or what was submitted."""
    from riskpipe.orchestration.airflow_env import get_airflow_settings
    from riskpipe.settings import get_settings

    mode = get_airflow_settings().resolved_spark_tasks(get_settings())
    if mode == "in_process":
        return {"spark_tasks": mode, **in_process()}
    submit(job, args)
    return {"spark_tasks": mode, "job": job, "args": args}
