"""Run policy shared by the DAG files: retries with exponential backoff, timeouts, deadlines, callbacks.

Values come from ``RISKPIPE_AIRFLOW_*`` (see :class:`~riskpipe.orchestration.airflow_env.AirflowSettings`)
and are read when a DAG file is parsed; this module imports only the settings, so parsing stays cheap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from riskpipe.orchestration.airflow_env import get_airflow_settings

#: dotted paths, so Airflow imports the callbacks only when it calls them
ON_FAILURE = "riskpipe.orchestration.alerts.task_failed"
ON_RETRY = "riskpipe.orchestration.alerts.task_retrying"
ON_DEADLINE = "riskpipe.orchestration.alerts.deadline_missed"


def default_args(timeout_factor: float = 1.0) -> dict[str, Any]:
    """Task defaults: retries with exponential backoff, an execution timeout, alerting callbacks."""
    from riskpipe.orchestration import alerts

    a = get_airflow_settings()
    return {
        "owner": "riskpipe",
        "retries": a.retries,
        "retry_delay": dt.timedelta(seconds=a.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(seconds=a.max_retry_delay_seconds),
        "execution_timeout": dt.timedelta(minutes=a.task_timeout_minutes * timeout_factor),
        "on_failure_callback": alerts.task_failed,
        "on_retry_callback": alerts.task_retrying,
    }


def start_date() -> dt.datetime:
    """First logical date of the scheduled DAGs (UTC midnight of RISKPIPE_AIRFLOW_START_DATE)."""
    d = get_airflow_settings().start_date
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def catchup() -> bool:
    """Whether the scheduler backfills missed intervals by itself (RISKPIPE_AIRFLOW_CATCHUP)."""
    return get_airflow_settings().catchup


def run_deadline(hours: float | None = None) -> Any:
    """A DeadlineAlert: the run must finish within N hours of its logical date plus one day.

    The logical date is the start of the landing day processed, so "one day + N hours" after it is
    N hours after that day's files are complete.
    """
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    a = get_airflow_settings()
    h = a.deadline_hours if hours is None else hours
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=dt.timedelta(days=1, hours=h),
        callback=SyncCallback(ON_DEADLINE),
        name=f"finished within {h:g} h of the day's close",
    )
