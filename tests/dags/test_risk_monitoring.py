"""risk_monitoring with dag.test: freshness findings become alert records, judged by logical date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
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
    feature_day = d1 + dt.timedelta(days=1)  # what risk_daily published for landing day D1
    served, altered = log_served_decisions(feature_day)
    r = run_dag(monitoring, d1)
    assert r.ok, r.tasks
    assert r.tasks["score_population"] == r.tasks["feature_drift"] == r.tasks["report"] == "success"
    assert r.tasks["outcomes"] == "success"
    recorded = sorted((a["kind"], a["subject"]) for a in read_alerts() if a["kind"] in ("feature_drift", "stale_data", "segment_drift")
                      and a.get("subject"))
    assert recorded == sorted((b["kind"], b["subject"]) for b in drift_alerts(feature_day))
    # those feature tables were just built by risk_daily: none of them is stale
    assert not [s for k, s in recorded if k == "stale_data" and s.startswith("features/")]
    page = get_settings().reports / f"risk_report_{feature_day.isoformat()}.html"
    assert page.is_file() and "Feature drift" in page.read_text(encoding="utf-8")

    # the outcomes task joined the feature date's decisions (no label has matured: all pending) and
    # compared their served features with Feast's offline point-in-time values, through the registry
    # risk_daily applied: only the feature the test altered differs
    out = get_settings().lake / "outcomes" / "model=credit_pd" / f"dt={feature_day.isoformat()}"
    joined = pd.read_parquet(out / "data.parquet")
    assert len(joined) == len(served) and set(joined["status"]) == {"pending"}
    skew = pd.read_parquet(out / "skew.parquet").set_index("feature")
    assert (skew["rows_compared"] == len(served)).all() and len(skew) >= 5
    assert skew.loc[altered, "mismatches"] == 1 and (skew.drop(index=altered)["mismatches"] == 0).all()
    skewed = [a for a in read_alerts("feature_skew") if a.get("layer") == "outcomes"]
    assert [a["subject"] for a in skewed] == [f"credit_pd.{altered}"] and skewed[0]["day"] == feature_day.isoformat()


def log_served_decisions(day: dt.date) -> tuple[list[dict], str]:
    """Champion credit_pd decisions at noon of ``day`` for the customers risk_daily built features for,
    written by the serving code's decision log, each with the features Feast returns offline for that
    moment (what an online read then serves), one number of one decision off by 7; returns the
    decisions' features and the altered feature."""
    from riskpipe.features.store import get_store
    from riskpipe.features.training import build_training_set
    from riskpipe.models.decisions import DecisionLog, to_json
    from riskpipe.settings import get_settings

    s = get_settings()
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    part = s.features / "customer_credit_daily" / f"dt={day.isoformat()}" / "data.parquet"
    customers = sorted(pd.read_parquet(part, columns=["customer_id"])["customer_id"])[:20]
    ents = pd.DataFrame({"customer_id": customers, "requested_amount": 1000.0, "event_timestamp": at})
    offline = build_training_set("credit_pd_v1", ents, settings=s, store=get_store(s)).frame
    served = [row.drop("event_timestamp").to_dict() for _, row in offline.iterrows()]
    # alter one number the online store would have served differently
    k, name = next((i, c) for i, f in enumerate(served) for c in sorted(f)
                   if c not in ("customer_id", "requested_amount") and isinstance(f[c], (int, float))
                   and not isinstance(f[c], bool) and pd.notna(f[c]))
    served[k] = {**served[k], name: served[k][name] + 7}
    log = DecisionLog(s.decisions, flush_seconds=3600)
    for i, f in enumerate(served):
        request = {"application_id": f"app-{i}", "customer_id": f["customer_id"], "requested_amount": 1000.0}
        log.append({"decision_id": f"{day:%Y%m%d}-{i:032x}", "decided_at": at + dt.timedelta(seconds=i),
                    "role": "champion", "shadow_of": None, "endpoint": "credit_pd", "model_name": "credit_pd",
                    "model_version": "1", "model_run_id": "r", "feature_service": "credit_pd_v1",
                    "request_id": None, "request": to_json(request), "features": to_json(f),
                    "features_missing": [], "probability": 0.1, "score": 600.0, "band": "approve",
                    "reason_codes": [], "latency_ms": 1.0})
    log.close()
    assert log.written == len(served)
    return served, name
