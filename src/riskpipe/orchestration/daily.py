"""What the tasks of ``risk_daily`` call: one function per step, each for one landing day.

A run's logical date *is* the landing day it processes (``CronDataIntervalTimetable`` gives scheduled
runs ``logical_date = data_interval_start``; a manual run or ``dag.test`` for date D processes D too),
so a daily run, a rerun and a backfill of the same date do exactly the same work. Every function
returns a small JSON-able dict that Airflow stores as the task's XCom.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from riskpipe.errors import RiskpipeError
from riskpipe.orchestration.faults import maybe_fail

log = logging.getLogger(__name__)

SYNTHETIC_DIR = "synthetic_feed"


class LandingMissingError(RiskpipeError):
    """The day's landing files are not there (and synthetic landing is off)."""


def run_day(ds: str | dt.date | dt.datetime) -> dt.date:
    """The landing day a run processes, from Airflow's ``ds`` (``YYYY-MM-DD`` of the logical date)."""
    if isinstance(ds, dt.datetime):
        return ds.astimezone(dt.UTC).date() if ds.tzinfo else ds.date()
    if isinstance(ds, dt.date):
        return ds
    return dt.date.fromisoformat(str(ds)[:10])


def declared_sources() -> list[str]:
    """The sources the daily run ingests: every source in the declarations, in declaration order."""
    from riskpipe.sources.config import get_sources

    return list(get_sources().sources)


def _landing_dir(source: str, day: dt.date) -> Path:
    from riskpipe.settings import get_settings

    return get_settings().landing / source / f"dt={day.isoformat()}"


def _synthetic_feed(day: dt.date) -> Path:
    """The simulated upstream systems: generated once for the configured window, then reused.

    The generator simulates a whole window at once (populations, loans and late rows depend on it),
    so days are generated together into a side directory and each run *delivers* its own day's files
    into the landing zone, as the real feeds would. Same settings => same files, whatever the order
    in which dates are run.
    """
    from riskpipe.orchestration.airflow_env import get_airflow_settings
    from riskpipe.settings import get_settings
    from riskpipe.sources.generator import generate

    s, a = get_settings(), get_airflow_settings()
    first = a.start_date
    last = first + dt.timedelta(days=a.generate_days - 1)
    if not first <= day <= last:
        raise LandingMissingError(
            f"no landing files for {day} and it is outside the synthetic feed window {first}..{last} "
            f"(RISKPIPE_AIRFLOW_START_DATE / RISKPIPE_AIRFLOW_GENERATE_DAYS)"
        )
    params = {"customers": a.generate_customers, "days": a.generate_days, "start": first.isoformat(),
              "seed": a.generate_seed}
    feed = s.data_dir.resolve() / SYNTHETIC_DIR
    stamp = feed / "_feed.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return feed
    tmp = feed.with_name(feed.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("generating the synthetic feed %s", params)
    generate(customers=a.generate_customers, days=a.generate_days, start=first, seed=a.generate_seed,
             landing=tmp, ground_truth=s.ground_truth)
    (tmp / "_feed.json").write_text(json.dumps(params, sort_keys=True))
    shutil.rmtree(feed, ignore_errors=True)
    tmp.rename(feed)
    return feed


def _deliver(feed: Path, source: str, day: dt.date) -> bool:
    """Copy one source's day from the synthetic feed into landing, atomically; False if it has no files."""
    src = feed / source / f"dt={day.isoformat()}"
    dst = _landing_dir(source, day)
    if not src.is_dir():
        return False
    tmp = dst.with_name(dst.name + ".delivering")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(dst)
    return True


def land(ds: str) -> dict[str, Any]:
    """Make sure the day's landing files are there; list them.

    Landing is immutable: files already delivered are never rewritten. With synthetic landing on
    (``RISKPIPE_AIRFLOW_GENERATE``, default in embedded mode with the packaged sources) missing days
    are delivered from the synthetic feed; otherwise a missing source fails the task (and is retried,
    as a late upstream drop would be).
    """
    from riskpipe.orchestration.airflow_env import get_airflow_settings
    from riskpipe.settings import get_settings

    day = run_day(ds)
    sources = declared_sources()
    missing = [src for src in sources if not _landing_dir(src, day).is_dir()]
    delivered: list[str] = []
    if missing and get_airflow_settings().resolved_generate(get_settings()):
        feed = _synthetic_feed(day)
        delivered = [src for src in missing if _deliver(feed, src, day)]
        manifest = feed / "_manifest"
        if manifest.is_dir():
            shutil.copytree(manifest, get_settings().landing / "_manifest", dirs_exist_ok=True)
        missing = [src for src in missing if src not in delivered]
    if missing:
        raise LandingMissingError(
            f"no landing files for {day} from: {', '.join(missing)} "
            f"(expected {_landing_dir(missing[0], day)})"
        )
    files = {src: sorted(p.name for p in _landing_dir(src, day).iterdir() if p.is_file()) for src in sources}
    maybe_fail("land")
    return {"day": day.isoformat(), "delivered": delivered, "files": files}


def ingest(ds: str, source: str) -> dict[str, Any]:
    """Clean one source's landing day into silver through the quality gate (``jobs/ingest_<source>.py``).

    A source that delivered no files that day is recorded as skipped (not every feed delivers
    daily: ``land`` already failed the run if a declared source was missing). A blocked gate fails
    the task with the failing expectations in the message; nothing is published.
    """
    from riskpipe.ingest.pipeline import default_gate, ingest_day
    from riskpipe.orchestration.spark import run_spark_job

    day = run_day(ds)
    if not any(p.is_file() for p in _landing_dir(source, day).glob("*")):
        return {"day": day.isoformat(), "source": source, "skipped": "no landing files"}

    def in_process() -> dict[str, Any]:
        r = ingest_day(source, day, gate=default_gate())
        return {k: v for k, v in r.as_dict().items() if k not in ("files", "problems")}

    out = run_spark_job(f"ingest_{source}", ["--date", day.isoformat()], in_process)
    maybe_fail(f"ingest_{source}")
    return {"day": day.isoformat(), "source": source, **out}


def feature_date(ds: str) -> dt.date:
    """The feature date a landing day completes: day D's files are known at D+1 00:00 UTC."""
    return run_day(ds) + dt.timedelta(days=1)


def indicators(ds: str) -> dict[str, Any]:
    """dbt build (models + data and unit tests) of every feature and label table for the feature date
    the day completes, then the Spark graph job. The partitions are written but not yet validated.

    An outcome feed's landing day left unpublished by an earlier run (its gate blocked it) holds back
    the labels read from that feed (see :func:`riskpipe.indicators.build.unpublished_outcomes`): the
    run succeeds, and a ``labels_held_back`` warning alert says which labels wait for which days,
    every day until they are published."""
    from riskpipe.indicators.build import build_indicators, unpublished_note
    from riskpipe.indicators.graph import build_graph
    from riskpipe.orchestration.alerts import raise_alert

    day = feature_date(ds)
    result = build_indicators(day)
    unpublished = result.as_dict()["unpublished"]
    if unpublished:
        raise_alert("labels_held_back", f"feature date {day}: {unpublished_note(result.unpublished)}",
                    severity="warning", layer="silver", feature_date=day, unpublished=unpublished)
    graph = build_graph(day)
    maybe_fail("indicators")
    return {"feature_date": day.isoformat(), "tests_passed": result.tests_passed, "run_dir": result.run_dir,
            "tables": {k: v.rows for k, v in result.tables.items()}, "graph": str(graph),
            "unpublished": unpublished}


def validate_features(ds: str, built: dict[str, Any] | None = None) -> dict[str, Any]:
    """The feature gate: every feature table's Great Expectations suite on the feature date's partition;
    passed partitions are marked validated (only those are materialised), a failure fails the task and
    stops materialisation for this date (:class:`riskpipe.quality.features.FeaturesBlocked`)."""
    from riskpipe.quality.features import validate_features as gate

    day = feature_date(ds)
    evidence = {"dbt_run_dir": built.get("run_dir"), "dbt_tests_passed": built.get("tests_passed")} if built else {}
    result = gate(day, require=True, evidence=evidence)
    maybe_fail("validate_features")
    return result.as_dict()


def materialize(ds: str) -> dict[str, Any]:
    """Load the feature date's validated partitions into the online store (Feast; idempotent)."""
    from riskpipe.features.materialize import materialize as feast_materialize
    from riskpipe.features.store import apply_definitions, get_store

    day = feature_date(ds)
    store = get_store()
    apply_definitions(store)
    result = feast_materialize(day, store=store)
    maybe_fail("materialize")
    return {"feature_date": day.isoformat(), "materialized": result.materialized, "skipped": result.skipped}


class OnlineSkewError(RiskpipeError):
    """Online feature values differ from the offline point-in-time values they were loaded from."""


def skew_check(ds: str, sample: int = 50) -> dict[str, Any]:
    """After materialisation: each model's feature service read online equals the offline store's
    point-in-time values for a sample of entities (riskpipe check-skew); any difference fails the task."""
    from riskpipe.features.skew import check_skew
    from riskpipe.features.store import get_store
    from riskpipe.models.flows import MODEL_SPECS

    day = feature_date(ds)
    store = get_store()
    out: dict[str, Any] = {"feature_date": day.isoformat(), "services": {}}
    bad: list[str] = []
    for spec in MODEL_SPECS.values():
        r = check_skew(spec.feature_service, store=store, n=sample)
        out["services"][spec.feature_service] = {"entities": r.entities, "features": len(r.features),
                                                 "at": r.at.isoformat(), "mismatches": len(r.mismatches)}
        if r.mismatches:
            bad.append(f"{spec.feature_service}: {len(r.mismatches)} mismatches, e.g. {r.mismatches[0]}")
    maybe_fail("skew_check")
    if bad:
        raise OnlineSkewError("online/offline skew after materialising " + day.isoformat() + ": " + "; ".join(bad))
    return out
