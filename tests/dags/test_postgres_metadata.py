"""Airflow on PostgreSQL metadata (the production column): migrate, run risk_daily via the CLI, inspect.

Runs `riskpipe airflow run-daily` in a child process (this test process's Airflow is bound to the
session's SQLite home) against a fresh database on the real server, which is dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.services


@pytest.fixture
def pg_airflow_db(postgres_available: str):
    name = f"riskpipe_airflow_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_available, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = postgres_available.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def test_run_daily_on_postgres(pg_airflow_db: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKPIPE_", "PYSPARK_GATEWAY"))}
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_airflow_db,
            "RISKPIPE_DATA_DIR": str(tmp_path / "data"),
            "RISKPIPE_AIRFLOW_HOME": str(tmp_path / "airflow"),
            "RISKPIPE_AIRFLOW_GENERATE": "true",
            "RISKPIPE_AIRFLOW_GENERATE_CUSTOMERS": "120",
            "RISKPIPE_AIRFLOW_GENERATE_DAYS": "2",
            "RISKPIPE_AIRFLOW_START_DATE": "2026-01-01",
            "RISKPIPE_AIRFLOW_RETRY_DELAY_SECONDS": "1",
            "RISKPIPE_SPARK_MASTER": "local[1]",
            "RISKPIPE_SPARK_SHUFFLE_PARTITIONS": "2",
            "RISKPIPE_SPARK_DRIVER_MEMORY": "1g",
        }
    )
    cli = Path(sys.executable).parent / "riskpipe"
    proc = subprocess.run(
        [str(cli), "airflow", "run-daily", "--start", "2026-01-01", "--end", "2026-01-02"],
        env=env, capture_output=True, text=True, timeout=540,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "risk_daily 2026-01-01: success" in proc.stdout
    assert "risk_daily 2026-01-02: success" in proc.stdout
    assert "Airflow UI" in proc.stdout and "MLflow UI" in proc.stdout

    engine = create_engine(pg_airflow_db)
    try:
        with engine.connect() as conn:
            runs = conn.execute(
                text("select logical_date::date, state from dag_run where dag_id = 'risk_daily' order by 1")
            ).all()
            tis = conn.execute(
                text("select task_id, state from task_instance where dag_id = 'risk_daily'")
            ).all()
    finally:
        engine.dispose()
    assert [(str(d), s) for d, s in runs] == [("2026-01-01", "success"), ("2026-01-02", "success")]
    assert tis and all(s == "success" for _, s in tis)
    assert (tmp_path / "airflow").is_dir()
    assert not (tmp_path / "airflow" / "airflow.db").exists()  # metadata went to PostgreSQL, not SQLite
