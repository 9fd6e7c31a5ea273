"""`riskpipe validate`: run the quality suites on published partitions (registered by riskpipe.cli)."""

from __future__ import annotations

import typer

from riskpipe.ui import date_option


def validate_cmd(
    date: str = typer.Option(..., "--date", help="partition date YYYY-MM-DD (dt=...)"),
    dataset: list[str] = typer.Option(None, "--dataset", help="only this dataset (repeatable); default every spec"),
    features: bool = typer.Option(False, "--features", help="the feature gate: validate the feature tables of "
                                  "feature date D and mark the passing partitions validated (what materialize "
                                  "requires), as the daily DAG's validate_features task does"),
) -> None:
    """Validate published partitions against expectations/<dataset>.yml; exit 1 when a suite fails."""
    from rich.markup import escape
    from rich.table import Table

    from riskpipe.errors import ConfigError
    from riskpipe.quality.spec import list_datasets
    from riskpipe.quality.validate import PartitionMissing, validate_dataset
    from riskpipe.settings import get_settings
    from riskpipe.ui import console, progress

    day = date_option(date, "--date")
    if features:
        _feature_gate(day, list(dataset or []))
        return
    known = list_datasets()
    chosen = list(dataset) if dataset else known
    unknown = [d for d in chosen if d not in known]
    if unknown:
        raise ConfigError(f"no quality spec for {', '.join(unknown)}; specs exist for: {', '.join(known)}")
    s = get_settings()
    table = Table(title=f"validate dt={day}")
    for col in ("dataset", "result", "rows", "failed (error)", "warnings", "summary"):
        table.add_column(col, overflow="fold")
    failed: list[str] = []
    messages: list[str] = []
    with progress() as bar:
        task = bar.add_task(f"validating {day}", total=len(chosen))
        for name in chosen:
            bar.update(task, description=f"validating {name} {day}")
            try:
                r = validate_dataset(name, day, s)
            except PartitionMissing as err:
                # asked for explicitly: an error; in the all-datasets sweep: a feed may not deliver daily
                if dataset:
                    failed.append(name)
                    messages.append(str(err))
                table.add_row(name, "missing" if dataset else "no partition", "-", "", "", "")
                bar.advance(task)
                continue
            if not r.passed:
                failed.append(name)
                messages.append(r.message)
            table.add_row(name, "[green]passed" if r.passed else "[red]FAILED", f"{r.rows:,}",
                          escape(", ".join(r.failed_checks)), escape(", ".join(r.warning_checks)),
                          escape(str(r.summary_path)))
            bar.advance(task)
    console.print(table)
    console.print(f"data docs: {escape(str(s.reports / 'data_docs' / 'index.html'))}")
    if failed:
        for m in messages:
            typer.secho(m, fg=typer.colors.RED, err=True)
        typer.secho(f"validation failed for {', '.join(failed)} on {day}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def _feature_gate(day, tables: list[str]) -> None:  # noqa: ANN001 (a date)
    from rich.markup import escape
    from rich.table import Table

    from riskpipe.errors import ConfigError
    from riskpipe.quality.features import FeaturesBlocked, feature_tables, validate_features
    from riskpipe.ui import console

    unknown = [t for t in tables if t not in feature_tables()]
    if unknown:
        raise ConfigError(f"not a feature table with a spec: {', '.join(unknown)}; "
                          f"feature tables: {', '.join(feature_tables())}")
    blocked = None
    with console.status(f"feature gate dt={day}"):
        try:
            result = validate_features(day, tables or None, require=bool(tables))
            results, missing = result.results, result.missing
        except FeaturesBlocked as err:
            blocked, results, missing = err, err.results, []
    table = Table(title=f"feature gate dt={day}")
    for col in ("table", "result", "rows", "failed (error)", "summary"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.dataset, "[green]validated" if r.passed else "[red]FAILED", f"{r.rows:,}",
                      escape(", ".join(r.failed_checks)), escape(str(r.summary_path)))
    for name in missing:
        table.add_row(name, "no partition", "-", "", "")
    console.print(table)
    if blocked is not None:
        typer.secho(str(blocked), fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the riskpipe CLI."""
    app.command("validate")(validate_cmd)
