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


def test_drift_and_report_follow_the_daily_run(dags, dag_env: Path) -> None:
    """The monitoring run judges feature freshness/drift by its logical date and writes the day's report."""
    from riskpipe.monitoring.metrics import drift_alerts
    from riskpipe.orchestration.alerts import read_alerts
    from riskpipe.orchestration.runner import run_dag
    from riskpipe.settings import get_settings

    daily, monitoring = dags
    d1 = dt.date(2026, 1, 1)
    assert run_dag(daily, d1).ok
    r = run_dag(monitoring, d1)
    assert r.ok, r.tasks
    assert r.tasks["score_population"] == r.tasks["feature_drift"] == r.tasks["report"] == "success"
    recorded = sorted((a["kind"], a["subject"]) for a in read_alerts() if a["kind"] in ("feature_drift", "stale_data", "segment_drift")
                      and a.get("subject"))
    feature_day = d1 + dt.timedelta(days=1)  # what risk_daily published for landing day D1
    assert recorded == sorted((b["kind"], b["subject"]) for b in drift_alerts(feature_day))
    # those feature tables were just built by risk_daily: none of them is stale
    assert not [s for k, s in recorded if k == "stale_data" and s.startswith("features/")]
    page = get_settings().reports / f"risk_report_{feature_day.isoformat()}.html"
    assert page.is_file() and "Feature drift" in page.read_text(encoding="utf-8")
