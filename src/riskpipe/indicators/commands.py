"""`riskpipe indicators --date D`: build the feature and label tables of one feature date with dbt, the
graph features with Spark, then put the feature tables through their Great Expectations gate."""

from __future__ import annotations

import typer


def indicators_cmd(
    date: str = typer.Option(..., "--date", help="feature date YYYY-MM-DD (features as of 00:00 UTC)"),
    select: list[str] = typer.Option(None, "--select", help="dbt selector (repeatable); default: everything"),
    graph: bool = typer.Option(True, "--graph/--no-graph", help="also run the Spark graph job (customer_graph_daily)"),
    validate: bool = typer.Option(
        True, "--validate/--no-validate",
        help="then validate the date's feature tables (GX) and mark the passed ones for materialisation"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Build the indicator (feature) and label tables of one date from silver (dbt models + tests, then
    the Spark graph job), then the feature gate: each feature table's GX suite on the new partition; a
    passed partition is marked validated (only those are materialised), a failure exits 1 naming the
    table and check."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from riskpipe.indicators.build import build_indicators, dbt_project_dir, unpublished_note
    from riskpipe.ui import console, progress

    dbt_project_dir()  # fail fast with a clear message before starting the progress display
    with progress() as bar:
        task = bar.add_task(f"indicators {date}", total=None)
        result = build_indicators(
            date, select=list(select) if select else None,
            on_node=lambda name, status: bar.update(task, advance=1, description=f"indicators {date}: {name}"))
        bar.update(task, total=len(result.nodes), completed=len(result.nodes))
        graph_path = None
        if graph:
            from riskpipe.indicators.graph import build_graph

            bar.update(task, description=f"indicators {date}: customer_graph_daily (spark)")
            graph_path = build_graph(result.date)
        gate = None
        if validate:
            from riskpipe.quality.features import validate_features

            bar.update(task, description=f"indicators {date}: feature gate (great expectations)")
            # every table must be there when the whole build ran; a --select build checks what exists
            gate = validate_features(result.date, require=graph and not select,
                                     evidence={"dbt_run_dir": result.run_dir, "dbt_tests_passed": result.tests_passed})
    if as_json:
        report = result.as_dict()
        report["graph"] = str(graph_path) if graph_path else None
        report["validation"] = gate.as_dict() if gate else None
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"indicators {result.date} (dbt target {result.target}, {result.seconds:.1f}s, "
                        f"{result.tests_passed} tests passed)")
    for col in ("table", "status", "rows", "partition"):
        table.add_column(col, justify="right" if col == "rows" else "left", overflow="fold")
    for name, node in result.tables.items():
        table.add_row(name, node.status, f"{node.rows:,}" if node.rows is not None else "-", escape(node.path or ""))
    if graph_path:
        table.add_row("customer_graph_daily", "success", "-", escape(str(graph_path)))
    console.print(table)
    if result.unpublished:
        console.print(f"[yellow]{escape(unpublished_note(result.unpublished))}[/yellow]")
    if gate:
        console.print(f"feature gate: {len(gate.results)} partitions passed their GX suites and are marked "
                      f"validated" + (f"; missing: {', '.join(gate.missing)}" if gate.missing else ""))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the riskpipe CLI."""
    app.command("indicators")(indicators_cmd)
