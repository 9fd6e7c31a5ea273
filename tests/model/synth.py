"""A small labelled table with known structure, made by the tests (seeded, no files shipped).

Default risk rises strictly with ``missed_payments`` and ``utilisation``, falls with ``income``;
``noise_*`` columns carry nothing. ``true_pd`` is the probability the label was drawn from, so the
best achievable AUC is known. ``shift`` moves the OOT months' feature distribution (an unstable
population) without changing the risk relation; ``oot_logit_shift`` moves the OOT bad rate
(label drift: a model trained earlier is then miscalibrated there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_table(n: int = 6000, seed: int = 7, months: int = 8, shift: float = 0.0, n_noise: int = 3,
               start: str = "2025-01-01", oot_logit_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    month = rng.integers(0, months, n)
    day = rng.integers(0, 28, n)
    t = pd.Timestamp(start) + pd.to_timedelta(month * 31 + day, unit="D")
    late = month >= months - max(1, round(months * 0.25))
    missed = rng.poisson(0.8 + 2.0 * shift * late, n).astype(float)
    util = np.clip(rng.beta(2, 3, n) + shift * 0.3 * late, 0, 1.5)
    income = rng.lognormal(8 + -0.5 * shift * late, 0.5, n)
    bureau = np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1, n))
    logit = -3.0 + oot_logit_shift * late + 0.7 * missed + 1.8 * util - 0.6 * (np.log(income) - 8) + 0.4 * np.nan_to_num(bureau)
    true_pd = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < true_pd).astype(int)
    df = pd.DataFrame({
        "application_id": np.arange(n),
        "application_date": t,
        "missed_payments": missed,
        "utilisation": util,
        "income": income,
        "bureau_score": bureau,
    })
    for i in range(n_noise):
        df[f"noise_{i}"] = rng.normal(0, 1, n)
    df["default_12m"] = y
    df["true_pd"] = true_pd
    return df


def make_fraud_table(n: int = 6000, seed: int = 11, months: int = 6, start: str = "2025-01-01") -> pd.DataFrame:
    """Card transactions with fraud_v1-like features: risk rises with the amount against the customer's
    mean, at night, and on devices shared with confirmed fraudsters (``component_bad_share``,
    ``max_customers_per_device``), as in the generator's fraud rings."""
    rng = np.random.default_rng(seed)
    month = rng.integers(0, months, n)
    t = pd.Timestamp(start) + pd.to_timedelta(month * 31 + rng.integers(0, 28, n), unit="D")
    ring = rng.random(n) < 0.08
    shared = np.where(ring, rng.integers(2, 6, n), np.where(rng.random(n) < 0.1, 2, 1)).astype(float)
    bad_share = np.where(ring, rng.beta(3, 3, n), np.where(shared > 1, rng.beta(1, 12, n), 0.0))
    amount_ratio = rng.lognormal(0, 0.6, n) * (1 + ring * rng.random(n))
    night = (rng.random(n) < 0.15 + 0.3 * ring).astype(float)
    logit = -4.5 + 3.0 * bad_share + 0.5 * (shared - 1) + 0.8 * np.log(amount_ratio) + 1.0 * night
    true_p = 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "txn_id": np.arange(n), "feature_ts": t, "amount_to_mean_30d": amount_ratio, "is_night_request": night,
        "component_bad_share": bad_share, "max_customers_per_device": shared,
        "label": (rng.random(n) < true_p).astype(int), "p_fraud": true_p,
    })


def make_early_warning_table(n: int = 3000, seed: int = 5, months: int = 6, start: str = "2025-01-01") -> pd.DataFrame:
    """Active loans with exactly the early_warning_v1 features: risk of 30+ DPD rises with the current
    days past due and missed payments and falls with the paid ratio."""
    rng = np.random.default_rng(seed)
    month = rng.integers(0, months, n)
    t = pd.Timestamp(start) + pd.to_timedelta(month * 31 + rng.integers(0, 28, n), unit="D")
    due = rng.integers(1, 24, n)
    paid = np.minimum(due, rng.binomial(due, 0.9))
    dpd = np.where(rng.random(n) < 0.15, rng.integers(1, 60, n), 0)
    missed = rng.poisson(0.4 + dpd / 30, n)
    logit = -3.5 + 0.05 * dpd + 0.6 * missed - 2.0 * (paid / due - 0.9)
    return pd.DataFrame({
        "loan_id": np.arange(n).astype(str), "customer_id": (np.arange(n) % 997).astype(str), "feature_ts": t,
        "installments_due": due, "installments_paid": paid, "paid_ratio": paid / due, "dpd_current": dpd,
        "dpd_change_30d": rng.integers(-5, 6, n), "txn_count_30d_change": rng.normal(0, 1, n),
        "login_count_30d_change": rng.normal(0, 1, n), "bureau_score": rng.normal(650, 60, n),
        "utilisation": rng.beta(2, 3, n), "on_time_ratio_3m": rng.beta(8, 1, n), "missed_payments_3m": missed,
        "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
    })
