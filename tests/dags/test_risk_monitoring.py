"""risk_monitoring with dag.test: freshness findings become alert records, judged by logical date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def dags(airflow_home: dict[str, str]):
    from riskpipe.orchestration.runner import load_dag

    return load_dag("risk_daily"), load_dag("risk_monitoring")


def test_freshness_alerts_follow_the_logical_date(dags, dag_env: Path) -> None:
    from riskpipe.orchestration.alerts import read_alerts
    from riskpipe.orchestration.daily import declared_sources
    from riskpipe.orchestration.runner import run_dag

    daily, monitoring = dags
    d1, d2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    assert run_dag(daily, d1).ok
    ok = run_dag(monitoring, d1)
    assert ok.ok, ok.tasks
    assert [a for a in read_alerts("stale_data") if a["layer"] == "landing"] == []

    late = run_dag(monitoring, d2)  # D2 has not landed: every feed is a day behind
    assert late.ok, late.tasks
    stale = [a for a in read_alerts("stale_data") if a["layer"] == "landing"]
    assert sorted(a["dataset"] for a in stale) == sorted(declared_sources())
    assert all(a["latest"] == "2026-01-01" and a["lag_days"] == 1 and a["day"] == "2026-01-02" for a in stale)
