"""CLI commands of the model stage: train, promote, rollback, model-doc, score (registered by riskpipe.cli).

MLflow, LightGBM and scikit-learn are imported inside the commands, never at CLI start-up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from riskpipe.errors import RiskpipeError


class CommandInputError(RiskpipeError):
    """A command-line option has a value the model stage cannot use."""


def _csv(value: str | None) -> list[str] | None:
    if not value or value.strip().lower() == "all":
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_monotone(value: str | None) -> dict[str, int]:
    """``missed_payments:+1,income:-1`` -> {"missed_payments": 1, "income": -1}."""
    out: dict[str, int] = {}
    for part in _csv(value) or []:
        name, _, sign = part.partition(":")
        sign = sign.strip() or "+1"
        if sign not in {"+1", "1", "-1", "+", "-"}:
            raise CommandInputError(f"--monotone {part!r}: direction must be +1 or -1 (e.g. missed_payments:+1)")
        out[name.strip()] = -1 if sign.startswith("-") else 1
    return out


def _echo(data: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    from rich.table import Table

    from riskpipe.ui import console

    table = Table(show_header=False)
    for k, v in data.items():
        table.add_row(str(k), v if isinstance(v, str) else json.dumps(v, default=str))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the riskpipe CLI."""

    @app.command("train")
    def train(
        table: Annotated[Path | None, typer.Option("--table", help="labelled Parquet file or directory (generic form)")] = None,
        model: str = typer.Option(None, "--model", help="credit_pd, fraud or early_warning: train on its Feast training set"),
        start: str = typer.Option(None, "--start", help="with --model: first label date (YYYY-MM-DD)"),
        end: str = typer.Option(None, "--end", help="with --model: last label date (YYYY-MM-DD)"),
        as_of: str = typer.Option(None, "--as-of", help="with --model: use labels known by this UTC time (default: end of --end)"),
        label: str = typer.Option(None, "--label", help="0/1 label column (with --table)"),
        time_column: str = typer.Option(None, "--time-column", help="date/time column for the out-of-time split (with --table)"),
        model_name: str = typer.Option(None, "--model-name", help="registered model name (and experiment; with --table)"),
        features: str = typer.Option(None, "--features", help="a,b,c (default: all numeric non-key columns)"),
        oot_from: str = typer.Option(None, "--oot-from", help="first date of the OOT window (default: last ~25% of the time range)"),
        truth_column: str = typer.Option(None, "--truth-column", help="true probability column (synthetic data)"),
        feature_service: str = typer.Option(
            None, "--feature-service", help="with --model: the Feast feature service to train on (one the model "
            "declares; default RISKPIPE_MODEL_FEATURE_SERVICES, else its first); with --table: recorded as the "
            "table's (default adhoc)"),
        label_definition: str = typer.Option(
            None, "--label-definition", help="with --table: a label definition of riskpipe/models/labels.yml "
            "(recorded with its version and hash; default: the one named like --model-name, if declared)"),
        monotone: str = typer.Option(None, "--monotone", help="feature:+1,feature:-1 risk directions"),
        exclude: str = typer.Option(None, "--exclude", help="columns never used as features"),
        rounds: int = typer.Option(200, "--rounds", min=1, help="LightGBM boosting rounds"),
        reject_inference: str = typer.Option("none", "--reject-inference",
                                             help="none | fuzzy: augment training with the declined applications"),
        rejects: Annotated[Path | None, typer.Option(
            "--rejects", help="with --table: Parquet of the declined applications (features, time, no label)")] = None,
        reject_weight: float = typer.Option(None, "--reject-weight", help="total weight of one declined "
                                            "application (default RISKPIPE_MODEL_REJECT_WEIGHT)"),
        outcome_column: str = typer.Option(None, "--outcome-column", help="with --table: true 0/1 outcome on both "
                                           "tables (synthetic data): through-the-door AUC with and without RI"),
        population: str = typer.Option(
            None, "--population", help="with --model: labelled (every matured label row) | served (only the "
            "observations a champion decision served, at the decision's time; default RISKPIPE_MODEL_TRAIN_POPULATION)"),
        force: bool = typer.Option(False, "--force", help="register new versions even if this exact training exists"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Train the WOE scorecard and the LightGBM challenger, validate out of time, register both.

        Either ``--model M --start D --end D`` (the model's feature service through Feast, point in
        time, matured labels only) or ``--table T --label L --time-column C --model-name N`` (any
        labelled Parquet table).
        """
        if (model is None) == (table is None):
            raise CommandInputError("give either --model (feature-store training) or --table (generic), not both")
        if model is not None:
            if not (start and end):
                raise CommandInputError("--model needs --start and --end (the label dates to train on)")
            if label_definition is not None:
                raise CommandInputError(f"--model {model} trains on its own label definition (labels.yml); "
                                        "--label-definition is for --table")
            import datetime as dt

            from riskpipe.models.flows import train_from_store

            if rejects is not None or outcome_column or reject_weight is not None:
                raise CommandInputError("--rejects, --reject-weight and --outcome-column go with --table; with "
                                        "--model the declined applications come from the lake")
            cut = dt.datetime.fromisoformat(as_of).replace(tzinfo=dt.UTC) if as_of else None
            r = train_from_store(model, start=start, end=end, as_of=cut, oot_from=oot_from,
                                 num_boost_round=rounds, force=force, reject_inference=reject_inference,
                                 population=population, feature_service=feature_service)
        else:
            if population is not None:
                raise CommandInputError("--population goes with --model (the served population comes from the "
                                        "outcomes of the model's logged decisions)")
            missing = [o for o, v in (("--label", label), ("--time-column", time_column),
                                      ("--model-name", model_name)) if not v]
            if missing:
                raise CommandInputError(f"--table needs {', '.join(missing)}")
            from riskpipe.models.labels import label_definition as declared_label
            from riskpipe.models.labels import label_definitions
            from riskpipe.models.train import read_table, train_table

            if label_definition is not None:
                declared_label(label_definition)  # a clear error naming the declared definitions
            elif model_name in label_definitions():
                label_definition = model_name
            r = train_table(
                table, label=label, features=_csv(features), time_column=time_column, model_name=model_name,
                oot_from=oot_from, truth_column=truth_column, feature_service=feature_service or "adhoc",
                label_definition=label_definition, monotone=parse_monotone(monotone), exclude=_csv(exclude),
                num_boost_round=rounds, force=force, rejects=read_table(rejects) if rejects else None,
                reject_inference=reject_inference, reject_weight=reject_weight, outcome_column=outcome_column,
            )
        _echo({
            "model_name": r.model_name,
            "challenger": f"v{r.challenger_version} ({r.challenger_kind})",
            "train_window": f"{r.train_window[0]} .. {r.train_window[1]} ({r.n_train} rows)",
            "oot_window": f"{r.oot_window[0]} .. {r.oot_window[1]} ({r.n_oot} rows)",
            "data_hash": r.data_hash,
            "reused_existing_versions": str(r.extra.get("reused", False)),
            "reject_inference": r.extra.get("reject_inference", reject_inference),
            **({"population": r.extra["population"]} if "population" in r.extra else {}),
            **{f"{k} v{c.version}": {m: round(c.oot_metrics[m], 4) for m in ("auc", "ks", "gini", "brier", "auc_ratio_to_best")
                                        if m in c.oot_metrics}
               | {"psi_score": round(c.psi["score"], 4)} | {m: round(v, 4) for m, v in c.ttd_metrics.items()}
               for k, c in r.candidates.items()},
        }, as_json)

    @app.command("promote")
    def promote(
        model_name: str = typer.Option(..., "--model-name"),
        margin: float = typer.Option(None, "--margin", help="OOT AUC gain required (default RISKPIPE_MODEL_PROMOTE_MARGIN)"),
        table: Annotated[Path | None, typer.Option("--table", help="re-score on this table's OOT window instead of the logged set")] = None,
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Move 'champion' to the challenger only if it wins out of time and is stable."""
        from riskpipe.models.registry import promote as do_promote

        df = None
        if table is not None:
            import pandas as pd

            df = pd.read_parquet(table)
        d = do_promote(model_name, margin=margin, table=df)
        _echo(d.as_dict(), as_json)  # a refusal is a valid outcome (exit 0); read "promoted"

    @app.command("approve")
    def approve_cmd(model_name: str = typer.Option(..., "--model-name"), as_json: bool = typer.Option(False, "--json")) -> None:
        """Second-person approval of a promotion that passed the gate (RISKPIPE_MODEL_PROMOTE_APPROVAL=true).

        The approver is RISKPIPE_USER (else the OS user) and must not be who ran `riskpipe promote`."""
        from riskpipe.models.registry import approve

        _echo(approve(model_name).as_dict(), as_json)

    @app.command("rollback")
    def rollback(model_name: str = typer.Option(..., "--model-name"), as_json: bool = typer.Option(False, "--json")) -> None:
        """Put 'champion' back on the previous champion version (from the alias history)."""
        from riskpipe.models.registry import rollback as do_rollback

        _echo(do_rollback(model_name).as_dict(), as_json)

    @app.command("model-history")
    def model_history(
        model_name: str = typer.Option(..., "--model-name"),
        last: int = typer.Option(20, "--last", min=1, help="how many history events to show"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Show the current champion/challenger and the alias history (who, when, from, to, why)."""
        from riskpipe.models.registry import (
            CHALLENGER,
            CHAMPION,
            alias_version,
            configure_mlflow,
            read_history,
        )

        client = configure_mlflow()
        now = {a: (v.version if (v := alias_version(client, model_name, a)) else None) for a in (CHAMPION, CHALLENGER)}
        events = read_history(model_name)[-last:]
        if as_json:
            typer.echo(json.dumps({"aliases": now, "history": events}, indent=2, default=str))
            return
        from rich.table import Table

        from riskpipe.ui import console

        table = Table(title=f"{model_name}: champion v{now[CHAMPION]}, challenger v{now[CHALLENGER]}")
        for col in ("when", "who", "alias", "action", "from", "to", "reason"):
            table.add_column(col)
        for e in events:
            table.add_row(e.get("when", ""), e.get("who", ""), e.get("alias", ""), e.get("action", ""),
                          str(e.get("from_version")), str(e.get("to_version")), e.get("reason", ""))
        console.print(table)

    @app.command("model-doc")
    def model_doc(
        model_name: str = typer.Option(..., "--model-name", help="registered model name"),
        version: str = typer.Option(None, "--version", help="the version to document"),
        alias: str = typer.Option(None, "--alias", help="document the version behind this alias (default champion)"),
        out: Annotated[Path | None, typer.Option("--out", help="HTML file (default <data>/reports/"
                                                 "model_doc_<model>_v<version>.html)")] = None,
    ) -> None:
        """Write one self-contained HTML documentation pack of a registered version (lineage, validation,
        features with dbt definitions, label, OOT performance, calibration, stability, limitations, approvals)."""
        from riskpipe.models.docpack import build_model_doc

        r = build_model_doc(model_name, version=version, alias=alias, out=out)
        typer.echo(f"model documentation of {model_name} v{r.version} written to {r.path}")

    @app.command("score")
    def score(
        model: str = typer.Option(None, "--model", help="credit_pd | fraud | early_warning: score a date's population"),
        date: str = typer.Option(None, "--date", help="with --model: the date D whose population is scored"),
        alias: str = typer.Option("champion", "--alias", help="with --model: the registry alias to score with"),
        table: Annotated[Path | None, typer.Option("--table", help="Parquet rows to score (generic)")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Parquet output: keys + probability, score, band, "
                                                 "reason_codes (default with --model: <lake>/scores/<model>/dt=D/)")] = None,
        model_uri: str = typer.Option(None, "--model-uri", help="with --table: e.g. models:/credit_pd@champion"),
        keep: str = typer.Option(None, "--keep", help="with --table: input columns copied to the output (default: *_id columns)"),
    ) -> None:
        """Batch-score a date's population on the model's feature service (--model --date), or a Parquet
        table with a registered model (--table --model-uri --out)."""
        import pandas as pd

        if model and table:
            raise CommandInputError("give either --model/--date (a date's population) or --table, not both")
        if model:
            if not date:
                raise CommandInputError("--model needs --date (the date whose population is scored)")
            from riskpipe.models.flows import score_date

            path, res = score_date(model, date, alias=alias, out=out)
            typer.echo(f"scored {len(res)} {model} rows of {date} with v{res['model_version'].iloc[0] if len(res) else '?'}"
                       f" -> {path}")
            return
        if table is None or out is None or not model_uri:
            raise CommandInputError("give --model M --date D, or --table T --model-uri URI --out O")

        from riskpipe.models.explain import score_table
        from riskpipe.models.train import KEY_COLUMN

        df = pd.read_parquet(table)
        keys = _csv(keep) or [c for c in df.columns if KEY_COLUMN.search(str(c))]
        res = pd.concat([df[keys].reset_index(drop=True), score_table(model_uri, df).reset_index(drop=True)], axis=1)
        out.parent.mkdir(parents=True, exist_ok=True)
        res.to_parquet(out, index=False)
        typer.echo(f"scored {len(res)} rows -> {out}")

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port"),
        project: str = typer.Option(None, "--project", help="Feast project (default RISKPIPE_SERVE_PROJECT or riskpipe)"),
        champion_check_seconds: float = typer.Option(
            None, "--champion-check-seconds", min=0,
            help="re-read the champion alias at most this often (default RISKPIPE_SERVE_CHAMPION_CHECK_SECONDS, 5)"),
    ) -> None:
        """Online scoring API: POST /v1/score/{credit_pd,fraud,early_warning}, GET /health, GET /ready."""
        import uvicorn

        from riskpipe.models.serve import create_app, load_serve_settings
        from riskpipe.settings import get_settings

        overrides = {k: v for k, v in {"project": project, "champion_check_seconds": champion_check_seconds}.items()
                     if v is not None}
        ss = load_serve_settings(**overrides)
        sys.setswitchinterval(ss.switch_interval_ms / 1000.0)  # this process serves: latency over throughput
        app_ = create_app(serve_settings=ss)
        level = get_settings().log_level.lower()
        # the access log is an INFO record per request: below INFO it is only cost
        uvicorn.run(app_, host=host, port=port, log_level=level, access_log=level in ("debug", "info"))

    @app.command("replay")
    def replay_cmd(
        decision_id: str = typer.Argument(..., help="a decision id from the scoring API's answer or the decision log"),
        decision_dir: Path = typer.Option(None, "--decision-dir", help="decision log folder (default <lake>/decisions)"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Re-score a logged online decision with its recorded model version and features; exit 1 if it differs."""
        import json

        from rich.table import Table

        from riskpipe.models.decisions import replay
        from riskpipe.ui import console

        r = replay(decision_id, root=decision_dir)
        if as_json:
            typer.echo(json.dumps(r.as_dict(), indent=2, default=str))
        else:
            t = Table(title=f"decision {r.decision_id}: {r.model_name} v{r.model_version}")
            for col in ("", "recorded", "replayed"):
                t.add_column(col, overflow="fold")
            for k in r.recorded:
                t.add_row(k, str(r.recorded[k]), str(r.replayed[k]))
            console.print(t)
            console.print("[green]identical" if r.identical else "[red]DIFFERENT: " + "; ".join(r.differences))
        if not r.identical:
            raise typer.Exit(1)
