"""CLI commands of the sources stage (registered by riskpipe.cli)."""

from __future__ import annotations

from pathlib import Path

import typer

from riskpipe.ui import date_option


def generate_cmd(
    customers: int = typer.Option(2_000, help="customers in the initial population"),
    days: int = typer.Option(10, help="landing days to generate"),
    start: str = typer.Option("2026-01-01", help="first landing date (YYYY-MM-DD)"),
    seed: int = typer.Option(7, help="random seed: same seed and options give byte-identical files"),
    out: Path = typer.Option(None, help="landing root (default: RISKPIPE_DATA_DIR/landing)"),
    ground_truth: Path = typer.Option(None, help="ground-truth root (default: RISKPIPE_DATA_DIR/ground_truth)"),
    txn_per_customer_day: float = typer.Option(0.35, help="mean card transactions per customer per day"),
    installment_days: int = typer.Option(30, help="days between loan installments (compress time for demos)"),
    application_rate: float = typer.Option(0.004, help="loan applications per customer per day"),
    credit_bad_dpd: int = typer.Option(90, help="a credit default reaches this many days past due ..."),
    credit_window_days: int = typer.Option(365, help="... within this many days of the application (compress "
                                                     "with --installment-days; label it the same way: "
                                                     "RISKPIPE_LABELS_FILE)"),
    fraud_level: float = typer.Option(0.0, help="added to the fraud logit of every transaction (0: ~0.5% fraud)"),
    chargeback_min_days: int = typer.Option(7, help="fraud is reported at least this many days after it happens"),
    chargeback_max_days: int = typer.Option(60, help="... and at most this many"),
    clean: bool = typer.Option(False, "--clean", help="inject no defects at all"),
    duplicate_rate: float = typer.Option(0.003, help="exact duplicate rows per row"),
    near_duplicate_rate: float = typer.Option(0.002, help="same key, changed value, per row"),
    late_rate: float = typer.Option(0.004, help="rows held back to a later landing date, per row"),
    null_rate: float = typer.Option(0.002, help="nulls in required fields, per row"),
    out_of_range_rate: float = typer.Option(0.002, help="out-of-range values, per row"),
    bad_timestamp_rate: float = typer.Option(0.002, help="unparseable timestamps, per row"),
    no_renamed_column: bool = typer.Option(False, help="don't rename a customers column on one day"),
    no_truncated_file: bool = typer.Option(False, help="don't truncate one device_events file"),
) -> None:
    """Generate seeded synthetic multi-source landing data, ground truth and a defect manifest."""
    from rich.table import Table

    from riskpipe.sources.generator import DefectRates, generate
    from riskpipe.ui import console, progress

    first = date_option(start, "--start")
    rates = DefectRates.clean() if clean else DefectRates(
        duplicate_rate, near_duplicate_rate, late_rate, null_rate, out_of_range_rate, bad_timestamp_rate,
        not no_renamed_column, not no_truncated_file)
    with progress() as bar:
        task = bar.add_task("generating days", total=days)
        summary = generate(customers=customers, days=days, start=first, seed=seed, landing=out,
                           ground_truth=ground_truth, defects=rates, txn_per_customer_day=txn_per_customer_day,
                           installment_days=installment_days, fraud_level=fraud_level,
                           application_rate=application_rate, credit_bad_dpd=credit_bad_dpd,
                           credit_window_days=credit_window_days,
                           chargeback_lag_days=(chargeback_min_days, chargeback_max_days),
                           on_day=lambda _d: bar.advance(task))
    table = Table(title=f"generated {summary.start} .. {summary.end} into {summary.landing}")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for name, n in summary.rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    defects = ", ".join(f"{k}={v}" for k, v in sorted(summary.defects.items())) or "none"
    console.print(f"files: {summary.files}  defects: {defects}")
    console.print(f"manifest: {summary.landing / '_manifest' / 'defects.jsonl'}  ground truth: {summary.ground_truth}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the riskpipe CLI."""
    app.command("generate")(generate_cmd)
