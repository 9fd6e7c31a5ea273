"""The early-warning ground truth: the posterior of the generator's own process given the payments seen
before a date, checked against the labels the generated world then realises (computed here from the
installments truth, independently of the truth code and of dbt): in a clean world, and in one with the
default defects, whose lost payment records leave installments unpaid in the lake (the label the
pipeline builds reads the lake; tests/ingest checks the truth's view of it against the real ingest)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.evaluate import auc
from riskpipe.models.flows import MODEL_SPECS, TRUTH, attach_truth
from riskpipe.models.labels import load_label_definitions
from riskpipe.settings import Settings
from riskpipe.sources.generator import DefectRates, generate
from riskpipe.sources.truth import TruthUnavailable, early_warning_probability

START, DAYS, INST, MIN_DPD, WINDOW = dt.date(2026, 1, 1), 120, 16, 30, 30


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ew_world")
    generate(customers=2_000, days=DAYS, start=START, seed=5, landing=root / "landing",
             ground_truth=root / "ground_truth", defects=DefectRates.clean(), txn_per_customer_day=0.02,
             application_rate=0.03, installment_days=INST, credit_bad_dpd=30, credit_window_days=79)
    return root


@pytest.fixture(scope="module")
def defect_world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ew_defect_world")
    generate(customers=2_000, days=DAYS, start=START, seed=6, landing=root / "landing",
             ground_truth=root / "ground_truth", txn_per_customer_day=0.02,
             application_rate=0.03, installment_days=INST, credit_bad_dpd=30, credit_window_days=79)
    return root


def _day(d: pd.Series) -> np.ndarray:
    return (pd.to_datetime(d).to_numpy("datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(np.int64)


def _realised(world: Path) -> pd.DataFrame:
    """(loan, T) rows on a grid of dates whose window the world covers, for loans booked before T and
    not paid off before T, with the label the world realised in the lake: some installment whose
    schedule landed is min_dpd+ days past due on a day of (T, T + WINDOW] by the payments that landed.
    An installment whose payment record was quarantined where the lake can place it does not count:
    a row only it would make bad is unresolved, and left out (``unresolved`` counts them)."""
    gt = world / "ground_truth"
    loans = pd.read_parquet(gt / "loans.parquet", columns=["loan_id", "booked_at"])
    inst = pd.read_parquet(gt / "installments.parquet")
    inst = inst[inst["schedule_landed"]].copy()
    inst["due"], inst["paid"] = _day(inst["due_date"]), _day(inst["landed_paid_date"])  # NaT: never paid
    never = inst["landed_paid_date"].isna()
    inst.loc[never, "paid"] = np.iinfo(np.int64).max
    start = (np.datetime64(START, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    t_days = np.arange(start + 5, start + DAYS - WINDOW, 4)
    loans["booked"] = _day(loans["booked_at"])
    rows = loans.merge(pd.DataFrame({"t": t_days}), how="cross")
    rows = rows[rows["booked"] < rows["t"]]
    last_paid = inst.groupby("loan_id")["paid"].max()
    rows = rows[rows["loan_id"].map(last_paid).to_numpy() >= rows["t"].to_numpy()]  # not paid off before T
    m = rows[["loan_id", "t"]].merge(inst[["loan_id", "due", "paid", "payment_quarantined"]], on="loan_id")
    first_bad = np.maximum(m["due"] + MIN_DPD, m["t"] + 1)
    late = (first_bad <= m["t"] + WINDOW) & (m["paid"] >= first_bad)
    m["bad"], m["held"] = late & ~m["payment_quarantined"], late & m["payment_quarantined"]
    # the days an installment due before T has gone unpaid at T: a heuristic's score
    m["overdue"] = np.where((m["due"] < m["t"]) & (m["paid"] >= m["t"]), m["t"] - m["due"], 0)
    agg = m.groupby(["loan_id", "t"], as_index=False).agg(label=("bad", "max"), held=("held", "max"),
                                                          overdue=("overdue", "max"))
    unresolved = ~agg["label"] & agg["held"]
    agg = agg[~unresolved].drop(columns="held").reset_index(drop=True)
    agg["feature_ts"] = pd.to_datetime(agg["t"], unit="D", utc=True)
    agg.attrs["unresolved"] = int(unresolved.sum())
    return agg


def _miscalibrated(y: np.ndarray, p: np.ndarray) -> list[tuple]:
    """The bands of the probability (and the whole) where the realised bads are more than 4 standard
    deviations from the expected count."""
    out = []
    for lo, hi in ((0, 0.02), (0.02, 0.5), (0.5, 1.01), (0, 1.01)):
        band = (p >= lo) & (p < hi)
        assert band.sum() > 200, (lo, hi)
        expected, sd = p[band].sum(), np.sqrt((p[band] * (1 - p[band])).sum())
        if abs(y[band].sum() - expected) > 4 * sd + 1:
            out.append((lo, hi, int(y[band].sum()), round(float(expected), 1), round(float(sd), 1)))
    return out


def test_early_warning_truth_is_calibrated_and_beats_days_overdue(world: Path) -> None:
    rows = _realised(world)
    p = early_warning_probability(rows[["loan_id", "feature_ts"]], world / "ground_truth", MIN_DPD, WINDOW)
    y = rows["label"].to_numpy(int)
    assert len(rows) > 5_000 and 100 < y.sum() < len(y) / 2
    assert ((p >= 0) & (p <= 1)).all()
    # calibrated: overall and within bands of the probability, to 4 standard deviations
    assert not _miscalibrated(y, p)
    # the posterior orders loans better than the days the oldest unpaid installment is overdue
    assert auc(y, p) > auc(y, rows["overdue"].to_numpy()) + 0.01
    # the label definition's own parameters: a wider window can only raise the probability
    wider = early_warning_probability(rows[["loan_id", "feature_ts"]], world / "ground_truth", MIN_DPD, 60)
    assert (wider >= p - 1e-12).all() and (wider > p + 1e-6).any()


def test_early_warning_truth_reads_the_lake_in_a_world_with_defects(defect_world: Path, tmp_path: Path) -> None:
    """Lost payment records (quarantined, or moved to the next installment by a near duplicate) leave
    installments unpaid in the lake for good: the lake's label says bad where the loan paid, unless the
    record is in quarantine where the lake can place it (the row is then unresolved, not bad). The
    posterior weighs that loss (loans.parquet's payment_loss_p, payment_hold_p) and stays calibrated
    to the lake's resolved labels; the same posterior without it is not."""
    rows = _realised(defect_world)
    gt = defect_world / "ground_truth"
    inst = pd.read_parquet(gt / "installments.parquet")
    lost = inst["paid_date"].notna() & inst["landed_paid_date"].isna()
    assert lost.sum() > 20 and (~inst["schedule_landed"]).sum() > 100
    assert inst["payment_quarantined"].sum() > 10 and rows.attrs["unresolved"] > 20, rows.attrs
    p = early_warning_probability(rows[["loan_id", "feature_ts"]], gt, MIN_DPD, WINDOW)
    y = rows["label"].to_numpy(int)
    assert len(rows) > 5_000 and 100 < y.sum() < len(y) / 2
    assert not _miscalibrated(y, p)
    assert auc(y, p) > auc(y, rows["overdue"].to_numpy()) + 0.01
    # another loss probability: without it, a paid-up loan's lost payment fits no hypothesis (a careful
    # payer is never late); at 5x, the lake's bads are overestimated
    other = tmp_path / "ground_truth"
    other.mkdir()
    for f in gt.glob("*.parquet"):
        (other / f.name).write_bytes(f.read_bytes())
    loans = pd.read_parquet(gt / "loans.parquet")
    loans.assign(payment_loss_p=0.0, payment_hold_p=0.0).to_parquet(other / "loans.parquet")
    with pytest.raises(TruthUnavailable, match="fit no hypothesis"):
        early_warning_probability(rows[["loan_id", "feature_ts"]], other, MIN_DPD, WINDOW)
    # without the hold, the rows a quarantined payment holds back count as bads the lake never labels
    loans.assign(payment_hold_p=0.0).to_parquet(other / "loans.parquet")
    assert _miscalibrated(y, early_warning_probability(rows[["loan_id", "feature_ts"]], other, MIN_DPD, WINDOW))
    loans.assign(payment_loss_p=loans["payment_loss_p"] * 5,
                 payment_hold_p=loans["payment_hold_p"] * 5).to_parquet(other / "loans.parquet")
    assert _miscalibrated(y, early_warning_probability(rows[["loan_id", "feature_ts"]], other, MIN_DPD, WINDOW))


def test_installments_truth_is_what_landed(world: Path) -> None:
    """installments.parquet holds the feed's own due dates and payment dates (a clean world lands all)."""
    landed = pd.concat([pd.read_parquet(f) for f in sorted((world / "landing" / "repayments").rglob("*.parquet"))])
    inst = pd.read_parquet(world / "ground_truth" / "installments.parquet")
    assert inst["schedule_landed"].all() and not inst["payment_quarantined"].any()  # nothing lost in a clean world
    assert inst["landed_paid_date"].equals(inst["paid_date"].rename("landed_paid_date"))
    last = pd.Timestamp(START) + pd.Timedelta(days=DAYS)
    loans = pd.read_parquet(world / "ground_truth" / "loans.parquet", columns=["loan_id", "booked_at"])
    # a loan decided past the last midnight is booked after the world ends: its schedule never lands
    after = set(loans.loc[pd.to_datetime(loans["booked_at"]) >= last, "loan_id"])
    assert 0 < len(after) < 10
    inst = inst[~inst["loan_id"].isin(after)]
    sched = landed[landed["record_type"] == "schedule"][["loan_id", "installment_no", "due_date"]]
    m = inst.merge(sched, on=["loan_id", "installment_no"], suffixes=("", "_feed"), validate="one_to_one")
    assert len(m) == len(inst) == len(sched)
    assert (pd.to_datetime(m["due_date"]) == pd.to_datetime(m["due_date_feed"])).all()
    paid = landed[landed["record_type"] == "payment"][["loan_id", "installment_no", "event_at"]]
    m = inst.merge(paid, on=["loan_id", "installment_no"], how="left", validate="one_to_one")
    in_world = m["paid_date"].notna() & (pd.to_datetime(m["paid_date"]) < last)
    assert in_world.sum() > 1_000
    assert (pd.to_datetime(m.loc[in_world, "event_at"], utc=True).dt.tz_convert(None).dt.normalize()
            == pd.to_datetime(m.loc[in_world, "paid_date"])).all()
    assert m.loc[~in_world, "event_at"].isna().all()  # never paid, or after the world ends: not in the feed


def test_training_attaches_the_early_warning_truth(world: Path, tmp_path: Path) -> None:
    spec, defn = MODEL_SPECS["early_warning"], load_label_definitions().labels["early_warning"]
    rows = _realised(world).head(500)
    df = rows[["loan_id", "feature_ts"]].copy()
    assert spec.truth_applies(defn) and attach_truth(df, spec, Settings(data_dir=world), defn)
    assert np.allclose(df[TRUTH], early_warning_probability(rows, world / "ground_truth", 30, 30))
    # a world without the installments truth (generated before it): no ratio, a warning, no crash
    assert not attach_truth(df.drop(columns=TRUTH), spec, Settings(data_dir=tmp_path), defn)
    (tmp_path / "ground_truth").mkdir()
    (tmp_path / "ground_truth" / "installments.parquet").write_bytes(
        (world / "ground_truth" / "installments.parquet").read_bytes())
    with pytest.raises(TruthUnavailable, match="loans.parquet"):
        early_warning_probability(rows, tmp_path / "ground_truth", 30, 30)
    assert not attach_truth(df.drop(columns=TRUTH), spec, Settings(data_dir=tmp_path), defn)


def test_credit_default_posterior_is_the_generators_expectation_given_what_an_application_shows():
    """Drawn as the generator draws (rounded, clipped scores; rounded incomes), the posterior is
    calibrated to the true p_default it estimates, and each reading it is given ranks better."""
    from riskpipe.sources import generator as g
    from riskpipe.sources.truth import credit_default_posterior

    r = np.random.default_rng(11)
    n = 200_000
    z = r.normal(size=n)
    income = np.round(np.exp(g.INCOME_LOG_MEAN - g.INCOME_SLOPE * z + r.normal(0, g.INCOME_NOISE, n)), 2)

    def score() -> np.ndarray:
        return np.clip(np.round(g.BUREAU_MEAN - g.BUREAU_SLOPE * z + r.normal(0, g.BUREAU_NOISE, n)), 300, 850)

    at_application, before = score(), np.where(r.random(n) < 0.4, score(), np.nan)
    burden = np.log(np.exp(r.normal(9.0, 0.7, n)) / income)
    riskier = (r.random(n) < 0.08).astype(float)
    p = g.default_probability(z, burden, riskier)
    y = (r.random(n) < p).astype(float)

    post = credit_default_posterior([before, at_application], income, burden, riskier)
    assert post.shape == (n,) and ((post > 0) & (post < 1)).all()
    # E[p | what is shown]: within each decile of the posterior, the true p averages to the posterior
    edges = np.quantile(post, np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, post, side="right") - 1, 0, 9)
    for d in range(10):
        m = decile == d
        assert abs(p[m].mean() - post[m].mean()) < 0.1 * post[m].mean() + 0.001, (d, p[m].mean(), post[m].mean())
    # more readings, better ranking; none beats the truth, which knows z
    income_only = credit_default_posterior([], income, burden, riskier)
    one_report = credit_default_posterior([at_application], income, burden, riskier)
    a_income, a_one, a_two, a_truth = (auc(y, q) for q in (income_only, one_report, post, p))
    assert a_income + 0.03 < a_one < a_two < a_truth, (a_income, a_one, a_two, a_truth)
    # a row without a report (NaN) is as if no report were given
    assert abs(credit_default_posterior([np.full(n, np.nan)], income, burden, riskier) - income_only).max() < 1e-12
