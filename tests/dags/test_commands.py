"""`riskpipe airflow env`: what a person evals before starting the Airflow UI on riskpipe's data."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner


def test_env_exports_airflow_and_riskpipe_settings(riskpipe_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from riskpipe.cli import app
    from riskpipe.orchestration.airflow_env import reset_airflow_settings
    from riskpipe.settings import reset_settings

    for k in ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW_CONN_RISKPIPE_SPARK"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RISKPIPE_PII_KEY", "do-not-print-me")
    monkeypatch.setenv("RISKPIPE_SPARK_MASTER", "spark://m:7077")
    reset_settings()
    reset_airflow_settings()
    out = CliRunner().invoke(app, ["airflow", "env"])
    assert out.exit_code == 0, out.output
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in out.output.splitlines()
    )
    home = riskpipe_env.resolve() / "airflow"
    assert exports["AIRFLOW_HOME"] == str(home)
    assert exports["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert exports["RISKPIPE_DATA_DIR"] == str(riskpipe_env.resolve())
    assert '"host": "spark://m:7077"' in exports["AIRFLOW_CONN_RISKPIPE_SPARK"]
    assert "RISKPIPE_PII_KEY" not in exports and "do-not-print-me" not in out.output
