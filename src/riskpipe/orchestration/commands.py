"""``riskpipe airflow ...``: set up the Airflow home from settings and run DAGs in-process.

    riskpipe airflow init                      AIRFLOW_HOME + metadata DB (migrated), prints how to start the UI
    riskpipe airflow env                       the AIRFLOW_* variables, as shell exports
    riskpipe airflow run-daily --start D --end D    risk_daily via dag.test for each date (a backfill)
    riskpipe airflow test DAG_ID --date D      any DAG once via dag.test
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Iterator

import typer

from riskpipe.ui import date_option

airflow_app = typer.Typer(
    name="airflow",
    help="Airflow 3: build AIRFLOW_HOME from settings, run the DAGs in-process (dag.test).",
    no_args_is_help=True,
)


@contextlib.contextmanager
def airflow_output_to_stderr() -> Iterator[None]:
    """Send what Airflow prints while running (it logs to stdout) to stderr, keeping stdout for our
    report, so `--json` output stays parseable. Done at the file-descriptor level because Airflow's
    log handlers hold their own reference to the stream."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def where_to_look(env: dict[str, str]) -> list[str]:
    """Lines telling a person how to open the Airflow and MLflow UIs on what was just run."""
    from riskpipe.settings import get_settings

    s = get_settings()
    home = env["AIRFLOW_HOME"]
    return [
        f"Airflow home:  {home}  (metadata: {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'].split('@')[-1]})",
        'Airflow UI:    eval "$(riskpipe airflow env)" && airflow standalone      # http://localhost:8080',
        "               (or: airflow api-server, airflow scheduler and airflow dag-processor, same env)",
        f"MLflow UI:     mlflow ui --backend-store-uri {s.tracking_uri} --port 5000",
        f"Data:          {s.lake}  (alerts: {s.runs / 'alerts.jsonl'})",
    ]


@airflow_app.command("env")
def env_cmd() -> None:
    """Print the effective AIRFLOW_* variables as `export` lines (eval them before any airflow command)."""
    from riskpipe.orchestration.airflow_env import effective_environ, riskpipe_environ

    for key, value in {**riskpipe_environ(), **effective_environ()}.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@airflow_app.command("init")
def init_cmd() -> None:
    """Create AIRFLOW_HOME and migrate the metadata database (SQLite embedded, PostgreSQL production)."""
    from riskpipe.orchestration.runner import prepare_airflow

    env = prepare_airflow()
    for line in where_to_look(env):
        typer.echo(line)


def _report(results: list, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
        return
    for r in results:
        failed = [t for t, st in r.tasks.items() if st not in ("success", "skipped")]
        extra = f"  not successful: {', '.join(f'{t}={r.tasks[t]}' for t in failed)}" if failed else ""
        typer.echo(f"{r.dag_id} {r.logical_date}: {r.state}{extra}")


@airflow_app.command("run-daily")
def run_daily_cmd(
    start: str = typer.Option(..., "--start", help="first logical date (landing day), YYYY-MM-DD"),
    end: str = typer.Option(None, "--end", help="last logical date, inclusive (default: --start)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable result per date"),
) -> None:
    """Run risk_daily for every date from --start to --end, oldest first (a backfill), via dag.test."""
    from riskpipe.orchestration.runner import date_range, prepare_airflow, run_dates

    d0 = date_option(start, "--start")
    d1 = date_option(end, "--end") if end else d0
    days = date_range(d0, d1)
    with airflow_output_to_stderr():
        env = prepare_airflow()
        results = run_dates("risk_daily", days)
    _report(results, as_json)
    if not as_json:
        for line in where_to_look(env):
            typer.echo(line)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@airflow_app.command("test")
def test_cmd(
    dag_id: str = typer.Argument(..., help="risk_daily, risk_retrain or risk_monitoring"),
    date: str = typer.Option(..., "--date", help="logical date YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run one DAG once for one logical date via dag.test."""
    from riskpipe.orchestration.runner import prepare_airflow, run_dates

    day = date_option(date, "--date")
    with airflow_output_to_stderr():
        prepare_airflow()
        results = run_dates(dag_id, [day])
    _report(results, as_json)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``riskpipe airflow ...`` to the CLI."""
    app.add_typer(airflow_app, name="airflow")
