"""Alerts raised by the DAGs: a log line plus one JSON record per alert in ``<lake>/_runs/alerts.jsonl``.

Airflow calls :func:`task_failed` (``on_failure_callback``, after the last retry), :func:`task_retrying`
(``on_retry_callback``) and :func:`deadline_missed` (a ``DeadlineAlert`` callback, run by the executor
when a daily run has not finished in time). Monitoring tasks call :func:`raise_alert` for drift and
freshness findings. The file is the hand-off to whatever pages a person (a log shipper, a notifier);
keeping it a plain append-only file makes alerts visible on the embedded set-up with no service.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.jsonl"


def alerts_path() -> Path:
    from riskpipe.settings import get_settings

    return get_settings().runs / ALERTS_FILE


def raise_alert(kind: str, message: str, *, severity: str = "error", **fields: Any) -> dict[str, Any]:
    """Log an alert and append it to the alerts file; returns the record written."""
    record = {
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "severity": severity,
        "message": message,
        **{k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in fields.items()},
    }
    level = logging.ERROR if severity == "error" else logging.WARNING
    log.log(level, "ALERT %s: %s", kind, message)
    path = alerts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return record


def read_alerts(kind: str | None = None) -> list[dict[str, Any]]:
    """All alert records (optionally of one kind), oldest first."""
    path = alerts_path()
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if kind is None or r.get("kind") == kind]


def _ti_fields(context: Any) -> dict[str, Any]:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    logical = context.get("logical_date")
    return {
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None),
        "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": logical.isoformat() if logical is not None else None,
    }


def task_failed(context: Any) -> None:
    """on_failure_callback: the task failed for good (retries exhausted)."""
    fields = _ti_fields(context)
    err = context.get("exception")
    raise_alert(
        "task_failed",
        f"{fields['dag_id']}.{fields['task_id']} failed for {fields['logical_date']}: {err}",
        error=type(err).__name__ if err is not None else None,
        **fields,
    )


def task_retrying(context: Any) -> None:
    """on_retry_callback: a failed try that will be retried (a warning, not a page)."""
    fields = _ti_fields(context)
    err = context.get("exception")
    raise_alert(
        "task_retry",
        f"{fields['dag_id']}.{fields['task_id']} try {fields['try_number']} failed, retrying: {err}",
        severity="warning",
        **fields,
    )


def deadline_missed(context: Any = None, **kwargs: Any) -> None:
    """DeadlineAlert callback: a run has not finished by its deadline.

    Airflow 3.3 passes ``context={"dag_run": <DAGRunResponse as JSON>, "deadline": {...}}`` plus the
    kwargs given to the callback.
    """
    context = context if isinstance(context, dict) else {}
    run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    dag_id = run.get("dag_id") or kwargs.get("dag_id")
    raise_alert(
        "deadline_missed",
        f"{dag_id} run {run.get('dag_run_id', '?')} (logical date {run.get('logical_date')}) "
        f"missed its deadline {deadline.get('deadline_time')}",
        dag_id=dag_id,
        run_id=run.get("dag_run_id"),
        logical_date=run.get("logical_date"),
        deadline_time=deadline.get("deadline_time"),
        **{k: v for k, v in kwargs.items() if k != "dag_id"},
    )
