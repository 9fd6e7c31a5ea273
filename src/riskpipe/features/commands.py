"""CLI commands of the feature-store stage (registered by riskpipe.cli)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from riskpipe.features.config import DEFAULT_PROJECT
from riskpipe.ui import date_option

PROJECT = typer.Option(DEFAULT_PROJECT, "--project", help="Feast project (isolates registries and online keys)")
REPO = typer.Option(None, "--repo", help="Feast repo directory (default: the project's feature_repo/)")


def feast_config_cmd(project: str = PROJECT, repo: Path = REPO) -> None:
    """Write feature_repo/feature_store.yaml from RISKPIPE_* settings (for `feast plan/apply/serve`)."""
    from riskpipe.features.config import write_feature_store_yaml
    from riskpipe.ui import console

    path = write_feature_store_yaml(project=project, repo_path=repo)
    console.print(f"wrote {path}")


def feast_apply_cmd(project: str = PROJECT, repo: Path = REPO) -> None:
    """Register entities, sources, feature views and services (and write feature_store.yaml)."""
    from riskpipe.features.config import write_feature_store_yaml
    from riskpipe.features.store import apply_definitions, get_store
    from riskpipe.settings import get_settings
    from riskpipe.ui import console, progress

    settings = get_settings()
    with progress() as bar:
        task = bar.add_task("feast apply", total=1)
        store = get_store(settings, project=project, repo_path=repo)
        defs = apply_definitions(store, settings, repo_path=repo)
        write_feature_store_yaml(settings, project, repo_path=repo)
        bar.advance(task)
    console.print(f"applied to project {project}: {len(defs.entities)} entities, {len(defs.feature_views)} "
                  f"feature views, {len(defs.on_demand_feature_views)} on-demand views, "
                  f"{len(defs.feature_services)} feature services "
                  f"({settings.offline_store.value} / {settings.online_store.value} / {settings.registry.value})")


def training_set_cmd(
    feature_service: str = typer.Option(..., "--feature-service", help="e.g. credit_pd_v1"),
    entities: str = typer.Option(..., "--entities", help="label table name (label_credit_pd ...) or a "
                                 "parquet/csv file with keys and event time"),
    out: Path = typer.Option(..., "--out", help="output parquet; the manifest goes next to it"),
    labels_known_by: str = typer.Option(None, "--labels-known-by",
                                        help="keep rows whose label_known_at <= this ISO time"),
    project: str = PROJECT,
) -> None:
    """Build a point-in-time-correct training set through Feast and record its manifest."""
    from riskpipe.features.training import build_training_set
    from riskpipe.ui import console, progress

    known = dt.datetime.fromisoformat(labels_known_by) if labels_known_by else None
    with progress() as bar:
        task = bar.add_task(f"training set {feature_service}", total=1)
        ts = build_training_set(feature_service, entities, project=project, labels_known_by=known, out=out)
        bar.advance(task)
    counts = ts.manifest["row_counts"]
    console.print(f"{counts['rows_out']:,} rows -> {out}  manifest: {ts.manifest_path}")


def materialize_cmd(
    date: str = typer.Option(..., "--date", help="feature date YYYY-MM-DD (one validated partition per view)"),
    view: list[str] = typer.Option(None, "--view", help="only these feature views (repeatable)"),
    project: str = PROJECT,
) -> None:
    """Load the validated feature partitions of one date into the online store (idempotent)."""
    from riskpipe.features.materialize import materialize
    from riskpipe.features.store import get_store
    from riskpipe.settings import get_settings
    from riskpipe.ui import console, progress

    day = date_option(date, "--date")
    settings = get_settings()
    store = get_store(settings, project=project)
    with progress() as bar:
        task = bar.add_task(f"materialize {day}", total=len(view) if view else len(store.list_feature_views()))
        result = materialize(day, settings=settings, store=store, views=view or None,
                             on_view=lambda _n: bar.advance(task))
    for name in result.materialized:
        console.print(f"materialized {name}: {result.rows[name]:,} rows")
    for name, why in result.skipped.items():
        console.print(f"skipped {name}: {why}")


def check_skew_cmd(
    feature_service: str = typer.Option(..., "--feature-service"),
    sample: int = typer.Option(100, "--sample", help="entities to compare (from the materialised partition)"),
    as_json: bool = typer.Option(False, "--json"),
    project: str = PROJECT,
) -> None:
    """Compare online values with offline point-in-time values (exact); exit 1 on any difference."""
    from riskpipe.features.skew import check_skew
    from riskpipe.ui import console

    report = check_skew(feature_service, n=sample, project=project)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str, indent=2))
    else:
        console.print(f"{feature_service}: {report.entities} entities x {len(report.features)} features at "
                      f"{report.at.isoformat()}: {len(report.mismatches)} mismatches")
        for m in report.mismatches[:20]:
            console.print(f"  {m}")
    if not report.ok:
        raise typer.Exit(1)


def feature_server_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
    port: int = typer.Option(6566, "--port", help="port to bind (Feast's default 6566)"),
    project: str = PROJECT,
    repo: Path = REPO,
) -> None:
    """Run Feast's feature server (`feast serve`) on this configuration, with the production options.

    Writes feature_store.yaml from RISKPIPE_* settings, then execs `feast serve` with the
    RISKPIPE_FEATURE_SERVER_* options (no worker recycling, no access log, typeguard off).
    """
    from riskpipe.features.server import run_feature_server

    run_feature_server(host=host, port=port, project=project, repo_path=repo)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the riskpipe CLI."""
    app.command("feast-config")(feast_config_cmd)
    app.command("feast-apply")(feast_apply_cmd)
    app.command("training-set")(training_set_cmd)
    app.command("materialize")(materialize_cmd)
    app.command("check-skew")(check_skew_cmd)
    app.command("feature-server")(feature_server_cmd)
