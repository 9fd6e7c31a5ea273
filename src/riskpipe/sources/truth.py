"""Ground-truth probabilities computed from a generated world (synthetic worlds only).

``credit_default_posterior``: an application's expected p_default given what it shows (bureau scores,
income, burden, employment), the best any credit model with that information reaches.

The generator writes per-row truths where it draws them (an application's ``p_default_12m``, a
transaction's ``p_fraud``). The early-warning label has no such row: whether a loan is 30+ days past
due in the 30 days after a date depends on what is known at that date. Its best achievable predictor
is the posterior of the generator's own process given the loan's latent parameters and the payments
seen before the date:

- a loan defaults with probability ``p_default`` (the application's ``p_default_12m``); a defaulter
  stops paying at an installment drawn uniformly from ``1 .. max_k`` (``max_k`` from the generator's
  ``default_min_dpd``, ``default_window_days`` and the installment period) and never pays again;
- every installment a loan pays is late with probability ``p_late = clip(0.05 + 0.12 z, 0, 0.6)``
  (``z``: the customer's latent risk), by a geometric(0.25) number of days; otherwise it is paid on
  its due date;
- the label is built from the lake, which knows a payment only when its record lands intact: with
  probability ``payment_loss_p`` (from the generator's defect rates) a record is quarantined or moved
  to the next installment by a near duplicate, and its installment stays unpaid there for good. The
  payments seen are the lake's (``installments.parquet``'s ``landed_paid_date``; an installment whose
  schedule record was lost never falls due there);
- of those lost records, a quarantined one the lake can place at its installment (probability
  ``payment_hold_p``) does not make the label bad: the row is unresolved (no label, never trained on)
  unless another installment makes it bad. The label's probability is conditional on being resolved:
  P(bad) / (P(bad) + P(good)).

At feature date T (data strictly before T), each installment due before T is seen paid or not; the
likelihood of that under "pays" and under "stopped at s" weighs the hypotheses. The label (``min_dpd``+
DPD on some day of (T, T + performance_days]) is then certain under a stop at an installment due by
T + performance_days - min_dpd (if the lake knows it is due), and otherwise needs an installment seen
unpaid that late: paid that late, or its payment lost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskpipe.sources.generator import LATE_DAYS_P, late_probability, stop_installment_bound

EPOCH = np.datetime64("1970-01-01", "D")



class TruthUnavailable(Exception):
    """The ground truth lacks what the probability needs (an older world, another label kind)."""


def _epoch_days(values: pd.Series) -> np.ndarray:
    """Dates or UTC timestamps as day numbers since the epoch."""
    return (values.to_numpy("datetime64[D]") - EPOCH).astype(np.int64)


def _p_still_unpaid(days: np.ndarray) -> np.ndarray:
    """P(a late payment is at least ``days`` (>= 1) days late): geometric support 1, 2, ..."""
    return (1.0 - LATE_DAYS_P) ** np.maximum(days - 1, 0)


def _prefix_sums(x: np.ndarray) -> np.ndarray:
    """Per row, the sums over columns before each column, and over all (one column more than ``x``)."""
    return np.concatenate([np.zeros((len(x), 1)), np.cumsum(x, axis=1)], axis=1)


def _any_from(x: np.ndarray) -> np.ndarray:
    """Per row and column k: is any of the columns k, k+1, ... true."""
    return np.flip(np.cumsum(np.flip(x, axis=1), axis=1), axis=1) > 0


def _loan_frame(gt: Path, loan_ids: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Per loan (in ``loan_ids`` order): p_default, p_late, max_k, the payment loss and hold
    probabilities; and its installments' due days, the days the lake is told they were paid, and
    whether the lake knows their schedule (loans x installments; day numbers since the epoch; missing: -1 due, a huge paid)."""
    need = [gt / f for f in ("loans.parquet", "applications.parquet", "customers.parquet", "installments.parquet")]
    missing = [p.name for p in need if not p.is_file()]
    if missing:
        raise TruthUnavailable(f"{gt}: no {', '.join(missing)} (a world generated before the early-warning truth?)")
    loans = pd.read_parquet(need[0])
    if not {"payment_loss_p", "payment_hold_p"} <= set(loans.columns):
        raise TruthUnavailable(f"{need[0]}: no payment_loss_p / payment_hold_p (a world generated before the "
                               "lake-view truth)")
    loans = loans[["loan_id", "application_id", "n_installments", "installment_days", "payment_loss_p",
                   "payment_hold_p"]]
    apps = pd.read_parquet(need[1])
    if not {"default_min_dpd", "default_window_days"} <= set(apps.columns):
        raise TruthUnavailable(f"{need[1]}: no default_min_dpd / default_window_days")
    apps = apps[["application_id", "customer_id", "p_default_12m", "default_min_dpd", "default_window_days"]]
    cust = pd.read_parquet(need[2], columns=["customer_id", "latent_risk"])
    lf = loans.merge(apps, on="application_id", how="left").merge(cust, on="customer_id", how="left")
    lf = lf.drop_duplicates("loan_id").set_index("loan_id")
    unknown = pd.Index(loan_ids).difference(lf.index)
    if len(unknown):
        raise TruthUnavailable(f"{len(unknown)} loan(s) not in the ground truth, e.g. {unknown[0]}")
    lf = lf.loc[loan_ids]
    if lf[["p_default_12m", "latent_risk"]].isna().any().any():
        raise TruthUnavailable("loans without their application's or customer's truth")
    inst = lf["installment_days"].to_numpy(np.int64)
    window, bad = lf["default_window_days"].to_numpy(np.int64), lf["default_min_dpd"].to_numpy(np.int64)
    n_inst = lf["n_installments"].to_numpy(np.int64)
    frame = pd.DataFrame({"p_default": lf["p_default_12m"].to_numpy(float),
                          "p_late": late_probability(lf["latent_risk"].to_numpy(float)),
                          "max_k": stop_installment_bound(n_inst, inst, bad, window),
                          "loss": lf["payment_loss_p"].to_numpy(float),
                          "hold": lf["payment_hold_p"].to_numpy(float)}, index=lf.index)

    rows = pd.read_parquet(need[3])
    if not {"landed_paid_date", "schedule_landed"} <= set(rows.columns):
        raise TruthUnavailable(f"{need[3]}: no landed_paid_date / schedule_landed")
    rows = rows[rows["loan_id"].isin(set(loan_ids))]
    pos = pd.Series(np.arange(len(loan_ids)), index=loan_ids)
    k_max = int(n_inst.max()) if len(n_inst) else 0
    due = np.full((len(loan_ids), k_max), -1, np.int64)
    paid = np.full((len(loan_ids), k_max), np.iinfo(np.int64).max, np.int64)
    scheduled = np.zeros((len(loan_ids), k_max), bool)
    r, c = pos[rows["loan_id"]].to_numpy(), rows["installment_no"].to_numpy(np.int64) - 1
    due[r, c] = _epoch_days(rows["due_date"])
    has = rows["landed_paid_date"].notna().to_numpy()
    paid[r[has], c[has]] = _epoch_days(rows["landed_paid_date"][has])
    scheduled[r, c] = rows["schedule_landed"].to_numpy(bool)
    if (due[np.arange(k_max)[None, :] < n_inst[:, None]] < 0).any():
        raise TruthUnavailable("installments missing from installments.parquet")
    return frame, due, paid, scheduled


def early_warning_probability(keys: pd.DataFrame, gt: Path, min_dpd: int, performance_days: int,
                              time_column: str = "feature_ts") -> np.ndarray:
    """P(loan ``min_dpd``+ days past due on some day of (T, T + ``performance_days``] | data before T,
    and the label resolved).

    ``keys``: ``loan_id`` and ``time_column`` (the feature timestamp, midnight UTC of T) per row.
    """
    if keys.empty:
        return np.zeros(0)
    ts = pd.to_datetime(keys[time_column], utc=True)
    t_day = _epoch_days(ts.dt.tz_convert(None))
    uniq, inv = np.unique(keys["loan_id"].to_numpy(str), return_inverse=True)
    frame, due_l, paid_l, sched_l = _loan_frame(gt, uniq)
    due, paid, scheduled = due_l[inv], paid_l[inv], sched_l[inv]  # rows x installments
    exists = due >= 0
    t = t_day[:, None]
    age = t - due                                       # days the installment has been due at T
    observed = exists & (age >= 1)                      # due before T: paid before T or not (seen)
    paid_seen = observed & (paid < t)
    p_late = frame["p_late"].to_numpy()[inv][:, None]
    p_d, max_k = frame["p_default"].to_numpy()[inv], frame["max_k"].to_numpy()[inv]
    loss, hold = frame["loss"].to_numpy()[inv][:, None], frame["hold"].to_numpy()[inv][:, None]

    # likelihood of what is seen, per installment, if the loan pays it: its record lost (with `loss`),
    # or late (with p_late) by at least its days due
    late_unpaid = (1.0 - loss) * p_late * _p_still_unpaid(age)
    p_unpaid = loss + late_unpaid
    with np.errstate(divide="ignore"):
        log_f = np.where(observed, np.where(paid_seen, np.log1p(-p_unpaid), np.log(p_unpaid)), 0.0)
    n_k = due.shape[1]
    # stop at s (1-based, column s-1): installments before s paid as above; none from s on paid
    prefix = _prefix_sums(log_f)                        # sum over k < s
    paid_from = _any_from(paid_seen)                    # any paid k >= s
    s_idx = np.arange(1, n_k + 1)[None, :]
    stop_ok = (s_idx <= max_k[:, None]) & ~paid_from
    log_stop = np.where(stop_ok, prefix[:, :-1], -np.inf)
    log_pay = prefix[:, -1]
    with np.errstate(divide="ignore"):
        log_w0 = np.log1p(-p_d) + log_pay
        log_ws = np.log(p_d / max_k)[:, None] + log_stop
    top = np.maximum(log_w0, log_ws.max(axis=1))
    w0, ws = np.exp(log_w0 - top), np.exp(log_ws - top[:, None])

    # the label under each hypothesis. A relevant installment (min_dpd past due by T + window) paid by
    # the loan is seen unpaid in the lake min_dpd days after its due date (and after T) when its payment
    # record is lost or that late; one seen unpaid at T is lost or late by its days due already. A lost
    # record the lake can place (hold) holds the row back (q_hold); any other loss or lateness makes it
    # bad (q_bad). Under a stop at s, a relevant installment from s on is never paid: the label is
    # certain, as long as the lake knows one of them falls due (its schedule landed; without it, never
    # past due).
    relevant = exists & (due + min_dpd <= t + performance_days)
    lost_or_late = loss + late_unpaid * _p_still_unpaid(np.maximum(min_dpd, age + 1) - age + 1)
    future_bad = loss - hold + (1.0 - loss) * p_late * _p_still_unpaid(np.full_like(age, min_dpd))

    def seen(x: np.ndarray) -> np.ndarray:  # share of the seen-unpaid probability
        return np.divide(x, p_unpaid, out=np.zeros_like(p_unpaid), where=p_unpaid > 0)

    q_hold = np.where(paid_seen, 0.0, np.where(observed, seen(hold), hold))
    q_bad = np.where(paid_seen, 0.0, np.where(
        observed, np.where(p_unpaid > 0, seen(lost_or_late - hold), 1.0), future_bad))
    counted = relevant & scheduled

    def none_before(q: np.ndarray) -> np.ndarray:  # P(no counted installment k < s has q), per s
        with np.errstate(divide="ignore"):
            return np.exp(_prefix_sums(np.where(counted, np.log1p(-np.minimum(q, 1.0)), 0.0)))

    not_bad, good = none_before(q_bad), none_before(q_bad + q_hold)
    stuck = _any_from(counted)                          # a relevant installment the lake knows, from s on
    p_bad = w0 * (1.0 - not_bad[:, -1]) + (ws * (1.0 - np.where(stuck, 0.0, not_bad[:, :-1]))).sum(axis=1)
    p_good = w0 * good[:, -1] + (ws * np.where(stuck, 0.0, good[:, :-1])).sum(axis=1)
    p = p_bad / (p_bad + p_good)
    if not np.isfinite(p).all():  # history no hypothesis explains (or none leaves resolved): not this world
        bad = int(np.flatnonzero(~np.isfinite(p))[0])
        raise TruthUnavailable(f"loan {keys['loan_id'].iloc[bad]} at {ts.iloc[bad]}: its payments fit no "
                               "hypothesis of the generator's process")
    return p


def credit_default_posterior(bureau_scores: list[np.ndarray], annual_income: np.ndarray, burden: np.ndarray,
                             riskier_employment: np.ndarray, nodes: int = 40) -> np.ndarray:
    """E[p_default | what an application shows]: the Bayes-optimal predictor of the generator's default.

    The latent risk z ~ N(0, 1) is seen through each bureau score given (one array per report, NaN
    where a row has none; each a fresh draw of ``BUREAU_MEAN - BUREAU_SLOPE z + N(0, BUREAU_NOISE)``)
    and the annual income (``log income = INCOME_LOG_MEAN - INCOME_SLOPE z + N(0, INCOME_NOISE)``; NaN
    or <= 0: unknown). All are Gaussian in z, so its posterior is Gaussian; ``default_probability`` of
    z, the ``burden`` (log base-currency amount over income) and ``riskier_employment`` (0/1) is
    integrated over it by Gauss-Hermite quadrature. The generator's approval policy selects on the
    score and the burden only, so approved rows have the same posterior. Ignored: the clip of scores
    to 300..850 and the rare income updates (x U(0.9, 1.2)).
    """
    from riskpipe.sources import generator as g

    n = len(annual_income)
    prec, num = np.ones(n), np.zeros(n)
    lam_b = (g.BUREAU_SLOPE / g.BUREAU_NOISE) ** 2
    for v in bureau_scores:
        v = np.asarray(v, float)
        seen = ~np.isnan(v)
        prec += seen * lam_b
        num += np.where(seen, (g.BUREAU_MEAN - v) / g.BUREAU_SLOPE * lam_b, 0.0)
    inc = np.asarray(annual_income, float)
    seen = ~np.isnan(inc) & (inc > 0)
    lam_i = (g.INCOME_SLOPE / g.INCOME_NOISE) ** 2
    prec += seen * lam_i
    num += np.where(seen, (g.INCOME_LOG_MEAN - np.log(np.where(seen, inc, 1.0))) / g.INCOME_SLOPE * lam_i, 0.0)
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    z = (num / prec)[:, None] + x[None, :] / np.sqrt(prec)[:, None]
    p = g.default_probability(z, np.asarray(burden, float)[:, None], np.asarray(riskier_employment, float)[:, None])
    return (p * (w / w.sum())).sum(axis=1)
