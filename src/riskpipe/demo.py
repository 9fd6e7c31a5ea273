"""`riskpipe demo`: the whole pipeline end to end on the embedded defaults, then a summary.

Each step is a plain call of the same riskpipe function a person, a DAG or a test would call; the
demo only chooses a small size and prints what each step produced and where.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


@dataclasses.dataclass
class StepResult:
    name: str
    seconds: float
    produced: list[tuple[str, str]]  # (what, where / how much)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    customers: int = 3_000
    days: int = 8
    start: dt.date = dt.date(2026, 1, 1)
    seed: int = 7
    #: time compressed so that a week of data has matured fraud labels to train on: fraud is reported
    #: 1-3 days after it happens (real chargebacks: weeks) and the fraud performance window is 3 days
    #: (RISKPIPE_FRAUD_LABEL_DAYS, unless set); fraud is a little more frequent than the default
    fraud_level: float = 1.5
    chargeback_lag_days: tuple[int, int] = (1, 3)
    fraud_label_days: int = 3
    #: the last N landing days are run again through Airflow (risk_daily via dag.test; idempotent, so
    #: the same outputs), then risk_retrain for the day after; 0 skips the Airflow step
    airflow_days: int = 2


def _size(path: Path) -> str:
    files = [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
    return f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB"


def step_generate(cfg: DemoConfig) -> list[tuple[str, str]]:
    from riskpipe.settings import get_settings
    from riskpipe.sources.generator import generate

    s = get_settings()
    summary = generate(customers=cfg.customers, days=cfg.days, start=cfg.start, seed=cfg.seed,
                       fraud_level=cfg.fraud_level, chargeback_lag_days=cfg.chargeback_lag_days)
    rows = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    defects = ", ".join(f"{k} {v}" for k, v in sorted(summary.defects.items()))
    return [
        ("landing data (7 sources)", f"{s.landing}  [{rows}]"),
        ("defect manifest", f"{s.landing / '_manifest' / 'defects.jsonl'}  [{defects}]"),
        ("ground truth (true label probabilities)", str(s.ground_truth)),
    ]


def step_ingest(cfg: DemoConfig) -> list[tuple[str, str]]:
    from riskpipe.ingest.pipeline import default_gate, ingest_date
    from riskpipe.settings import get_settings

    s = get_settings()
    read = written = quarantined = dups = 0
    gate = default_gate()
    blocked: list[str] = []
    for i in range(cfg.days):
        for r in ingest_date(cfg.start + dt.timedelta(days=i), gate=gate, blocked=blocked):
            read, written = read + r.rows_read, written + r.rows_written
            quarantined, dups = quarantined + r.rows_quarantined, dups + r.duplicates_dropped
    gate_line = "; ".join(m.split(": not published")[0] for m in blocked) if blocked else "none"
    return [
        ("silver tables (tokenised, deduplicated, UTC)", f"{s.silver}  [{written:,} rows of {read:,} read]"),
        ("quarantine (file, row, reason per rejected row)", f"{s.quarantine}  [{quarantined:,} rows]"),
        ("duplicates dropped", f"{dups:,}"),
        ("blocked by the quality gate (not published)", gate_line),
        ("validation results and Data Docs (HTML)", f"{s.runs / 'validate'}, {s.reports / 'data_docs'}"),
        ("run metadata (counts, checksums, durations)", str(s.runs / "ingest")),
    ]


def _feature_dates(cfg: DemoConfig) -> list[dt.date]:
    """Feature dates whose inputs landed in the demo window: day D's landing is known at D+1 00:00."""
    return [cfg.start + dt.timedelta(days=i + 1) for i in range(cfg.days)]


def step_indicators(cfg: DemoConfig) -> list[tuple[str, str]]:
    from riskpipe.features.tables import VALIDATED_MARKER
    from riskpipe.indicators.build import build_indicators
    from riskpipe.indicators.graph import build_graph
    from riskpipe.quality.features import FeaturesBlocked, validate_features
    from riskpipe.settings import get_settings

    s = get_settings()
    rows: dict[str, int] = {}
    tests = checked = 0
    blocked: list[str] = []
    for day in _feature_dates(cfg):
        result = build_indicators(day)
        tests += result.tests_passed
        for name, node in result.tables.items():
            rows[name] = rows.get(name, 0) + (node.rows or 0)
        build_graph(day)
        try:
            validate_features(day, require=True, evidence={"dbt_run_dir": result.run_dir})
        except FeaturesBlocked as err:  # as in risk_daily: that date stops here, the others go on
            blocked.append(f"{day}: {', '.join(r.dataset for r in err.results) or 'missing tables'}")
        checked += len(list(s.features.glob(f"*/dt={day.isoformat()}/{VALIDATED_MARKER}")))
    shown = ", ".join(f"{k} {v:,}" for k, v in rows.items())
    return [
        ("feature and label tables (dbt, one partition per feature date)", f"{s.features}  [{shown}]"),
        ("dbt tests passed (data + unit, all dates)", f"{tests:,}"),
        ("graph features (Spark connected components)", str(s.features / "customer_graph_daily")),
        ("feature partitions passed their GX suites (all dates)", f"{checked:,}  [{s.reports / 'data_docs' / 'index.html'}]"),
        ("feature partitions blocked by the gate (not materialised; see the log and Data Docs)",
         "; ".join(blocked) or "none"),
    ]


def step_features(cfg: DemoConfig) -> list[tuple[str, str]]:
    import pandas as pd

    from riskpipe.features.materialize import materialize
    from riskpipe.features.online import online_features
    from riskpipe.features.store import apply_definitions, get_store
    from riskpipe.features.training import build_training_set
    from riskpipe.settings import get_settings

    s = get_settings()
    store = get_store(s)
    apply_definitions(store, s)
    last = _feature_dates(cfg)[-1]
    for day in _feature_dates(cfg):
        done = materialize(day, settings=s, store=store)
    apps = pd.read_parquet(s.silver / "applications") if (s.silver / "applications").exists() else pd.DataFrame()
    if len(apps):
        entities = pd.DataFrame({"customer_id": apps["customer_id"], "event_timestamp": apps["applied_at"],
                                 "requested_amount": apps["requested_amount"]})
    else:  # a tiny demo may have no applications yet: every known customer, asking for 10,000 at noon
        spine = pd.read_parquet(s.features / "customer_credit_daily" / f"dt={last}" / "data.parquet")
        entities = pd.DataFrame({"customer_id": spine["customer_id"],
                                 "event_timestamp": pd.Timestamp(last, tz="UTC") + pd.Timedelta(hours=12),
                                 "requested_amount": 10_000.0})
    out = s.reports / "demo_training_set_credit_pd_v1.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    ts = build_training_set("credit_pd_v1", entities, settings=s, store=store, out=out)
    customer = str(entities["customer_id"].iloc[0])
    vec = online_features("credit_pd_v1", [{"customer_id": customer, "requested_amount": 5000.0}],
                          settings=s, store=store)
    filled = sum(1 for v in vec.values() if v and v[0] is not None)
    return [
        ("Feast registry + online store (embedded: SQLite)", f"{s.data_dir / 'feast'}  [views materialised "
                                                             f"up to {last}: {', '.join(done.materialized) or '-'}]"),
        ("point-in-time training set credit_pd_v1 (applications as entities)",
         f"{out}  [{len(ts.frame):,} rows x {ts.frame.shape[1]} columns; manifest {ts.manifest_path}]"),
        (f"online vector credit_pd_v1 for {customer}", f"{filled} of {len(vec)} values filled"),
    ]


def step_models(cfg: DemoConfig) -> list[tuple[str, str]]:
    """Train the fraud model on fraud_v1 (the one whose labels mature within a demo week), gate it,
    and batch-score the last day's transactions with the result."""
    from riskpipe.models.flows import score_date, train_from_store
    from riskpipe.models.registry import CHALLENGER, CHAMPION, promote
    from riskpipe.models.train import TrainInputError
    from riskpipe.settings import get_settings

    s = get_settings()
    dates = _feature_dates(cfg)
    not_yet = [("credit_pd, early_warning", "not trained: their labels need 365 / 30 days of history")]
    from riskpipe.models.config import get_model_settings

    ms = get_model_settings()  # the same settings as the risk_retrain DAG: its run finds this training
    try:
        r = train_from_store("fraud", start=dates[0], end=dates[-1], num_boost_round=ms.num_boost_round,
                             gbm_params={"num_threads": ms.num_threads} if ms.num_threads else None)
    except TrainInputError as err:  # a demo too short or too small for matured fraud labels
        return [("fraud model", f"not trained: {err}"), *not_yet]
    c = r.candidates[r.challenger_kind]
    d = promote("fraud")
    alias = CHAMPION if d.promoted else CHALLENGER
    last = cfg.start + dt.timedelta(days=cfg.days - 1)
    path, scored = score_date("fraud", last, alias=alias)
    from riskpipe.models.docpack import build_model_doc

    doc = build_model_doc("fraud", version=c.version)
    cards = ", ".join(f"{k} v{v.version} AUC {v.oot_metrics['auc']:.3f}" for k, v in r.candidates.items())
    ratio = c.oot_metrics.get("auc_ratio_to_best")
    return [
        ("fraud training set (Feast point-in-time, matured labels only)",
         f"{r.extra['training_set']}  [{r.n_train:,} train + {r.n_oot:,} out-of-time rows]"),
        ("fraud candidates in MLflow (OOT)", f"{s.tracking_uri}  [{cards}"
                                             + (f"; {ratio:.2f} of the best achievable AUC" if ratio else "") + "]"),
        ("promotion decision", f"{d.action}: {'; '.join(d.reasons)}"),
        (f"batch scores of {last} ({alias} v{scored['model_version'].iloc[0] if len(scored) else '?'})",
         f"{path}  [{len(scored):,} transactions]"),
        (f"model documentation pack, fraud v{doc.version} (HTML)", str(doc.path)),
        *not_yet,
    ]


def step_report(cfg: DemoConfig) -> list[tuple[str, str]]:
    from riskpipe.monitoring.metrics import MONITORING_DIR
    from riskpipe.monitoring.report import build_report
    from riskpipe.settings import get_settings

    s = get_settings()
    last = cfg.start + dt.timedelta(days=cfg.days - 1)
    scores = s.lake / "scores" / "fraud" / f"dt={last.isoformat()}" / "data.parquet"
    r = build_report(_feature_dates(cfg)[-1], scores=scores if scores.is_file() else None)
    return [
        ("risk report (HTML, open in a browser)", f"{r.path}  [{sum(r.sections.values())} of {len(r.sections)} "
                                                  f"sections with data, {len(r.alerts)} alert(s)]"),
        ("monitoring tables (Parquet, for BI tools)", f"{s.lake / MONITORING_DIR}  [{len(r.tables)} tables]"),
    ]


def _riskpipe_cli(args: list[str], env: dict[str, str]) -> list[dict]:
    """Run ``riskpipe <args> --json`` in a child process (Airflow configures itself at import: a process
    of its own keeps the demo's environment clean); the per-run results, or the error with its output."""
    import json
    import shutil
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("riskpipe")
    cmd = [str(exe) if exe.exists() else (shutil.which("riskpipe") or "riskpipe"), *args, "--json"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    # the JSON document starts on a line of its own ("[", indent=2); Airflow may log around it
    lines = p.stdout.splitlines()
    if p.returncode == 0:
        for i in reversed([i for i, line in enumerate(lines) if line == "["]):
            try:
                return json.JSONDecoder().raw_decode("\n".join(lines[i:]))[0]
            except json.JSONDecodeError:
                continue
    raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")


def step_airflow(cfg: DemoConfig) -> list[tuple[str, str]]:
    """The last landing days again, through Airflow this time, then the retraining DAG."""
    import os

    from riskpipe.orchestration.airflow_env import effective_environ
    from riskpipe.orchestration.commands import where_to_look
    from riskpipe.settings import get_settings

    if cfg.airflow_days <= 0:
        return [("Airflow", "skipped (--airflow-days 0)")]
    s = get_settings()
    # embedded Airflow under the demo's data dir (an AIRFLOW_* setting of the caller's shell is not the demo's)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    override = {} if s.fraud_label_days is None else {"RISKPIPE_FRAUD_LABEL_DAYS": str(s.fraud_label_days)}
    env = {**base, **override, "RISKPIPE_DATA_DIR": str(s.data_dir),
           "RISKPIPE_AIRFLOW_GENERATE": "false",  # the landing files are the demo's own: deliver nothing
           "RISKPIPE_AIRFLOW_START_DATE": cfg.start.isoformat()}
    last = cfg.start + dt.timedelta(days=cfg.days - 1)
    first = max(cfg.start, last - dt.timedelta(days=cfg.airflow_days - 1))
    daily = _riskpipe_cli(["airflow", "run-daily", "--start", first.isoformat(), "--end", last.isoformat()], env)
    retrain_day = last + dt.timedelta(days=2)  # labels known by then: every feature date of the demo
    retrain = _riskpipe_cli(["airflow", "test", "risk_retrain", "--date", retrain_day.isoformat()], env)
    rows = []
    for r in [*daily, *retrain]:
        states: dict[str, int] = {}
        for st in r["tasks"].values():
            states[st] = states.get(st, 0) + 1
        rows.append((f"{r['dag_id']} {r['logical_date']} (Airflow dag.test)",
                     f"{r['state']}  [{', '.join(f'{n} {k}' for k, n in sorted(states.items()))}]"))
    bad = [r for r in [*daily, *retrain] if r["state"] != "success"]
    if bad:
        raise RuntimeError("Airflow runs not successful: " + "; ".join(
            f"{r['dag_id']} {r['logical_date']}: {r['tasks']}" for r in bad))
    looks = where_to_look({**effective_environ(), "AIRFLOW_HOME": str((s.data_dir / "airflow").resolve()),
                           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{(s.data_dir / 'airflow' / 'airflow.db').resolve()}"})
    return rows + [("where to look", line) for line in looks]


#: The demo's steps, in pipeline order. Later stages append theirs here.
STEPS: list[tuple[str, Callable[[DemoConfig], list[tuple[str, str]]]]] = [
    ("generate", step_generate),
    ("ingest", step_ingest),
    ("indicators", step_indicators),
    ("features", step_features),
    ("models", step_models),
    ("report", step_report),
    ("airflow", step_airflow),
]


def run_demo(cfg: DemoConfig, on_step: Callable[[str], None] | None = None) -> list[StepResult]:
    """Run every step in order; a failing step stops the demo with its error (nothing is hidden)."""
    import os

    from riskpipe.settings import reset_settings

    results = []
    key = "RISKPIPE_FRAUD_LABEL_DAYS"
    saved = os.environ.get(key)
    if saved is None:
        os.environ[key] = str(cfg.fraud_label_days)
        reset_settings()
    try:
        return _run_steps(cfg, on_step, results)
    finally:
        if saved is None:
            os.environ.pop(key, None)
            reset_settings()


def _run_steps(cfg: DemoConfig, on_step: Callable[[str], None] | None, results: list[StepResult]) -> list[StepResult]:
    for name, fn in STEPS:
        if on_step:
            on_step(name)
        t0 = time.perf_counter()
        produced = fn(cfg)
        results.append(StepResult(name, time.perf_counter() - t0, produced))
        log.info("demo step %s done in %.1fs", name, results[-1].seconds)
    return results
