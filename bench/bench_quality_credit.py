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

A what-if on the same rows (:func:`bureau_pull_what_if`) adds the bureau report pulled at application,
which credit_pd_v1's features (data strictly before the application date) never see: the same flow
retrained with it, and the generator's Bayes posterior with v1's information and with the report (the
best any model with that information reaches), reported as extra rows (not the shipped service).
``python -m bench.bench_quality_credit <world>`` repeats them on a world kept by ``RISKPIPE_BENCH_KEEP``.

Scale "small": 2,000 customers x 8 application days; "full": 10,000 customers x 21 application days.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
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
              f"{INSTALLMENT_DAYS} days)", rows="approved applications", what_if=bureau_pull_what_if)


#: the bureau report's fields a lender reads when it pulls the report at application
PULL_FIELDS = ["bureau_score", "open_accounts", "total_balance", "delinquencies_24m", "inquiries_6m",
               "oldest_account_months"]
PULL_COLUMNS = [f"pull_{c}" for c in PULL_FIELDS]


def _with_pull(df, settings):  # noqa: ANN001, ANN202 (DataFrame, Settings)
    """``df`` (rows with customer_id and feature_ts) plus ``pull_*``: the bureau report of the feature
    date from silver (by the conformed customer_id; of several that day, the highest report_id), null
    when none."""
    import pandas as pd

    files = sorted((settings.silver / "bureau").glob("dt=*/*.parquet"))
    bureau = pd.concat([pd.read_parquet(f, columns=["customer_id", "as_of_date", "report_id", *PULL_FIELDS])
                        for f in files], ignore_index=True)
    bureau = bureau.dropna(subset=["customer_id", "as_of_date"]).sort_values("report_id")
    bureau = bureau.drop_duplicates(["customer_id", "as_of_date"], keep="last").drop(columns="report_id")
    bureau["as_of_date"] = pd.to_datetime(bureau["as_of_date"]).dt.date
    bureau = bureau.rename(columns=dict(zip(PULL_FIELDS, PULL_COLUMNS, strict=True)))
    day = pd.to_datetime(df["feature_ts"], utc=True).dt.date
    joined = df.assign(as_of_date=day).merge(bureau, on=["customer_id", "as_of_date"], how="left")
    if len(joined) != len(df):
        raise RuntimeError(f"the bureau join changed the row count ({len(df)} -> {len(joined)})")
    return joined.drop(columns="as_of_date").set_axis(df.index)


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


def bureau_pull_what_if(r, settings, *, pull: bool = True) -> list[tuple[str, dict[str, dict]]]:  # noqa: ANN001
    """Variants on the run's own training set and OOT rows, for the gap to the best achievable AUC.

    credit_pd_v1 reads the bureau as of the day before the application (its features at T use data
    strictly before T), so it never sees the report pulled for the application itself (the world's
    bureau feed sends it with the application's date as ``as_of_date``, landing 0-3 days later); a
    first-time applicant has no report at all. Variants:

    - the same flow retrained (:func:`train_model`, not registered) with that report joined from silver
      (``pull_*``): what the models would reach with the pull as a request-time input (``pull=False``
      retrains without it instead, which must reproduce the run's own figures, and adds nothing else);
    - the Bayes posterior (:func:`posterior_pd`) with v1's information and with the pull too: what no
      model with that information beats in expectation (the truth knows the latent risk exactly).

    ``r``: the run's TrainResult (its training set, OOT window and row counts). Returns (description,
    OOT metrics per candidate) per variant.
    """
    import pandas as pd

    from riskpipe.models.config import get_model_settings
    from riskpipe.models.evaluate import metrics
    from riskpipe.models.flows import TRUTH, attach_truth, model_spec, not_features
    from riskpipe.models.train import train_model

    spec = model_spec("credit_pd")
    df = pd.read_parquet(r.extra["training_set"])
    has_truth = attach_truth(df, spec, settings, spec.definition(settings))
    df = _with_pull(df, settings)
    covered = df["pull_bureau_score"].notna().mean()
    seen = df["bureau_score"].notna().mean()
    what = f"with the bureau report pulled at application ({covered:.1%} of the rows have one in silver)"
    monotone = {f: d for f, d in spec.monotone.items() if f in df.columns}
    if pull:
        monotone |= {"pull_bureau_score": -1, "pull_delinquencies_24m": 1}
    else:
        what = "retrained without the report"
    # as train_from_store: request fields reach the model through the service's on-demand features
    exclude = not_features(df.columns, spec, ["requested_amount"]) + ([] if pull else PULL_COLUMNS)
    ms = get_model_settings()
    w = train_model(df, label="label", features=None, time_column="feature_ts", model_name=spec.name,
                    oot_from=r.oot_window[0], truth_column=TRUTH if has_truth else None,
                    monotone=monotone, exclude=exclude, num_boost_round=ms.num_boost_round,
                    gbm_params={"num_threads": ms.num_threads} if ms.num_threads else None, register=False,
                    source=f"{r.extra['training_set']} ({what})", settings=settings)
    if (w.n_train, w.n_oot) != (r.n_train, r.n_oot):
        raise RuntimeError(f"what-if rows differ: {w.n_train}+{w.n_oot} vs {r.n_train}+{r.n_oot}")
    out = [(what, {kind: c.oot_metrics for kind, c in w.candidates.items()})]
    if has_truth and pull:  # the posteriors do not depend on the retrain: once, beside the pull
        t = pd.to_datetime(df["feature_ts"], utc=True).dt.tz_localize(None)
        oot = (t >= pd.Timestamp(r.oot_window[0]).tz_localize(None)).to_numpy()
        y, truth = df["label"].to_numpy(float)[oot], df[TRUTH].to_numpy(float)[oot]
        out.append((f"Bayes posterior of the generator's process, no fitting ({seen:.1%} of the rows have a "
                    f"bureau report before the application, {covered:.1%} one of the application day)",
                    {"v1's information": metrics(y, posterior_pd(df, False)[oot], truth),
                     "with the pull": metrics(y, posterior_pd(df, True)[oot], truth)}))
    return out


def run_compressed(model: str, *, customers: int, app_days: int, tail_days: int, edit_labels, anchor: str,  # noqa: ANN001
                   world: str, rows: str, first_date: int = 1, what_if=None) -> list[dict]:  # noqa: ANN001
    """Generate the compressed world, run it through the pipeline, train ``model`` on the dates
    ``first_date .. app_days - 1`` with every label matured, and report each candidate's OOT AUC
    beside the truth's (labels: the packaged definitions changed by ``edit_labels``). ``what_if(result,
    settings)`` -> (description, OOT metrics per candidate) adds rows for a variant on the same rows."""
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
        variants = [("", {kind: c.oot_metrics for kind, c in r.candidates.items()})]
        if what_if is not None:
            try:
                variants += what_if(r, s)
            except Exception as err:  # a diagnostic must not lose the run's own figures
                print(f"   what-if FAILED: {err!r}", file=sys.stderr, flush=True)
        return result_rows(model, variants, r, anchor=anchor, note=f"{customers:,} customers, {len(dates)} feature "
                           f"dates, {world}", rows=rows)


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


def rerun_on_kept_world(world: str, rows_file: str | None = None) -> None:
    """``python -m bench.bench_quality_credit <world> [rows.json]``: the what-if on a world kept by
    ``RISKPIPE_BENCH_KEEP`` (without the report first: it must reproduce the run's own figures); the
    what-if rows, as the benchmark reports them, to ``rows.json``."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    import pandas as pd

    from riskpipe.models.train import oot_split
    from riskpipe.settings import get_settings, reset_settings

    work = Path(world)
    sets = [p for p in work.rglob("training_sets/credit_pd-*.parquet") if not p.stem.endswith(("-declined", "-served"))]
    if len(sets) != 1:
        raise SystemExit(f"{work}: expected one credit_pd training set, found {[str(p) for p in sets]}")
    os.environ.update({"RISKPIPE_DATA_DIR": str(work), "RISKPIPE_MODE": "embedded", "RISKPIPE_LOG_LEVEL": "WARNING",
                       "RISKPIPE_LABELS_FILE": str(work / "labels_compressed.yml")})
    reset_settings()
    t = pd.to_datetime(pd.read_parquet(sets[0], columns=["feature_ts"])["feature_ts"], utc=True).dt.tz_localize(None)
    cut = oot_split(t, None)
    r = SimpleNamespace(extra={"training_set": str(sets[0])}, oot_window=(cut.isoformat(), t.max().isoformat()),
                        n_train=int((t < cut).sum()), n_oot=int((t >= cut).sum()), challenger_kind=None)
    variants = []
    for pull in (False, True):
        for what, metrics in bureau_pull_what_if(r, get_settings(), pull=pull):
            variants.append((what, metrics))
            for kind, m in sorted(metrics.items()):
                print(f"{what}: {kind} OOT AUC {m['auc']:.4f} vs best {m['best_auc']:.4f} -> ratio "
                      f"{m['auc_ratio_to_best']:.4f} ({r.n_train} train + {r.n_oot} OOT rows)", flush=True)
    if rows_file:
        dates = t.dt.normalize().nunique()
        world_note = (f"credit time compressed ({BAD_DPD}+ DPD within {WINDOW_DAYS} days, installments every "
                      f"{INSTALLMENT_DAYS} days)")
        rows = result_rows("credit_pd", variants[1:], r, anchor="generator's true p_default on the same OOT rows",
                           note=f"{dates} feature dates, "
                                f"{world_note}; computed on the run's kept world ({work.name})",
                           rows="approved applications")
        Path(rows_file).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    rerun_on_kept_world(*sys.argv[1:3])
