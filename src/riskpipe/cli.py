"""The ``riskpipe`` command line: one command per pipeline stage.

Each stage module registers its own commands (see ``COMMAND_MODULES``) so that heavy libraries
(Spark, Great Expectations, Feast, MLflow) are imported only when their command runs.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys

import typer

from riskpipe.errors import RiskpipeError

app = typer.Typer(
    name="riskpipe",
    help="Batch data pipeline and feature store for credit and fraud risk modelling.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules with a ``register(app)`` function adding their stage's commands.
COMMAND_MODULES: list[str] = [
    "riskpipe.sources.commands",
    "riskpipe.ingest.commands",
    "riskpipe.quality.commands",
    "riskpipe.models.commands",
    "riskpipe.orchestration.commands",
    "riskpipe.indicators.commands",
    "riskpipe.features.commands",
    "riskpipe.monitoring.commands",
]


@app.callback()
def _main(
    log_level: str = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING (default: RISKPIPE_LOG_LEVEL)"),
) -> None:
    """riskpipe: ingest -> validate -> indicators -> features -> models, on embedded or production parts."""
    from riskpipe.logs import configure_logging
    from riskpipe.settings import get_settings

    configure_logging(log_level.upper() if log_level else get_settings().log_level)


@app.command("info")
def info(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Show the effective configuration: which parts run and where data lives."""
    from riskpipe.models.labels import definitions_file
    from riskpipe.settings import get_settings

    s = get_settings()
    rows = {
        "mode": s.mode.value,
        "landing": str(s.landing),
        "lake": str(s.lake),
        "spark_master": s.spark_master,
        "dbt_target": s.dbt.value,
        "feast_offline_store": s.offline_store.value,
        "feast_online_store": s.online_store.value,
        "feast_registry": s.registry.value,
        "mlflow_tracking_uri": s.tracking_uri,
        "pii_key": "development key (embedded only)" if s.uses_dev_pii_key else "set",
        "label_definitions": definitions_file(s),
    }
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    from riskpipe.ui import console

    table = Table(title="riskpipe configuration", show_header=False)
    for k, v in rows.items():
        table.add_row(k, v)
    console.print(table)


@app.command("demo")
def demo(
    customers: int = typer.Option(3_000, help="customers in the generated population"),
    days: int = typer.Option(8, help="landing days to generate and process"),
    seed: int = typer.Option(7, help="generator seed"),
    airflow_days: int = typer.Option(2, help="last landing days run again through Airflow, then risk_retrain (0: none)"),
) -> None:
    """Run the whole pipeline end to end on the embedded defaults and summarise what it produced."""
    from rich.markup import escape
    from rich.table import Table

    from riskpipe.demo import STEPS, DemoConfig, run_demo
    from riskpipe.settings import get_settings
    from riskpipe.ui import console, progress

    cfg = DemoConfig(customers=customers, days=days, seed=seed, airflow_days=airflow_days)
    with progress() as bar:
        task = bar.add_task("demo", total=len(STEPS))
        results = run_demo(cfg, on_step=lambda name: bar.update(task, description=f"demo: {name}", advance=0))
        bar.update(task, completed=len(STEPS))
    table = Table(title=f"riskpipe demo: {customers:,} customers x {days} days (data in {get_settings().data_dir})")
    for col in ("step", "seconds", "produced", "where"):
        table.add_column(col, overflow="fold")
    for r in results:
        for i, (what, where) in enumerate(r.produced):
            table.add_row(r.name if i == 0 else "", f"{r.seconds:.1f}" if i == 0 else "", what, escape(where))
    console.print(table)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    """Entry point: run the app, turning riskpipe errors into a clear message and exit code."""
    try:
        app(standalone_mode=False)
    except RiskpipeError as err:
        logging.getLogger("riskpipe").debug("error detail", exc_info=True)
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(err.exit_code)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.secho("aborted", err=True)
        sys.exit(130)
    except Exception as err:  # click usage errors
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise


if __name__ == "__main__":
    main()
