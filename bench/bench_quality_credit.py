"""Benchmark: credit_pd's out-of-time AUC against the best achievable AUC (the generator's ground truth).

credit_pd's label (90+ DPD within 12 months of the application) needs more than a year of world
through the pipeline before any label matures. This benchmark compresses credit time instead, in the
world and in the label alike, and runs the rest through the real pipeline:

- the world (``generate``): installments every 16 days (so a 60-month term has 112 installments,
  under the 120 the repayments gate allows, a near-duplicate's changed number included); a
  defaulter's loan reaches 30 days past due within 79 days of the application (``credit_bad_dpd``, ``credit_window_days``; the truth ``p_default_12m`` is then the
  probability of that). Late payers still pay within days, as in the
  default world, so a good loan almost never reaches 30 DPD: the label is as clean as 90+ DPD is
  there. Applications are 15x as frequent as the default, so a few weeks give a few hundred bads.
- the label: credit_pd with ``min_dpd: 30`` and ``performance_days: 79`` and no indeterminate band
  (a labels file in ``RISKPIPE_LABELS_FILE``, read by both the dbt build and training, as a team
  would declare its own definition).
- the pipeline: every source is ingested behind the quality gates for the application days; for the
  80 days after them only the repayments feed (the only one the label reads), the applications its
  loans belong to and their customers (the features of an application date read only data before it). Then dbt indicators, graph features and the feature
  gates for each application date, the Feast definitions, and ``train_from_store("credit_pd")``
  on the credit_pd_v1 service (as ``riskpipe train --model credit_pd``), with every label matured.

The anchor is measured on the same out-of-time rows in the same run: the AUC of the generator's true
probability of the label (``best_auc``), which no model beats in expectation. Goal: ratio (model AUC /
best AUC) at least 0.97. Higher is better.

Scale "small": 2,000 customers x 8 application days; "full": 10,000 customers x 21 application days.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import yaml

from bench.bench_quality import GOAL, pipeline_world

SIZES = {"small": (2_000, 8), "full": (10_000, 21)}
INSTALLMENT_DAYS, BAD_DPD, WINDOW_DAYS = 16, 30, 79
APPLICATION_RATE = 0.06  # applications per customer per day (default 0.004)
#: ingested after the application days: the label's feed, the applications its loans belong to and
#: the customers who applied (the world goes on booking loans and registering customers; without
#: them the repayments and applications gates see orphans)
LATER_SOURCES = ["customers", "applications", "repayments"]


def _labels_file(path, edit) -> None:  # noqa: ANN001 (Path, callable)
    """The packaged label definitions, edited by ``edit`` (their dict under ``labels``)."""
    from importlib import resources

    data = yaml.safe_load(resources.files("riskpipe.models").joinpath("labels.yml").read_text())
    edit(data["labels"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _compress_credit(labels: dict) -> None:
    """credit_pd compressed like the world."""
    credit = labels["credit_pd"]
    credit["description"] = (f"an approved application's loan reaches {BAD_DPD}+ days past due within "
                             f"{WINDOW_DAYS} days of the application (credit time compressed for a benchmark)")
    credit["bad"]["min_dpd"] = BAD_DPD
    credit["performance_days"] = WINDOW_DAYS
    credit.pop("exclusions", None)


def run(scale: str) -> list[dict]:
    customers, app_days = SIZES.get(scale, SIZES["full"])
    return run_compressed(
        "credit_pd", customers=customers, app_days=app_days, tail_days=WINDOW_DAYS + 1,
        edit_labels=_compress_credit, anchor="generator's true p_default on the same OOT rows",
        world=f"credit time compressed ({BAD_DPD}+ DPD within {WINDOW_DAYS} days, installments every "
              f"{INSTALLMENT_DAYS} days)", rows="approved applications")


def run_compressed(model: str, *, customers: int, app_days: int, tail_days: int, edit_labels, anchor: str,  # noqa: ANN001
                   world: str, rows: str, first_date: int = 1) -> list[dict]:
    """Generate the compressed world, run it through the pipeline, train ``model`` on the dates
    ``first_date .. app_days - 1`` with every label matured, and report each candidate's OOT AUC
    beside the truth's (labels: the packaged definitions changed by ``edit_labels``)."""
    from riskpipe.features.store import apply_definitions, get_store
    from riskpipe.indicators.build import build_indicators
    from riskpipe.indicators.graph import build_graph
    from riskpipe.ingest.pipeline import default_gate, ingest_date
    from riskpipe.models.config import get_model_settings
    from riskpipe.models.flows import train_from_store
    from riskpipe.quality.features import validate_features
    from riskpipe.settings import get_settings, reset_settings
    from riskpipe.sources.generator import generate

    days = app_days + tail_days
    start = dt.date(2026, 1, 1)
    with pipeline_world(f"bench-quality-{model}-") as work:
        labels = work / "labels_compressed.yml"
        _labels_file(labels, edit_labels)
        os.environ["RISKPIPE_LABELS_FILE"] = str(labels)  # pipeline_world restores the environment
        reset_settings()
        s = get_settings()

        def timed(what: str, fn) -> None:  # noqa: ANN001
            t0 = time.perf_counter()
            fn()
            print(f"   {what}: {time.perf_counter() - t0:.0f} s", flush=True)

        timed("generate", lambda: generate(
            customers=customers, days=days, start=start, seed=7, installment_days=INSTALLMENT_DAYS,
            credit_bad_dpd=BAD_DPD, credit_window_days=WINDOW_DAYS, application_rate=APPLICATION_RATE))

        def ingest() -> None:
            gate, blocked = default_gate(), []
            for i in range(days):
                ingest_date(start + dt.timedelta(days=i), None if i < app_days else LATER_SOURCES,
                            gate=gate, blocked=blocked, settings=s)
            if blocked:
                print(f"   blocked by the gate: {'; '.join(blocked)}", flush=True)

        timed(f"ingest ({app_days} days, then {days - app_days} days of {', '.join(LATER_SOURCES)})", ingest)
        # day 0 has no history before it
        dates = [start + dt.timedelta(days=i) for i in range(max(1, first_date), app_days)]

        def indicators() -> None:
            for day in dates:
                build_indicators(day, s)
                build_graph(day, s)
                validate_features(day, require=True, settings=s)

        timed(f"indicators, graph, feature gates ({len(dates)} dates)", indicators)
        apply_definitions(get_store(s), s)
        ms = get_model_settings()
        horizon = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)
        r = train_from_store(model, start=dates[0], end=dates[-1], as_of=horizon, settings=s,
                             num_boost_round=ms.num_boost_round,
                             gbm_params={"num_threads": ms.num_threads} if ms.num_threads else None)
        out = []
        for kind, c in sorted(r.candidates.items()):
            m = c.oot_metrics
            if "best_auc" not in m:
                raise RuntimeError(f"{model} {kind}: no best achievable AUC in the OOT metrics "
                                   "(the truth is not of this label definition, or not found)")
            out.append({
                "name": f"{model} {kind}: OOT AUC vs best achievable", "figure": round(m["auc"], 4),
                "unit": "AUC", "anchor": anchor, "anchor_figure": round(m["best_auc"], 4),
                "ratio": round(m["auc_ratio_to_best"], 4), "goal": f">= {GOAL}",
                "note": f"{customers:,} customers, {len(dates)} feature dates, {world}; {r.n_train:,} train + "
                        f"{r.n_oot:,} OOT {rows}, {int(round(m.get('bad_rate', 0) * m.get('n', 0))):,} OOT bads "
                        f"(OOT {r.oot_window[0][:10]} to {r.oot_window[1][:10]}); higher is better"
                        + ("; the challenger" if kind == r.challenger_kind else "")})
        return out
