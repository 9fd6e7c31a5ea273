"""Benchmark: early_warning's out-of-time AUC against the best achievable AUC (the generator's ground truth).

The packaged early_warning label (an active loan 30+ days past due on some day of the next 30 days)
in the world of ``bench_quality_credit``: credit time compressed (installments every 16 days, a
defaulter's loan 30+ days past due within 79 days of its application), every source ingested behind
the quality gates for the application days, then the repayments feed (with the applications and
customers its loans need, and the bureau feed: ``bench_quality_credit.LATER_SOURCES``) until the last
feature date's window has passed, the first ``DAILY_TAIL`` of those days one by one and the rest as one
backfill drop on the last day (known after every feature date and at the horizon the labels mature
by; see ``run_compressed``). Then dbt indicators,
graph features and the feature gates for each feature date, the Feast definitions, and
``train_from_store("early_warning")`` on the early_warning_v1 service, with every label matured.

The feature dates start on day 14, as the first installments of the world's first loans fall due on
day 16: before it no loan has a payment history to warn from.

The anchor is measured on the same out-of-time rows in the same run: the AUC of the true probability
of the label (``riskpipe.sources.truth.early_warning_probability``: the posterior of the generator's
own process, given the loan's latent default and lateness probabilities and the installments the lake
shows paid before the feature date, with the probability that a payment record is lost before the
lake: the label reads the lake, where a lost payment leaves its installment unpaid, unless its record
is in quarantine where dbt can place it and holds the row back as unresolved), which no model beats
in expectation. Goal: ratio (model AUC / best AUC) at
least 0.97. Higher is better.

Scale "small": 2,000 customers x 24 application days; "full": 10,000 customers x 35 application days.
"""

from __future__ import annotations

from bench.bench_quality_credit import BAD_DPD, DAILY_TAIL, INSTALLMENT_DAYS, WINDOW_DAYS, run_compressed

SIZES = {"small": (2_000, 24), "full": (10_000, 35)}
FIRST_DATE = 14


def run(scale: str) -> list[dict]:
    from riskpipe.models.labels import load_label_definitions

    customers, app_days = SIZES.get(scale, SIZES["full"])
    ew = load_label_definitions().labels["early_warning"]
    return run_compressed(
        "early_warning", customers=customers, app_days=app_days, tail_days=ew.performance_days + 1,
        edit_labels=lambda labels: None, first_date=FIRST_DATE,
        anchor="posterior of the generator's process, lake's view (riskpipe.sources.truth) on the same OOT rows",
        world=f"the packaged label ({ew.bad.min_dpd}+ DPD in the next {ew.performance_days} days); credit time "
              f"compressed (installments every {INSTALLMENT_DAYS} days, defaulters {BAD_DPD}+ DPD within "
              f"{WINDOW_DAYS} days; the label feeds' tail after day {app_days + DAILY_TAIL} as one backfill drop)",
        rows="loan-days", daily_tail=DAILY_TAIL)
