"""`riskpipe ingest`: landing -> silver + quarantine for one date, every source or one."""

from __future__ import annotations

import typer

from riskpipe.ui import date_option


def ingest_cmd(
    date: str = typer.Option(..., "--date", help="landing date YYYY-MM-DD"),
    source: list[str] = typer.Option(None, "--source", help="only this source (repeatable); default all"),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="validate staged partitions before publishing"),
) -> None:
    """Clean one landing date into silver (tokenised, deduplicated, UTC) and quarantine the rest."""
    from rich.table import Table

    from riskpipe.ingest.pipeline import ORDER, default_gate, ingest_date
    from riskpipe.ui import console, progress

    day = date_option(date, "--date")
    chosen = list(source) if source else ORDER
    table = Table(title=f"ingest {day}")
    for col in ("source", "read", "silver", "quarantined", "duplicates", "partitions", "run"):
        table.add_column(col, justify="right" if col in ("read", "silver", "quarantined", "duplicates") else "left")
    with progress() as bar:
        task = bar.add_task(f"ingesting {day}", total=len(chosen))

        def on_source(name, r):
            bar.advance(task)
            if r is None:
                table.add_row(name, "-", "-", "-", "-", "no landing files", "")
            else:
                table.add_row(name, f"{r.rows_read:,}", f"{r.rows_written:,}", f"{r.rows_quarantined:,}",
                              f"{r.duplicates_dropped:,}", ", ".join(r.partitions), r.run_id)

        ingest_date(day, chosen, gate=default_gate() if gate else None, on_source=on_source)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
