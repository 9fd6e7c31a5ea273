"""risk_daily end to end with dag.test on a small synthetic feed (Spark local, in-process)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pytest

D1, D2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root (what 'same result' means for a lake)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def data_digest(s) -> dict[str, str]:
    """Every data file a reader sees (landing, silver, quarantine, features), not run logs/metadata."""
    out: dict[str, str] = {}
    for name, root in (("landing", s.landing), ("silver", s.silver), ("quarantine", s.quarantine),
                       ("features", s.features)):
        out |= {f"{name}/{k}": v for k, v in tree_digest(root).items()}
    return out


@pytest.fixture(scope="module")
def daily_dag(airflow_home: dict[str, str]):
    from riskpipe.orchestration.runner import load_dag

    return load_dag("risk_daily")


def test_two_consecutive_days_and_a_backfill(daily_dag, dag_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from riskpipe.orchestration.daily import declared_sources
    from riskpipe.orchestration.runner import run_dag
    from riskpipe.settings import get_settings

    results = [run_dag(daily_dag, d) for d in (D1, D2)]
    assert [r.state for r in results] == ["success", "success"], [r.tasks for r in results]
    s = get_settings()
    feed = dag_env.resolve() / "synthetic_feed"
    for day in (D1, D2):
        for src in declared_sources():
            got = tree_digest(s.landing / src / f"dt={day}")
            assert got, f"nothing landed for {src} {day}"
            assert got == tree_digest(feed / src / f"dt={day}")
    # only the days run were delivered
    assert not (s.landing / "customers" / "dt=2026-01-03").exists()
    # and each day went on through its ingest tasks into silver, with a run record per source
    for day in (D1, D2):
        assert list((s.silver / "transactions" / f"dt={day}").glob("*.parquet")), day
        for src in declared_sources():
            assert (s.runs / "ingest" / src / f"dt={day}" / "latest.json").exists(), (src, day)
    assert results[1].tries["ingest_bureau"] == 1
    # then the indicators of the feature date each day completes, validated, then the online store
    silver = pd.read_parquet(s.silver / "transactions")
    for r, day in zip(results, (D1, D2), strict=True):
        fdate = day + dt.timedelta(days=1)
        for table in ("customer_credit_daily", "customer_fraud_daily", "customer_graph_daily", "fraud_txn"):
            part = s.features / table / f"dt={fdate}"
            assert (part / "data.parquet").is_file() and (part / "_VALIDATED").is_file(), (table, fdate)
            assert '"great_expectations"' in (part / "_VALIDATED").read_text()
        assert r.tasks["validate_features"] == r.tasks["materialize"] == r.tasks["skew_check"] == "success"
        # fraud_txn of the feature date holds the landing day's transactions (built after they landed),
        # late arrivals of earlier days included
        fraud = set(pd.read_parquet(s.features / "fraud_txn" / f"dt={fdate}" / "data.parquet")["txn_id"])
        landed = set(silver.loc[silver["known_at"] == pd.Timestamp(fdate.isoformat(), tz="UTC"), "txn_id"])
        assert fraud and fraud == landed, (fdate, len(fraud), len(landed))
    from riskpipe.features.online import online_features

    cust = pd.read_parquet(
        s.features / "customer_credit_daily" / f"dt={D2 + dt.timedelta(days=1)}" / "data.parquet")
    vec = online_features("credit_pd_v1", [{"customer_id": cust["customer_id"].iloc[0], "requested_amount": 1000.0}])
    assert vec["txn_count_30d"][0] == cust["txn_count_30d"].iloc[0]
    assert_deadline_stored("risk_daily")

    # a backfill of the same range into an empty lake (what `riskpipe airflow run-daily --start D1
    # --end D2` runs) produces the same data as the daily runs did
    daily = content_digest(s)
    _backfill_in_fresh_lake(dag_env, [D1, D2], monkeypatch)
    assert content_digest(get_settings()) == daily


def _backfill_in_fresh_lake(dag_env: Path, days: list[dt.date], monkeypatch: pytest.MonkeyPatch) -> None:
    """run_dates' loop (the CLI's backfill) on a freshly parsed DAG; the Airflow env is the test's."""
    from riskpipe.orchestration.runner import load_dag, run_dag
    from riskpipe.settings import reset_settings

    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(dag_env.parent / "backfill"))
    reset_settings()
    dag = load_dag("risk_daily")
    results = [run_dag(dag, d) for d in days]
    assert [r.state for r in results] == ["success"] * len(days), [r.tasks for r in results]


def content_digest(s) -> dict[str, str]:
    """What readers see, independent of where and when it was written: every data file's rows (minus the
    writing run's id), and which partitions were marked validated."""
    out: dict[str, str] = {}
    for name, root in (("silver", s.silver), ("quarantine", s.quarantine), ("features", s.features)):
        for p in sorted(root.rglob("*")):
            rel = f"{name}/{p.relative_to(root)}"
            if p.suffix == ".parquet" and "_staging" not in p.parts:
                df = pd.read_parquet(p)
                df = df[[c for c in df.columns if c != "_run_id"]]
                df = df.sort_values(list(df.columns)).reset_index(drop=True)
                out[rel] = hashlib.sha256(pd.util.hash_pandas_object(df, index=False).values.tobytes()).hexdigest()
            elif p.name == "_VALIDATED":
                out[rel] = "validated"
    return out


def assert_deadline_stored(dag_id: str) -> None:
    """dag.test runs without the deadline (see runner), but the DAG parsed into the DB keeps it."""
    from airflow.models.deadline_alert import DeadlineAlert
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(DeadlineAlert)
            .join(SerializedDagModel, DeadlineAlert.serialized_dag_id == SerializedDagModel.id)
            .where(SerializedDagModel.dag_id == dag_id)
        ).all()
        assert rows, f"no deadline alert stored for {dag_id}"
        assert all("riskpipe.orchestration.alerts.deadline_missed" in str(r.callback_def) for r in rows)


def test_injected_failure_is_retried_and_rerun_is_idempotent(
    daily_dag, dag_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails after doing its work is retried; the retry and a later rerun change nothing."""
    from riskpipe.orchestration.alerts import read_alerts
    from riskpipe.orchestration.runner import run_dag
    from riskpipe.settings import get_settings

    marker = dag_env / "faults" / "land.fired"
    monkeypatch.setenv("RISKPIPE_AIRFLOW_FAIL_ONCE", f"land:{marker}")
    first = run_dag(daily_dag, D1)
    assert first.state == "success", first.tasks
    assert marker.exists()
    assert first.tries["land"] == 2
    retries = read_alerts("task_retry")
    assert [(r["task_id"], r["try_number"]) for r in retries] == [("land", 1)]
    assert read_alerts("task_failed") == []

    s = get_settings()
    before = data_digest(s)
    assert any(k.startswith("features/") for k in before) and any(k.startswith("silver/") for k in before)
    again = run_dag(daily_dag, D1)
    assert again.state == "success" and again.tries["land"] == 1
    assert data_digest(s) == before


def test_a_blocked_outcome_day_fails_its_run_and_its_labels_wait(
    daily_dag, dag_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D1's repayments arrive with a broken loan_id format: D1's run fails at ingest_repayments and
    publishes nothing of it. D2's run succeeds; its indicators raise a labels_held_back warning for the
    labels read from repayments (credit_pd, early_warning), not for the fraud labels."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from riskpipe.orchestration.airflow_env import reset_airflow_settings
    from riskpipe.orchestration.alerts import read_alerts
    from riskpipe.orchestration.daily import _synthetic_feed
    from riskpipe.orchestration.runner import run_dag
    from riskpipe.settings import get_settings

    # enough customers that D2 books loans too (their schedules land on D2): the loans known on D2's
    # feature date are then not all in the blocked day
    monkeypatch.setenv("RISKPIPE_AIRFLOW_GENERATE_CUSTOMERS", "600")
    reset_airflow_settings()
    s = get_settings()
    src = _synthetic_feed(D1) / "repayments" / f"dt={D1}"
    dst = s.landing / "repayments" / f"dt={D1}"  # delivered before land runs: landing is never rewritten
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        t = pq.read_table(f)
        assert t.num_rows > 0, f
        broken = pc.binary_join_element_wise(pa.scalar("X-"), t["loan_id"], "")
        pq.write_table(t.set_column(t.schema.get_field_index("loan_id"), "loan_id", broken), dst / f.name)

    first = run_dag(daily_dag, D1)
    assert first.state == "failed" and first.tasks["ingest_repayments"] == "failed", first.tasks
    assert first.tasks["indicators"] != "success"
    assert not (s.silver / "repayments").exists() or not list((s.silver / "repayments").glob(f"dt={D1}/*.parquet"))
    assert read_alerts("labels_held_back") == []

    second = run_dag(daily_dag, D2)
    assert second.state == "success", second.tasks
    held = read_alerts("labels_held_back")
    assert [(a["feature_date"], a["unpublished"]) for a in held] == [
        ((D2 + dt.timedelta(days=1)).isoformat(), {"repayments": [D1.isoformat()]})]
    assert "label_credit_pd, label_early_warning mature only up to 2026-01-01 00:00" in held[0]["message"]
    assert "label_fraud" not in held[0]["message"]
