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
  loans belong to, their customers and the bureau feed (the report pulled at an application lands 0-3
  days after it), the first 4 of those days one by one, the rest as one backfill drop on the last day
  (a feed catching up: its rows land in their event-date partitions, known on the drop's day, before
  the horizon the labels mature by and after every feature date; day by day, the tail cost about 27 s a
  day at 10,000 and at 40,000 customers alike); the features of an application date read only data before it. Then dbt indicators,
  graph features and the feature gates for each application date, the Feast definitions, and
  ``train_from_store("credit_pd")`` (as ``riskpipe train --model credit_pd``), with every label
  matured, once on credit_pd_v1 and once on credit_pd_v2, which adds the bureau report pulled at
  application as request fields (rebuilt from the bureau feed for training, see
  :mod:`riskpipe.features.requests`).

The anchor is measured on the same out-of-time rows in the same run: the AUC of the generator's true
probability of the label (``best_auc``), which no model beats in expectation. Goal: ratio (model AUC /
best AUC) at least 0.97. Higher is better.

A what-if on the same OOT rows (:func:`posterior_what_if`): the generator's Bayes posterior with
credit_pd_v1's information and with the pulled report too, the best any model with that information
reaches in expectation, reported as extra rows (no model: the gap a better fit could close).

Scale "small": 2,000 customers x 8 application days; "full": 10,000 customers x 21 application days;
"huge" (``--scale huge``): 100,000 customers x 21 application days, ten times the OOT bads (the AUC's
standard error at full scale, about 87 OOT bads, is about 0.03; at 40,000 customers, 316 OOT bads,
about 0.015).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

import yaml

from bench import concat_landing
from bench.bench_quality import GOAL, pipeline_world

SIZES = {"small": (2_000, 8), "full": (10_000, 21), "huge": (100_000, 21)}
HUGE = True  # `python -m bench --only quality_credit --scale huge`
INSTALLMENT_DAYS, BAD_DPD, WINDOW_DAYS = 16, 30, 79
APPLICATION_RATE = 0.06  # applications per customer per day (default 0.004)
#: ingested after the application days: the label's feed, the applications its loans belong to and
#: the customers who applied (the world goes on booking loans and registering customers; without
#: them the repayments and applications gates see orphans), and the bureau feed (the report pulled at
#: the last application days lands in the days after them)
LATER_SOURCES = ["customers", "applications", "repayments", "bureau"]
#: tail days ingested one by one: the bureau report pulled at an application lands 0-3 days after it;
#: the rest of the tail (only the label's repayments and what conforms them) arrives as one backfill drop
DAILY_TAIL = 4


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
              f"{INSTALLMENT_DAYS} days; the label feeds' tail after day {app_days + DAILY_TAIL} as one "
              "backfill drop)", rows="approved applications", what_if=posterior_what_if,
        services=("credit_pd_v1", "credit_pd_v2"), daily_tail=DAILY_TAIL)


def posterior_pd(df, pull: bool):  # noqa: ANN001, ANN201 (DataFrame -> ndarray)
    """The generator's own E[p_default | what the lake shows] for the training set's rows, no fitting
    (:func:`riskpipe.sources.truth.credit_default_posterior`): the bureau report before the application
    (``bureau_score``, credit_pd_v1's information) and with ``pull`` the application day's
    (``pull_bureau_score``), the annual income, the burden log(requested_to_income) and the employment."""
    import numpy as np

    from riskpipe.sources import generator as g
    from riskpipe.sources.truth import credit_default_posterior

    scores = [df["bureau_score"].astype(float).to_numpy()]
    if pull:
        scores.append(df["pull_bureau_score"].astype(float).to_numpy())
    burden = np.log(df["requested_to_income"].astype(float).clip(lower=1e-9).to_numpy())
    burden = np.where(np.isnan(burden), np.nanmedian(burden), burden)  # income unknown: a typical burden
    riskier = (df["employment_status"] == g.EMPLOYMENT[g.RISKIER_EMPLOYMENT]).to_numpy(float)
    return credit_default_posterior(scores, df["annual_income"].astype(float).to_numpy(), burden, riskier)


def posterior_what_if(r, settings) -> list[tuple[str, dict[str, dict]]]:  # noqa: ANN001
    """The generator's Bayes posterior on the OOT rows of ``r`` (a credit_pd_v2 training: its training set
    carries the bureau pull), with credit_pd_v1's information and with the pull too: what no model with
    that information beats in expectation (the truth knows the latent risk exactly). One variant
    (description, metrics per information set)."""
    import pandas as pd

    from riskpipe.models.evaluate import metrics
    from riskpipe.models.flows import TRUTH, attach_truth, model_spec

    spec = model_spec("credit_pd")
    df = pd.read_parquet(r.extra["training_set"])
    if "pull_bureau_score" not in df.columns:
        raise RuntimeError(f"{r.extra['training_set']}: no bureau pull (not a credit_pd_v2 training set)")
    if not attach_truth(df, spec, settings, spec.definition(settings)):
        return []
    t = pd.to_datetime(df["feature_ts"], utc=True).dt.tz_localize(None)
    oot = (t >= pd.Timestamp(r.oot_window[0]).tz_localize(None)).to_numpy()
    y, truth = df["label"].to_numpy(float)[oot], df[TRUTH].to_numpy(float)[oot]
    seen, covered = df["bureau_score"].notna().mean(), df["pull_bureau_score"].notna().mean()
    return [(f"Bayes posterior of the generator's process, no fitting ({seen:.1%} of the rows have a bureau "
             f"report before the application, {covered:.1%} one of the application day)",
             {"v1's information": metrics(y, posterior_pd(df, False)[oot], truth),
              "with the pull": metrics(y, posterior_pd(df, True)[oot], truth)})]


def _drop_tail(landing: Path, sources: list[str], days: list[dt.date]) -> None:
    """Land ``sources``' files of ``days`` as one backfill drop on the last of them (each source's files
    concatenated into one file, :func:`bench.concat_landing`), as a feed catching up after an outage
    delivers them: ``ingest_date`` routes the rows to their event-date partitions, with the drop's
    ``known_at``."""
    from riskpipe.sources.config import get_sources

    cfg = get_sources()
    for source in sources:
        folders = [landing / source / f"dt={d.isoformat()}" for d in days]
        files = sorted((f for folder in folders if folder.is_dir() for f in folder.iterdir() if f.is_file()),
                       key=lambda f: (f.parent.name, f.name))
        if not files:
            continue
        staged = landing / source / "_drop"
        concat_landing(cfg[source], files, staged,
                       f"{source}_backfill_{days[0]:%Y%m%d}_{days[-1]:%Y%m%d}{''.join(files[0].suffixes)}")
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        staged.rename(folders[-1])


def run_compressed(model: str, *, customers: int, app_days: int, tail_days: int, edit_labels, anchor: str,  # noqa: ANN001
                   world: str, rows: str, first_date: int = 1, what_if=None,  # noqa: ANN001
                   services: tuple[str | None, ...] = (None,), daily_tail: int | None = None) -> list[dict]:
    """Generate the compressed world, run it through the pipeline, train ``model`` on the dates
    ``first_date .. app_days - 1`` with every label matured, once per feature service of ``services``
    (None: the model's default), and report each candidate's OOT AUC beside the truth's (labels: the
    packaged definitions changed by ``edit_labels``). ``what_if(result of the last service, settings)``
    -> (description, OOT metrics per candidate) adds rows for a variant on the same rows.

    ``daily_tail``: the first that many tail days are ingested day by day, the rest of the tail as one
    backfill drop on its last day (:func:`_drop_tail`; its rows are known then, before the horizon the
    labels mature by, and after every feature date). None: every tail day on its own."""
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

        ingested = list(range(days))
        dropped = [] if daily_tail is None else ingested[app_days + daily_tail:]
        if len(dropped) > 1:
            _drop_tail(s.landing, LATER_SOURCES, [start + dt.timedelta(days=i) for i in dropped])
            ingested = ingested[:app_days + daily_tail] + dropped[-1:]

        def ingest() -> None:
            gate, blocked = default_gate(), []
            for i in ingested:
                ingest_date(start + dt.timedelta(days=i), None if i < app_days else LATER_SOURCES,
                            gate=gate, blocked=blocked, settings=s)
            if blocked:
                print(f"   blocked by the gate: {'; '.join(blocked)}", flush=True)

        tail = f"{days - app_days} days of {', '.join(LATER_SOURCES)}"
        if len(dropped) > 1:
            tail += f", the last {len(dropped)} as one backfill drop"
        timed(f"ingest ({app_days} days, then {tail})", ingest)
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
        out, note = [], f"{customers:,} customers, {len(dates)} feature dates, {world}"
        for i, service in enumerate(services):
            t0 = time.perf_counter()
            r = train_from_store(model, start=dates[0], end=dates[-1], as_of=horizon, settings=s,
                                 num_boost_round=ms.num_boost_round, feature_service=service,
                                 gbm_params={"num_threads": ms.num_threads} if ms.num_threads else None)
            print(f"   train on {service or 'the default service'}: {time.perf_counter() - t0:.0f} s", flush=True)
            # the first service's rows keep the benchmark's names; a later one is named in its rows
            label = f"{model} on {service}" if i else model
            out += result_rows(label, [("", {kind: c.oot_metrics for kind, c in r.candidates.items()})], r,
                               anchor=anchor, note=note, rows=rows)
        if what_if is not None:
            try:
                out += result_rows(model, what_if(r, s), r, anchor=anchor, note=note, rows=rows)
            except Exception as err:  # a diagnostic must not lose the run's own figures
                print(f"   what-if FAILED: {err!r}", file=sys.stderr, flush=True)
        return out


def result_rows(model: str, variants: list[tuple[str, dict[str, dict]]], r, *, anchor: str, note: str,  # noqa: ANN001
                rows: str) -> list[dict]:
    """The benchmark's rows: per variant (the run itself first, description "") and candidate."""
    out = []
    for variant, metrics in variants:
        for kind, m in sorted(metrics.items()):
            if "best_auc" not in m:
                raise RuntimeError(f"{model} {kind}: no best achievable AUC in the OOT metrics "
                                   "(the truth is not of this label definition, or not found)")
            name = f"{model} {kind}" + (f", {variant.split(' (')[0]} (what-if)" if variant else "")
            out.append({
                "name": f"{name}: OOT AUC vs best achievable", "figure": round(m["auc"], 4),
                "unit": "AUC", "anchor": anchor, "anchor_figure": round(m["best_auc"], 4),
                "ratio": round(m["auc_ratio_to_best"], 4), "goal": f">= {GOAL}",
                "note": f"{note}; {r.n_train:,} train + {r.n_oot:,} OOT {rows}, "
                        f"{int(round(m.get('bad_rate', 0) * m.get('n', 0))):,} OOT bads "
                        f"(OOT {r.oot_window[0][:10]} to {r.oot_window[1][:10]}); higher is better"
                        + (f"; what-if on the same rows, {variant}; not the shipped service" if variant
                           else "; the challenger" if kind == r.challenger_kind else "")})
    return out
