"""Alert records written by the DAG callbacks, and the one-shot fault injection used by the run tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from riskpipe.orchestration import alerts
from riskpipe.orchestration.faults import InjectedFault, maybe_fail
from riskpipe.orchestration.runner import DagRunError, date_range


def test_task_failed_writes_a_record(riskpipe_env: Path) -> None:
    ti = SimpleNamespace(dag_id="risk_daily", run_id="r1", task_id="ingest", map_index=2, try_number=3)
    ctx = {"ti": ti, "logical_date": dt.datetime(2026, 1, 5, tzinfo=dt.UTC), "exception": ValueError("bad file")}
    alerts.task_failed(ctx)
    alerts.task_retrying({**ctx, "exception": OSError("flaky")})
    recs = alerts.read_alerts()
    assert [r["kind"] for r in recs] == ["task_failed", "task_retry"]
    assert recs[0]["task_id"] == "ingest" and recs[0]["map_index"] == 2 and recs[0]["try_number"] == 3
    assert recs[0]["logical_date"] == "2026-01-05T00:00:00+00:00"
    assert recs[0]["error"] == "ValueError" and "bad file" in recs[0]["message"]
    assert recs[1]["severity"] == "warning"
    assert alerts.alerts_path() == riskpipe_env.resolve() / "lake" / "_runs" / "alerts.jsonl"


def test_deadline_callback_reads_the_context_airflow_passes(riskpipe_env: Path) -> None:
    ctx = {
        "dag_run": {"dag_id": "risk_daily", "dag_run_id": "scheduled__2026-01-05", "logical_date": "2026-01-05T00:00:00Z"},
        "deadline": {"id": "x", "deadline_time": "2026-01-06T08:00:00Z"},
    }
    alerts.deadline_missed(context=ctx)
    (rec,) = alerts.read_alerts("deadline_missed")
    assert rec["dag_id"] == "risk_daily" and rec["run_id"] == "scheduled__2026-01-05"
    assert rec["deadline_time"] == "2026-01-06T08:00:00Z"


def test_fault_fires_once_per_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "m" / "fired"
    monkeypatch.setenv("RISKPIPE_AIRFLOW_FAIL_ONCE", f"ingest:{marker}")
    maybe_fail("land")  # other steps are untouched
    with pytest.raises(InjectedFault, match="ingest"):
        maybe_fail("ingest")
    assert marker.exists()
    maybe_fail("ingest")  # the retry passes


def test_date_range() -> None:
    assert date_range(dt.date(2026, 1, 30), dt.date(2026, 2, 1)) == [
        dt.date(2026, 1, 30), dt.date(2026, 1, 31), dt.date(2026, 2, 1)
    ]
    with pytest.raises(DagRunError, match="before"):
        date_range(dt.date(2026, 1, 2), dt.date(2026, 1, 1))
