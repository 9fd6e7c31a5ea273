"""Point-in-time proof: the feature tables agree with values computed independently in pandas from
silver, using only rows with event_ts < T and known_at <= T, on a day inside the data, on the first
day that knows the last landing, and on a later day without new events (values decay)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.indicators.conftest import LAST, MID, QUIET, read_partition

DAYS = (MID, LAST, QUIET)
#: every feature date MID..LAST (the daily runs between them)
DAILY = [MID + dt.timedelta(days=i) for i in range((LAST - MID).days + 1)]


def silver(settings, name: str) -> pd.DataFrame:
    files = sorted(Path(settings.silver / name).glob("dt=*/*.parquet"))
    assert files, f"no silver for {name}"
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day.isoformat(), tz="UTC")


def known(df: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    return df[(df["event_ts"] < t) & (df["known_at"] <= t)]


def assert_close(actual: pd.Series, expected: pd.Series, what: str) -> None:
    a, e = actual.astype("float64").to_numpy(), expected.astype("float64").to_numpy()
    bad = ~np.isclose(a, e, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert not bad.any(), f"{what}: {bad.sum()} mismatches, e.g. {list(zip(actual.index[bad][:5], a[bad][:5], e[bad][:5], strict=False))}"


@pytest.fixture(scope="module")
def txns(world) -> pd.DataFrame:
    return silver(world, "transactions")


def test_world_has_late_rows_that_windows_must_exclude(world, txns):
    """At MID some rows happened before T but landed after it, so the known_at rule changes values
    the comparisons below check (transactions, device events, repayments, bureau)."""
    t = ts(MID)
    for name, df in (("transactions", txns), ("device_events", silver(world, "device_events")),
                     ("repayments", silver(world, "repayments")), ("bureau", silver(world, "bureau"))):
        assert ((df["event_ts"] < t) & (df["known_at"] > t)).any(), name


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_customer_transaction_windows_match_pandas(world, built, txns, day):
    t = ts(day)
    out = read_partition(world, "customer_credit_daily", day).set_index("customer_id")
    assert (out["feature_ts"] == t).all()
    k = known(txns, t)
    for label, days in (("1d", 1), ("7d", 7), ("30d", 30), ("90d", 90)):
        w = k[k["event_ts"] >= t - pd.Timedelta(days=days)].groupby("customer_id")["amount"]
        exp = pd.DataFrame({"count": w.count(), "sum": w.sum(), "mean": w.mean(), "std": w.std(ddof=1)})
        exp = exp.reindex(out.index)
        assert_close(out[f"txn_count_{label}"], exp["count"].fillna(0), f"txn_count_{label} {day}")
        assert_close(out[f"txn_sum_{label}"], exp["sum"].fillna(0), f"txn_sum_{label} {day}")
        assert_close(out[f"txn_mean_{label}"], exp["mean"], f"txn_mean_{label} {day}")
        assert_close(out[f"txn_std_{label}"], exp["std"], f"txn_std_{label} {day}")
    w30 = k[k["event_ts"] >= t - pd.Timedelta(days=30)]
    g = w30.groupby("customer_id")
    night = (w30["event_ts"].dt.hour < 6).groupby(w30["customer_id"]).mean().reindex(out.index)
    xb = (w30["merchant_country"] != "DE").groupby(w30["customer_id"]).mean().reindex(out.index)
    assert_close(out["night_share_30d"], night, f"night_share_30d {day}")
    assert_close(out["cross_border_share_30d"], xb, f"cross_border_share_30d {day}")
    assert_close(out["distinct_merchants_30d"], g["merchant_id"].nunique().reindex(out.index).fillna(0),
                 f"distinct_merchants_30d {day}")


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_customer_master_bureau_and_spine_match_pandas(world, built, day):
    t = ts(day)
    out = read_partition(world, "customer_credit_daily", day).set_index("customer_id")
    cust = known(silver(world, "customers"), t).sort_values(["event_ts", "known_at", "_source_file", "_source_row"])
    latest = cust.groupby("customer_id").last()
    ids = set(latest.index)
    for name in ("transactions", "applications", "bureau"):
        ids |= set(known(silver(world, name), t)["customer_id"].dropna())
    assert set(out.index) == ids, "one row per customer known at T"
    assert out.index.is_unique
    assert_close(out["annual_income"], latest["annual_income"].reindex(out.index), f"annual_income {day}")
    age = (day - pd.to_datetime(latest["date_of_birth"]).dt.date).map(lambda d: d.days) / 365.25
    assert_close(out["age_years"], age.reindex(out.index), f"age_years {day}")
    bureau = known(silver(world, "bureau"), t).dropna(subset=["customer_id"])
    bureau = bureau.sort_values(["as_of_date", "known_at", "report_id"]).groupby("customer_id").last()
    assert_close(out["bureau_score"], bureau["bureau_score"].reindex(out.index), f"bureau_score {day}")


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_fraud_daily_devices_and_last_txn_match_pandas(world, built, txns, day):
    t = ts(day)
    out = read_partition(world, "customer_fraud_daily", day).set_index("customer_id")
    ev = known(silver(world, "device_events"), t)
    tx = known(txns, t)
    since = t - pd.Timedelta(days=30)
    cols = ["customer_id", "device_id", "event_ts"]
    uses = pd.concat([ev[ev["event_ts"] >= since][cols], tx[(tx["event_ts"] >= since) & tx["device_id"].notna()][cols]])
    exp = uses.groupby("customer_id")["device_id"].nunique().reindex(out.index).fillna(0)
    assert_close(out["distinct_devices_30d"], exp, f"distinct_devices_30d {day}")
    # the (at most 20) devices used last, sorted: what a transaction's new-device flag checks against
    last_use = uses.dropna(subset=["device_id"]).groupby(["customer_id", "device_id"])["event_ts"].max().reset_index()
    last_use = last_use.sort_values(["customer_id", "event_ts", "device_id"], ascending=[True, False, True])
    recent = last_use.groupby("customer_id").head(20).groupby("customer_id")["device_id"].agg(
        lambda d: "|".join(sorted(d))).reindex(out.index)
    assert (out["recent_devices_30d"].isna() == recent.isna()).all()
    assert (out["recent_devices_30d"].dropna() == recent.dropna()).all(), f"recent_devices_30d {day}"
    assert out["recent_devices_30d"].notna().sum() > 10 and (out["home_country"] == "DE").all()
    last = tx.groupby("customer_id")["event_ts"].max().reindex(out.index).dt.floor("s")  # whole seconds
    assert (out["last_txn_ts"].isna() == last.isna()).all()
    assert (out["last_txn_ts"].dropna() == last.dropna()).all()
    w = tx[tx["event_ts"] >= t - pd.Timedelta(hours=24)].groupby("customer_id")["amount"]
    assert_close(out["txn_count_24h"], w.count().reindex(out.index).fillna(0), f"txn_count_24h {day}")


def test_values_decay_on_a_day_without_new_events(world, built):
    """QUIET knows nothing LAST did not: short windows empty out, longer ones only shrink."""
    last = read_partition(world, "customer_credit_daily", LAST).set_index("customer_id")
    quiet = read_partition(world, "customer_credit_daily", QUIET).set_index("customer_id")
    assert set(quiet.index) == set(last.index)
    quiet = quiet.reindex(last.index)
    assert last["txn_count_1d"].sum() > 0
    assert (quiet["txn_count_1d"] == 0).all()
    assert (quiet["txn_count_7d"] <= last["txn_count_7d"]).all()
    assert quiet["txn_count_7d"].sum() < last["txn_count_7d"].sum()
    assert (quiet["txn_count_90d"] == last["txn_count_90d"]).all()  # nothing left the 90-day window
    f_last = read_partition(world, "customer_fraud_daily", LAST).set_index("customer_id")
    f_quiet = read_partition(world, "customer_fraud_daily", QUIET).set_index("customer_id").reindex(f_last.index)
    assert (f_quiet["last_txn_ts"].dropna() == f_last["last_txn_ts"].dropna()).all()


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_loan_status_matches_pandas(world, built, day):
    t = ts(day)
    out = read_partition(world, "loan_early_warning_daily", day).set_index("loan_id")
    rep = known(silver(world, "repayments"), t)
    sched = rep[rep["record_type"] == "schedule"].groupby(["loan_id", "installment_no"])["due_date"].min()
    paid = rep[rep["record_type"] == "payment"].groupby(["loan_id", "installment_no"])["event_ts"].min()
    inst = sched.to_frame().join(paid.rename("paid_ts"))
    apps = silver(world, "applications")
    loans = set(apps[(apps["decision"] == "approved") & apps["loan_id"].notna()]["loan_id"])
    inst = inst[inst.index.get_level_values("loan_id").isin(loans)].reset_index()
    inst["due"] = inst["due_date"] < day
    inst["dpd"] = np.where(inst["due"] & inst["paid_ts"].isna(),
                           inst["due_date"].map(lambda d: (day - d).days), 0)
    g = inst.groupby("loan_id")
    assert set(out.index) == set(g.groups), "one row per loan whose schedule is known at T"
    assert_close(out["installments_due"], g["due"].sum().reindex(out.index), f"installments_due {day}")
    assert_close(out["installments_paid"], g["paid_ts"].count().reindex(out.index), f"installments_paid {day}")
    assert_close(out["dpd_current"], g["dpd"].max().reindex(out.index), f"dpd_current {day}")


@pytest.fixture(scope="module")
def fraud_txn_daily(world, built, tmp_path_factory) -> dict[dt.date, pd.DataFrame]:
    """fraud_txn of every feature date MID..LAST, as the daily runs build them. The dates the shared
    world has not built are built from a copy of its silver (the shared world keeps its partitions)."""
    import shutil

    from riskpipe.indicators import build_indicators
    from riskpipe.settings import load_settings

    other = load_settings(data_dir=tmp_path_factory.mktemp("fraud_txn_daily"), spark_master="local[2]",
                          spark_shuffle_partitions=2, spark_driver_memory="2g")
    shutil.copytree(world.silver, other.silver)
    out = {}
    for day in DAILY:
        if day not in built:
            build_indicators(day, other)
        out[day] = read_partition(world if day in built else other, "fraud_txn", day)
    return out


@pytest.mark.parametrize("day", DAILY, ids=str)
def test_fraud_txn_windows_match_pandas(fraud_txn_daily, txns, day):
    """Feature date T holds the transactions that landed on day T - 1 (known_at = T): those of the
    day [T - 1 day, T) and the late arrivals of earlier days. Windows count the customer's
    transactions known at T and strictly before the transaction, by event time."""
    out = fraud_txn_daily[day].set_index("txn_id")
    t = ts(day)
    k = known(txns, t)
    today = k[k["known_at"] > t - pd.Timedelta(days=1)]
    assert set(out.index) == set(today["txn_id"]) and len(out) > 0
    assert (out["created_ts"] == t).all()
    rows = []
    for r in today.itertuples():
        prior = k[(k["customer_id"] == r.customer_id) & (k["event_ts"] < r.event_ts)]
        p24 = prior[prior["event_ts"] >= r.event_ts - pd.Timedelta(hours=24)]
        p7 = prior[prior["event_ts"] >= r.event_ts - pd.Timedelta(days=7)]
        rows.append({"txn_id": r.txn_id, "txn_count_24h": len(p24), "txn_amount_7d": p7["amount"].sum(),
                     "secs_since_prev_txn": (r.event_ts - prior["event_ts"].max()).total_seconds()
                     if len(prior) else np.nan,
                     "is_new_merchant": int(not (prior["merchant_id"] == r.merchant_id).any())})
    exp = pd.DataFrame(rows).set_index("txn_id").reindex(out.index)
    for col in exp.columns:
        assert_close(out[col], exp[col], f"fraud_txn {col}")
    assert (out["feature_ts"] == today.set_index("txn_id")["event_ts"].reindex(out.index)).all()


def test_fraud_txn_has_every_transaction_once_across_the_daily_partitions(fraud_txn_daily, txns):
    """No transaction is lost to a late landing: every transaction that landed on a day that MID..LAST
    complete is in exactly one of those partitions, the one built after it landed (created_ts = its
    known_at), late arrivals of earlier days included (the windows test above covers their values)."""
    seen = pd.concat([df[["txn_id", "created_ts"]] for df in fraud_txn_daily.values()])
    assert not seen["txn_id"].duplicated().any()
    landed = txns[(txns["known_at"] > ts(MID) - pd.Timedelta(days=1)) & (txns["known_at"] <= ts(LAST))]
    assert set(seen["txn_id"]) == set(landed["txn_id"])
    late = landed[landed["event_ts"] < landed["known_at"] - pd.Timedelta(days=1)]
    assert len(late) > 0, "no late arrival landed in MID..LAST"
    made = seen.set_index("txn_id")["created_ts"].reindex(late["txn_id"])
    assert (made.to_numpy() == late["known_at"].to_numpy()).all(), "a late transaction outside its landing's partition"


def test_a_past_date_is_the_same_before_and_after_late_rows_merge_into_it(world, built, spark, tmp_path):
    """As of known time: MID built from the lake as it stood at MID (only the landing days before MID
    ingested) equals MID built from the final lake, in which later landing days merged late rows
    (transactions, device events, repayments, bureau reports happening before MID) into the past
    partitions MID reads. The late rows exist (test above), so only the known_at rule keeps them out."""
    import shutil

    from riskpipe.indicators.build import FEATURE_TABLES, build_indicators
    from riskpipe.ingest.pipeline import ORDER, ingest_day
    from riskpipe.settings import load_settings
    from tests.worlds import START

    then = load_settings(data_dir=tmp_path / "then", spark_master="local[2]", spark_shuffle_partitions=2,
                         spark_driver_memory="2g")
    shutil.copytree(world.landing, then.landing)
    for i in range((MID - START).days):  # landing day D is known at D + 1 00:00 <= MID
        day = START + dt.timedelta(days=i)
        for source in ORDER:
            if (then.landing / source / f"dt={day.isoformat()}").is_dir():
                ingest_day(source, day, settings=then, spark=spark)
    late = silver(world, "transactions")
    late = late[(late["event_ts"] < ts(MID)) & (late["known_at"] > ts(MID))]
    assert not set(late["txn_id"]) & set(silver(then, "transactions")["txn_id"]), "the lake at MID knew a late row"

    rebuilt = build_indicators(MID, then)
    for table in FEATURE_TABLES:
        a = pd.read_parquet(rebuilt.tables[table].path)
        b = read_partition(world, table, MID)
        assert len(a) > 0, table
        keys = list(a.columns[:1]) + ["feature_ts"]
        pd.testing.assert_frame_equal(a.sort_values(keys).reset_index(drop=True),
                                      b.sort_values(keys).reset_index(drop=True), obj=table)
