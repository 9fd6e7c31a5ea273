"""CLI command of the monitoring stage: ``riskpipe report`` (registered by riskpipe.cli).

pandas, matplotlib and MLflow are imported inside the command, never at CLI start-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from riskpipe.errors import ConfigError
from riskpipe.ui import date_option


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the riskpipe CLI."""

    @app.command("outcomes")
    def outcomes(
        date: str = typer.Option(..., "--date", help="decision day D (YYYY-MM-DD)"),
        model: str = typer.Option(None, "--model", help="one model (default: every model with decisions on D)"),
        as_of: str = typer.Option(None, "--as-of", help="labels known by the end of this day (default: all)"),
        skew: bool = typer.Option(True, "--skew/--no-skew", help="compare served features with Feast offline"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable summary"),
    ) -> None:
        """Join D's champion decisions with their matured labels (<lake>/outcomes/model=M/dt=D)."""
        from riskpipe.monitoring.outcomes import OutcomesError, end_of, join_outcomes, logged_models
        from riskpipe.settings import get_settings
        from riskpipe.ui import console

        s = get_settings()
        day = date_option(date, "--date")
        known_by = end_of(date_option(as_of, "--as-of")) if as_of else None
        models = [model] if model else [m for m in logged_models(s)
                                        if (s.decisions / f"model={m}" / f"dt={day.isoformat()}").is_dir()]
        if not models:
            raise OutcomesError(f"no decisions logged on {day} under {s.decisions}")
        results = [join_outcomes(day, m, s, as_of=known_by, skew=skew).summary() for m in models]
        if as_json:
            typer.echo(json.dumps(results, indent=2))
            return
        for r in results:
            console.print(f"{r['model']} {r['day']}: {r['rows']} decisions, {r['matured']} matured, "
                          f"{r['pending']} pending, {r['no_key']} without an entity id -> {r['path']}"
                          + (f"; skew alerts: {r['skew_alerts']}" if "skew_alerts" in r else ""))

    @app.command("report")
    def report(
        date: str = typer.Option(..., "--date", help="report date D (YYYY-MM-DD)"),
        out: Annotated[Path | None, typer.Option("--out", help="HTML file (default <data_dir>/reports/risk_report_D.html)")] = None,
        scores: Annotated[Path | None, typer.Option("--scores", help="Parquet written by `riskpipe score --out`")] = None,
        model_name: str = typer.Option(None, "--model-name", help="drift reference = this model's training window"),
        reference_start: str = typer.Option(None, "--reference-start", help="drift reference window start (YYYY-MM-DD)"),
        reference_end: str = typer.Option(None, "--reference-end", help="drift reference window end (YYYY-MM-DD)"),
        reference_days: int = typer.Option(None, "--reference-days", help="default reference: N days before D"),
        no_tables: bool = typer.Option(False, "--no-tables", help="do not write <lake>/monitoring tables"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable summary"),
    ) -> None:
        """Build the self-contained HTML risk report of D and write D's monitoring tables (Parquet)."""
        from riskpipe.monitoring.config import load_monitor_settings
        from riskpipe.monitoring.report import SECTIONS, build_report
        from riskpipe.settings import get_settings
        from riskpipe.ui import console, progress

        day = date_option(date, "--date")
        if (reference_start is None) != (reference_end is None):
            raise ConfigError("--reference-start and --reference-end go together")
        reference = None
        if reference_start is not None:
            reference = (date_option(reference_start, "--reference-start"), date_option(reference_end, "--reference-end"))
            if reference[0] > reference[1]:
                raise ConfigError("--reference-start must not be after --reference-end")
        ms = load_monitor_settings(**({"reference_days": reference_days} if reference_days else {}))
        with progress() as bar:
            task = bar.add_task(f"report {day}", total=7 + len(SECTIONS))
            res = build_report(day, get_settings(), ms, out=out, scores=scores, model_name=model_name,
                               reference=reference, write_tables=not no_tables,
                               on_step=lambda name: bar.update(task, description=f"report {day}: {name}", advance=1))
            bar.update(task, completed=7 + len(SECTIONS))
        summary = {"report": str(res.path), "tables": {k: str(v) for k, v in res.tables.items()},
                   "alerts": len(res.alerts), "sections_without_data": [k for k, v in res.sections.items() if not v]}
        if as_json:
            typer.echo(json.dumps({**summary, "alert_details": res.alerts}, indent=2, default=str))
            return
        console.print(f"report written to {res.path}")
        console.print(f"monitoring tables: {', '.join(summary['tables']) or 'not written'}")
        console.print(f"alerts: {len(res.alerts)}; sections without data: "
                      f"{', '.join(summary['sections_without_data']) or 'none'}")
