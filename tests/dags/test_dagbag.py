"""DAG integrity: every file in dags/ imports cleanly, cheaply, with the run policy we promise."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from riskpipe.orchestration.airflow_env import get_airflow_settings

EXPECTED_DAGS = {"risk_daily", "risk_monitoring", "risk_retrain"}
HEAVY = ["pyspark", "great_expectations", "mlflow", "feast", "dbt", "lightgbm", "duckdb", "polars", "pandas"]


@pytest.fixture(scope="module")
def dagbag(airflow_home: dict[str, str]):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(airflow_home["AIRFLOW__CORE__DAGS_FOLDER"])


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


def test_one_dag_per_file(dagbag) -> None:
    files = [Path(dagbag.get_dag(d).fileloc).name for d in dagbag.dag_ids]
    assert len(files) == len(set(files))
    assert {f"{d}.py" for d in dagbag.dag_ids} == set(files)


def test_run_policy(dagbag) -> None:
    a = get_airflow_settings()
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert "riskpipe" in dag.tags, dag_id
        assert dag.deadline, f"{dag_id} has no DeadlineAlert"
        for t in dag.tasks:
            assert t.retries == a.retries, (dag_id, t.task_id)
            assert t.retry_exponential_backoff, (dag_id, t.task_id)
            assert t.max_retry_delay is not None
            assert t.execution_timeout is not None and t.execution_timeout <= dt.timedelta(hours=6)
            assert t.on_failure_callback, (dag_id, t.task_id)


def test_daily_schedule_is_interval_based(dagbag) -> None:
    """Scheduled runs get logical_date = start of the landing day they process."""
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.get_dag("risk_daily")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.max_active_runs == 1


def test_parsing_imports_nothing_heavy(airflow_home: dict[str, str]) -> None:
    """Parsing a DAG file must not pull in Spark, GX, MLflow, Feast or dbt (the scheduler parses often)."""
    folder = Path(airflow_home["AIRFLOW__CORE__DAGS_FOLDER"])
    code = (
        "import runpy, sys\n"
        f"for f in {sorted(str(p) for p in folder.glob('*.py'))!r}:\n"
        "    runpy.run_path(f)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-2000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")][-1]
    assert line == "HEAVY=", f"DAG parsing imported heavy modules: {line}"


def test_risk_daily_shape_and_assets(dagbag) -> None:
    """ingest per source in parallel after land; indicators after all of them; the feature gate before
    materialisation;
    fresh features and online features are published as assets for downstream DAGs."""
    dag = dagbag.dags["risk_daily"]
    ingest = {t for t in dag.task_ids if t.startswith("ingest_")}
    assert len(ingest) == 7
    assert dag.get_task("indicators").upstream_task_ids == ingest
    assert dag.get_task("validate_features").upstream_task_ids == {"indicators"}
    assert dag.get_task("materialize").upstream_task_ids == {"validate_features"}
    assert dag.get_task("skew_check").upstream_task_ids == {"materialize"}
    assert dag.get_task("ingest_bureau").upstream_task_ids == {"land", "ingest_customers"}
    assert dag.get_task("ingest_chargebacks").upstream_task_ids == {"land", "ingest_transactions"}
    assert dag.get_task("ingest_customers").upstream_task_ids == {"land"}
    outlets = {o.name for t in ("validate_features", "materialize") for o in dag.get_task(t).outlets}
    assert outlets == {"riskpipe_features", "riskpipe_online_features"}
