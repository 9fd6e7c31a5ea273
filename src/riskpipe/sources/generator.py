"""Synthetic multi-source risk data that behaves like real feeds.

One latent risk per customer drives credit default, late payment and (with fraud-ring membership
and transaction context) card fraud. Every source is written in its own declared format (see
``sources.yml``) into ``<landing>/<source>/dt=<landing date>/``. The true probabilities of every
label go to a separate ground-truth tree so the best achievable AUC can be computed, and injected
defects are listed, one JSON line each, in ``<landing>/_manifest/defects.jsonl``.

Determinism: each (day, stream) pair draws from its own ``numpy`` generator seeded from
``(seed, day_index, stream)``, files are written with fixed writer options and row order, so the
same arguments produce byte-identical files. Work is vectorised per day (fixed-width strings assembled
as raw bytes, the rest with Arrow compute), so memory is bounded by one day's rows.

Row numbers in the manifest are 1-based data rows: the CSV header line is not counted, so row 1
is the first record (file line 2 of a CSV, line 1 of a JSONL file, row index 0 of a Parquet file).
Injected extra rows (duplicates, late arrivals) are appended after the day's regular rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import zlib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from riskpipe.errors import ConfigError
from riskpipe.sources.config import SourcesConfig, SourceSpec, load_sources

log = logging.getLogger(__name__)

DAY_S = 86_400
STREAMS = {name: i for i, name in enumerate(
    ["customers", "applications", "repayments", "transactions", "device_events", "bureau",
     "chargebacks", "defects", "updates"]
)}
REGIONS = np.array(["NORTH", "SOUTH", "EAST", "WEST", "CAPITAL"])
REGION_OFFSET_H = np.array([1, 2, 2, 0, 1])  # local UTC offsets by region
EMPLOYMENT = np.array(["employed", "self_employed", "unemployed", "retired", "student"])
PURPOSES = np.array(["car", "home_improvement", "debt_consolidation", "education", "medical", "other"])
APP_CHANNELS = np.array(["web", "app", "branch", "broker"])
TERMS = np.array([6, 12, 24, 36, 48, 60])
CURRENCIES = np.array(["EUR", "USD", "GBP"])
TXN_CHANNELS = np.array(["pos", "ecom", "atm", "p2p"])
COUNTRIES = np.array(["DE", "FR", "NL", "PL", "ES", "IT", "GB", "US", "NG", "RU"])
COUNTRY_LATLON = {
    "DE": (51.1, 10.4), "FR": (46.2, 2.2), "NL": (52.1, 5.3), "PL": (51.9, 19.1), "ES": (40.4, -3.7),
    "IT": (41.9, 12.6), "GB": (55.4, -3.4), "US": (37.1, -95.7), "NG": (9.1, 8.7), "RU": (61.5, 105.3),
}
MCCS = np.array(["5411", "5812", "5999", "4111", "5732", "7995", "6011", "4829", "5311", "5944"])
FIRST = np.array(["anna", "ben", "clara", "david", "eva", "felix", "greta", "hans", "ida", "jonas",
                  "karla", "lukas", "mia", "noah", "olga", "paul", "rosa", "sven", "tina", "uwe"])
LAST = np.array(["muller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker",
                 "schulz", "hoffmann", "koch", "richter", "klein", "wolf", "neumann", "braun"])
EVENT_TYPES = np.array(["login_success", "login_failure", "password_reset", "new_device"])
FRAUD_REASONS = np.array(["fraud_card_absent", "fraud_card_present", "account_takeover"])
DISPUTE_REASONS = np.array(["dispute_not_received", "dispute_quality"])


@dataclasses.dataclass(frozen=True)
class DefectRates:
    """Per-row rates of each injected defect kind (0 disables), plus the file-level defects."""

    exact_duplicate: float = 0.003
    near_duplicate: float = 0.002
    late_arriving: float = 0.004
    null_required: float = 0.002
    out_of_range: float = 0.002
    bad_timestamp: float = 0.002
    renamed_column: bool = True   # customers' `phone` header renamed on one day (needs days >= 5)
    truncated_file: bool = True   # one device_events file cut mid-line (needs days >= 5)

    @classmethod
    def clean(cls) -> DefectRates:
        return cls(0, 0, 0, 0, 0, 0, False, False)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    customers: int = 2_000
    days: int = 10
    start: dt.date = dt.date(2026, 1, 1)
    seed: int = 7
    txn_per_customer_day: float = 0.35
    installment_days: int = 30
    #: credit default truth: a defaulter's loan reaches credit_bad_dpd days past due within
    #: credit_window_days of the application (90 and 365: credit_pd's packaged label); smaller values
    #: compress credit time with installment_days, so a world of weeks has matured credit_pd labels
    credit_bad_dpd: int = 90
    credit_window_days: int = 365
    application_rate: float = 0.004      # applications per customer per day
    login_rate: float = 0.5              # device events per customer per day
    new_customer_rate: float = 0.002     # new registrations per existing customer per day
    ring_share: float = 0.01             # share of customers in fraud rings
    fraud_level: float = 0.0             # added to every transaction's fraud logit (0: ~0.5% fraud)
    chargeback_lag_days: tuple[int, int] = (7, 60)  # fraud reported this many days after the transaction
    defects: DefectRates = DefectRates()


@dataclasses.dataclass
class GenerationSummary:
    landing: Path
    ground_truth: Path
    start: dt.date
    end: dt.date
    rows: dict[str, int]
    files: int
    defects: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        d.update(landing=str(self.landing), ground_truth=str(self.ground_truth),
                 start=self.start.isoformat(), end=self.end.isoformat())
        return d


# ----------------------------------------------------------------------------------------------
# small vectorised formatting helpers
# ----------------------------------------------------------------------------------------------

def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints, as an (n, width) matrix of ASCII bytes."""
    v = np.asarray(v, np.int64)
    if len(v) and (v.min() < 0 or v.max() >= 10**width):
        raise ValueError(f"values outside [0, 10**{width}) cannot be written as {width} digits")
    pairs = (np.arange(100) // 10 + 48 + (np.arange(100) % 10 + 48) * 256).astype("<u2")  # "00".."99"
    out = np.empty((len(v), (width + 1) // 2), "<u2")
    for j in range(out.shape[1] - 1, -1, -1):  # two digits per division by a constant, last pair first
        v, rest = np.divmod(v, 100)
        out[:, j] = pairs[rest]
    return out.view(np.uint8)[:, width % 2:]


def _text(n: int, *parts: bytes | np.ndarray) -> pa.Array:
    """Fixed-width strings glued from pieces (a constant, or an (n, k) byte matrix per row), built as raw
    bytes: far faster than formatting per row or converting numpy unicode arrays."""
    mats = [np.broadcast_to(np.frombuffer(x, np.uint8), (n, len(x))) if isinstance(x, bytes) else x for x in parts]
    buf = np.concatenate(mats, axis=1)
    step = buf.shape[1]
    offsets = np.arange(0, (n + 1) * step, step, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(buf.tobytes()))


def _time_order(t: np.ndarray) -> np.ndarray:
    """``np.argsort(t, kind="stable")`` of integer times, as one sort of unique (time, position) keys:
    several times faster, and the same order."""
    n = len(t)
    if n == 0 or (int(t.max()) - int(t.min()) + 1) * n >= 2**62:
        return np.argsort(t, kind="stable")
    return np.sort((t - t.min()) * n + np.arange(n)) % n


def _ids(prefix: str, ints: np.ndarray, width: int) -> pa.Array:
    """Zero-padded ids ("C00001234")."""
    return _text(len(ints), prefix.encode(), _digits(ints, width))


def _pick(vocab: np.ndarray, idx: np.ndarray) -> pa.Array:
    """``vocab[idx]`` as Arrow strings: a take from the small vocabulary, not a numpy unicode copy."""
    return pa.array(vocab).take(pa.array(idx, pa.int64()))


def _take(arr: pa.Array | pa.Table, idx: np.ndarray) -> pa.Array | pa.Table:
    """``arr[idx]`` for an Arrow array (or table rows) and numpy indices."""
    return arr.take(pa.array(idx, pa.int64()))


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01."""
    d = np.asarray(days, np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    return (m.astype("datetime64[Y]").astype(np.int64) + 1970, m.astype(np.int64) % 12 + 1,
            (d - m).astype(np.int64) + 1)


def _date_bytes(days: np.ndarray, sep: bytes = b"-") -> np.ndarray:
    """Dates of days since 1970-01-01 as an (n, 8 or 10) byte matrix, formatted once per distinct day
    (a day range is small next to the rows) and gathered."""
    days = np.asarray(days, np.int64)
    lo = int(days.min()) if len(days) else 0
    span = np.arange(lo, int(days.max()) + 1 if len(days) else lo)
    y, m, d = _civil(span)
    table = np.concatenate([_digits(y, 4), np.broadcast_to(np.frombuffer(sep, np.uint8), (len(span), len(sep))),
                            _digits(m, 2), np.broadcast_to(np.frombuffer(sep, np.uint8), (len(span), len(sep))),
                            _digits(d, 2)], axis=1)
    return table[days - lo]


@functools.cache
def _clock() -> np.ndarray:
    """"HH:MM:SS" of every second of a day, each as the 8 bytes of one uint64 (gathered, not formatted)."""
    sec = np.arange(DAY_S)
    hms = np.concatenate([_digits(sec // 3600, 2), np.full((DAY_S, 1), ord(":"), np.uint8),
                          _digits(sec // 60 % 60, 2), np.full((DAY_S, 1), ord(":"), np.uint8),
                          _digits(sec % 60, 2)], axis=1)
    return np.ascontiguousarray(hms).view(np.uint64).ravel()


def _date(days: np.ndarray, sep: bytes = b"-") -> pa.Array:
    """Dates ("2026-01-31", or "20260131" with no separator) of days since 1970-01-01."""
    return _text(len(days), _date_bytes(days, sep))


def _iso(epoch_s: np.ndarray, offset_h: np.ndarray | int = 0, utc_z: bool = False) -> pa.Array:
    """ISO-8601 local times with their UTC offset ("2026-01-31T08:15:00+01:00"), or UTC with "Z"."""
    off = np.broadcast_to(np.asarray(offset_h, np.int64), np.shape(epoch_s))
    local = np.asarray(epoch_s, np.int64) + off * 3600
    days, sec = np.divmod(local, DAY_S)
    parts = [_date_bytes(days), b"T", _clock()[sec].view(np.uint8).reshape(-1, 8)]
    if utc_z:
        parts.append(b"Z")
    else:
        suffix = np.array([list(f"{'+' if h >= 0 else '-'}{abs(h):02d}:00".encode()) for h in range(-12, 15)],
                          np.uint8)
        parts.append(suffix[off + 12])
    return _text(len(local), *parts)


def _money(x: np.ndarray) -> pa.Array:
    """Amounts as text with two decimals ("12500.00"), as upstream systems send them."""
    cents = np.round(np.asarray(x, float) * 100).astype(np.int64)
    whole = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _luhn_cards(n: int, rng: np.random.Generator) -> pa.Array:
    body = rng.integers(0, 10, size=(n, 15)).astype(np.uint8)  # small ints: 8x less memory to sweep
    body[:, 0] = 4
    digits = body[:, ::-1]
    dbl = digits[:, 0::2] * 2
    dbl = np.where(dbl > 9, dbl - 9, dbl)
    total = dbl.sum(1, dtype=np.int64) + digits[:, 1::2].sum(1, dtype=np.int64)
    check = (10 - total % 10) % 10
    return _text(n, body + 48, (check[:, None] + 48).astype(np.uint8))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ip(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> pa.Array:
    parts = [pc.cast(pa.array(v.astype(np.int64)), pa.string()) for v in (a, b, c, d)]
    return pc.binary_join_element_wise(*parts, ".")


#: a late payment's days late: geometric with this success probability (support 1, 2, ...)
LATE_DAYS_P = 0.25


#: a bureau report's score: BUREAU_MEAN - BUREAU_SLOPE * z + N(0, BUREAU_NOISE), clipped to 300..850
BUREAU_MEAN, BUREAU_SLOPE, BUREAU_NOISE = 690, 55, 25
#: annual income: exp(INCOME_LOG_MEAN - INCOME_SLOPE * z + N(0, INCOME_NOISE))
INCOME_LOG_MEAN, INCOME_SLOPE, INCOME_NOISE = 10.6, 0.25, 0.35
#: the employment status whose applicants default more (index into EMPLOYMENT)
RISKIER_EMPLOYMENT = 2


def default_probability(z: np.ndarray, burden: np.ndarray, riskier_employment: np.ndarray) -> np.ndarray:
    """An application's true probability of default: latent risk ``z``, affordability ``burden`` (log of
    the base-currency amount over annual income) and whether the applicant is ``RISKIER_EMPLOYMENT``."""
    return _sigmoid(-3.0 + 1.25 * z + 0.35 * burden + 0.15 * riskier_employment)


def late_probability(z: np.ndarray) -> np.ndarray:
    """The probability that a loan pays an installment late, from its customer's latent risk."""
    return np.clip(0.05 + 0.12 * z, 0.0, 0.6)


def stop_installment_bound(n_inst: np.ndarray, installment_days: np.ndarray | int, bad_dpd: np.ndarray | int,
                           window_days: np.ndarray | int) -> np.ndarray:
    """The last installment a defaulter may stop paying at (drawn uniformly from 1 .. this), so its
    loan reaches ``bad_dpd`` days past due within ``window_days`` of the application, a day to spare."""
    return np.maximum(1, np.minimum(n_inst, (window_days - bad_dpd - 1) // installment_days))


#: defect kinds that keep a landed row out of the lake: quarantined (a required value null, a value out
#: of range, an unparseable timestamp) or never delivered (arriving after the world's last day)
LOST_KINDS = frozenset({"null_required", "out_of_range", "bad_timestamp", "late_beyond_window"})


def _quarantine_probability(defects: DefectRates) -> float:
    """P(a record is quarantined): a null in a required value, a value out of range or a bad timestamp
    (each defect picks a day's rows independently at its rate)."""
    return 1.0 - (1.0 - defects.null_required) * (1.0 - defects.out_of_range) * (1.0 - defects.bad_timestamp)


def payment_loss_probability(defects: DefectRates) -> float:
    """P(a payment record does not reach the lake as the payment of its installment): quarantined (a
    null in one of loan_id, record_type, amount, event_at; an amount out of range; a bad timestamp),
    or superseded by its near duplicate, which moves it to the next installment (the lake keeps a
    record's later version)."""
    return 1.0 - (1.0 - _quarantine_probability(defects)) * (1.0 - defects.near_duplicate)


#: the columns that place a repayment record at its loan's installment
PLACING_COLUMNS = ("loan_id", "installment_no")


def _nullable_required(spec: SourceSpec) -> list[str]:
    """The columns the null_required defect picks from (uniformly)."""
    return [c for c in spec.required_columns if c not in spec.keys and c != "geo"]


def payment_hold_probability(defects: DefectRates, spec: SourceSpec) -> float:
    """P(a payment record is quarantined with the loan and installment it pays intact): the part of
    :func:`payment_loss_probability` the lake can place, so its labels hold back the installment's
    outcome instead of calling it unpaid. A null in a placing column quarantines the record unplaced."""
    required = _nullable_required(spec)
    unplaced = defects.null_required * sum(c in PLACING_COLUMNS for c in required) / len(required) if required else 0
    return _quarantine_probability(defects) - unplaced


def _landed_installments(inst: pa.Table, defect_log: list[dict[str, object]]) -> pa.Table:
    """``inst`` (loan_id, installment_no, due_date, paid_date) with what the lake is told of each:
    ``landed_paid_date``, the first date paid among the payment records that land intact (a record
    lost to a defect leaves its installment unpaid; a near duplicate's moves its date to the next
    installment), and ``schedule_landed``, whether its schedule record landed intact (without it, the
    lake does not know the installment falls due); and ``payment_quarantined``, whether a record of its
    payment was quarantined with its loan and installment intact (the labels hold such an installment
    back)."""
    quarantined: dict[str, set[tuple[str, int]]] = {"P": set(), "S": set()}
    near: dict[str, set[tuple[str, int]]] = {"P": set(), "S": set()}
    placed: set[tuple[str, int]] = set()  # payment records quarantined with loan and installment intact
    unplaced: set[tuple[str, int]] = set()
    for rec in defect_log:
        key = rec.get("key")
        if rec.get("source") != "repayments" or not isinstance(key, str) or key[:2] not in ("P-", "S-"):
            continue
        loan, k = key[2:].rsplit("-", 1)
        if rec["kind"] in LOST_KINDS:
            quarantined[key[0]].add((loan, int(k)))
            if key[0] == "P" and rec["kind"] != "late_beyond_window":
                (unplaced if rec.get("column") in PLACING_COLUMNS else placed).add((loan, int(k)))
        elif rec["kind"] == "near_duplicate":
            near[key[0]].add((loan, int(k)))
    lost = {kind: quarantined[kind] | near[kind] for kind in ("P", "S")}
    keys = list(zip(inst["loan_id"].to_pylist(), inst["installment_no"].to_pylist(), strict=True))
    paid = inst["paid_date"].cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.float64)  # NaN: never
    row = {key: i for i, key in enumerate(keys)}
    landed = paid.copy()
    for key in lost["P"]:
        if key in row:
            landed[row[key]] = np.nan
    # a near duplicate is copied from its record as landed: one of a quarantined record is quarantined too
    for loan, k in sorted(near["P"] - quarantined["P"]):
        src, dst = row.get((loan, k)), row.get((loan, k + 1))
        if src is not None and dst is not None:
            landed[dst] = np.fmin(landed[dst], paid[src])
    schedule = np.array([key not in lost["S"] for key in keys], bool)
    # the near duplicate of a placed record is quarantined too, placed at the next installment
    held_keys = (placed - unplaced) | {(loan, k + 1) for loan, k in near["P"] & (placed - unplaced)}
    held = np.array([key in held_keys for key in keys], bool)
    valid = ~np.isnan(landed)
    days = pa.array(np.where(valid, landed, 0).astype(np.int32), mask=~valid).cast(pa.date32())
    return (inst.append_column("landed_paid_date", days).append_column("schedule_landed", pa.array(schedule))
            .append_column("payment_quarantined", pa.array(held)))


def _late_days_and_jitter(r: np.random.Generator, late_prob: np.ndarray, low: int, high: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Per payment, in stream order: days late (geometric, if a uniform falls under its late probability)
    and a jitter in [low, high): the draws of ``r.random()``, ``r.geometric(0.25)``, ``r.integers(low, high)``
    one payment at a time, at a third of their per-call cost.

    The uniform and the integer are computed from the PCG64 raw words exactly as numpy does (a 53-bit
    double; Lemire's bounded integer on buffered 32-bit halves, the buffer carried in the generator's
    state), so output stays byte-identical to the per-call loop; tests/unit pin this against ``r``.
    """
    bg = r.bit_generator
    state = bg.state
    has, buf = state["has_uint32"], state["uinteger"]
    raw, geometric = bg.random_raw, r.geometric
    span, mask32, scale = high - low, 0xFFFFFFFF, 1.0 / 9007199254740992.0
    threshold = (mask32 - (span - 1)) % span
    delay, jitter = [], []
    for p_late in late_prob.tolist():
        delay.append(int(geometric(LATE_DAYS_P)) if (raw() >> 11) * scale < p_late else 0)
        while True:
            if has:
                x, has = buf, 0
            else:
                w = raw()
                x, buf, has = w & mask32, w >> 32, 1
            m = x * span
            if m & mask32 >= threshold:  # rejection keeps the integer unbiased (rarely taken)
                break
        jitter.append(low + (m >> 32))
    state = bg.state
    state["has_uint32"], state["uinteger"] = has, buf
    bg.state = state
    return np.array(delay, np.int64), np.array(jitter, np.int64)


def _repay_table(kind: str, loan_ids: pa.Array, loan: np.ndarray, k: np.ndarray, width: int,
                 due_date: pa.Array | None, amount: np.ndarray, event_s: np.ndarray) -> pa.Table:
    """Repayment records of instalments ``k`` of loans ``loan``: schedule rows ("S") or payments ("P")."""
    n = len(loan)
    lid = loan_ids.take(pa.array(loan, pa.int64()))
    k_txt = pc.utf8_lpad(pc.cast(pa.array(k, pa.int64()), pa.string()), width, "0")
    return pa.table({
        "record_id": pc.binary_join_element_wise(pa.scalar(kind), lid, k_txt, "-"),
        "loan_id": lid,
        "record_type": pa.repeat(pa.scalar("schedule" if kind == "S" else "payment"), n),
        "installment_no": pa.array(k, pa.int64()),
        "due_date": due_date if due_date is not None else pa.nulls(n, pa.string()),
        "amount": pa.array(amount[loan], pa.float64()),
        "event_at": _iso(event_s, utc_z=True),
    })


# ----------------------------------------------------------------------------------------------
# population
# ----------------------------------------------------------------------------------------------

class Population:
    """Customers with their latent risk, PII, devices and ring membership (grows day by day)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        cap = int(cfg.customers * (1 + cfg.new_customer_rate * cfg.days * 1.5)) + 16
        if cap >= 10**8:
            raise ConfigError(f"{cfg.customers:,} customers over {cfg.days} days (with new registrations) do not fit "
                              "the 8 digits of customer_id (C00000001)")
        rng = np.random.default_rng([cfg.seed, 10_000])
        self.n = 0
        self.cap = cap
        self.z = rng.normal(size=cap)                            # latent risk (higher = riskier)
        self.region = rng.integers(0, len(REGIONS), cap)
        self.employment = rng.choice(len(EMPLOYMENT), cap, p=[0.62, 0.12, 0.08, 0.12, 0.06])
        self.income = np.round(np.exp(INCOME_LOG_MEAN - INCOME_SLOPE * self.z + rng.normal(0, INCOME_NOISE, cap)), 2)
        self.dob = (np.datetime64("1950-01-01") + rng.integers(0, 365 * 52, cap)).astype("datetime64[D]")
        self.reg_s = (np.datetime64(cfg.start, "s").astype(np.int64)
                      - rng.integers(30, 365 * 8, cap) * DAY_S - rng.integers(0, DAY_S, cap))
        # a bijection of the index (999_999_937 is prime, coprime to the modulus): unique national ids
        perm = (np.arange(cap, dtype=np.int64) * 999_999_937 + int(rng.integers(0, 10**8))) % (9 * 10**8) + 10**8
        # PII as Arrow strings: each day takes its rows, nothing is formatted or converted per row
        self.national_id = _ids("NI", perm, 9)
        self.phone = _ids("+49 151 ", rng.integers(10**6, 10**7, cap), 7)
        self.name = pc.binary_join_element_wise(
            _pick(np.char.capitalize(FIRST), rng.integers(0, len(FIRST), cap)),
            _pick(np.char.capitalize(LAST), rng.integers(0, len(LAST), cap)), " ")
        self.card = _luhn_cards(cap, rng)
        self.device = rng.integers(10**8, 10**9, cap)             # own device
        self.home_ip = rng.integers(0, 2**24, cap)
        self.spend = np.exp(rng.normal(3.3, 0.6, cap))             # typical ticket size
        self.activity = rng.gamma(2.0, 0.5, cap)                   # transaction intensity
        self.night_pref = _sigmoid(-2.5 + 0.6 * self.z + rng.normal(0, 0.5, cap))
        n_ring = int(cfg.ring_share * cap)
        self.ring = np.full(cap, -1)
        ring_members = rng.choice(cap, n_ring, replace=False) if n_ring else np.array([], int)
        self.ring[ring_members] = rng.integers(0, max(1, n_ring // 5), n_ring)
        self.ring_device = 900_000_000 + np.arange(max(1, n_ring // 5) + 1)
        self.ring_ip = rng.integers(0, 2**24, max(1, n_ring // 5) + 1)
        self.public_ips = rng.integers(0, 2**24, 5)
        self.n = cfg.customers

    def grow(self, k: int) -> np.ndarray:
        k = min(k, self.cap - self.n)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        return idx


# ----------------------------------------------------------------------------------------------
# the generator
# ----------------------------------------------------------------------------------------------

class Generator:
    def __init__(self, cfg: GeneratorConfig, landing: Path, ground_truth: Path,
                 sources: SourcesConfig | None = None) -> None:
        self.cfg = cfg
        self.landing = Path(landing)
        self.gt = Path(ground_truth)
        self.sources = sources or load_sources()
        self.pop = Population(cfg)
        self.pending: dict[int, dict[str, list[pa.Table]]] = defaultdict(lambda: defaultdict(list))
        self.loans: list[pa.Table] = []  # one table of booked loans per day
        self.installments: list[pa.Table] = []  # their installments: due date, date paid (if ever)
        self.apps_truth: list[pa.Table] = []
        self.active_loan_customers: set[int] = set()
        self.defect_log: list[dict[str, object]] = []
        self.rows: dict[str, int] = defaultdict(int)
        self.files = 0
        # raw PII written, as customer indices per column (+ superseded phone numbers): cheap to track
        self.pii_idx: dict[str, np.ndarray] = {c: np.zeros(0, bool) for c in
                                               ("national_id", "phone", "full_name", "card_number")}
        self.old_phones: list[str] = []
        self.start_s = int(np.datetime64(cfg.start, "s").astype(np.int64))
        d = cfg.days
        self.rename_day = d // 2 if (cfg.defects.renamed_column and d >= 5) else -1
        self.truncate_day = d // 2 + 1 if (cfg.defects.truncated_file and d >= 5) else -1

    def _seen(self, col: str, idx: np.ndarray) -> None:
        mask = self.pii_idx[col]
        if len(mask) < self.pop.cap:
            mask = self.pii_idx[col] = np.concatenate([mask, np.zeros(self.pop.cap - len(mask), bool)])
        mask[idx] = True

    def rng(self, day: int, stream: str) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, day, STREAMS[stream]])

    def day_s(self, d: int) -> int:
        return self.start_s + d * DAY_S

    # -- customers ---------------------------------------------------------------------------
    def customers(self, d: int) -> pa.Table:
        p, r = self.pop, self.rng(d, "customers")
        if d == 0:
            idx = np.arange(p.n)
            upd = self.day_s(0) + r.integers(0, DAY_S, len(idx))
        else:
            new = p.grow(int(r.poisson(p.n * self.cfg.new_customer_rate)))
            p.reg_s[new] = self.day_s(d) + r.integers(0, DAY_S, len(new))
            changed = r.choice(p.n - len(new), int(r.poisson(max(1, p.n * 0.0005))), replace=False)
            # a phone change or an income update: a newer version of an existing key
            ph_change = changed[r.random(len(changed)) < 0.5]
            if len(self.pii_idx["phone"]):
                self.old_phones.extend(_take(p.phone, ph_change[self.pii_idx["phone"][ph_change]]).to_pylist())
            new_phone = _ids("+49 152 ", r.integers(10**6, 10**7, len(ph_change)), 7)
            mask = np.zeros(len(p.phone), bool)
            mask[ph_change] = True  # replace_with_mask fills the masked rows in index order
            p.phone = pc.replace_with_mask(p.phone, pa.array(mask), _take(new_phone, np.argsort(ph_change)))
            p.income[changed] = np.round(p.income[changed] * r.uniform(0.9, 1.2, len(changed)), 2)
            idx = np.concatenate([new, changed])
            upd = np.concatenate([p.reg_s[new], self.day_s(d) + r.integers(0, DAY_S, len(changed))])
        order = _time_order(upd)
        idx, upd = idx[order], upd[order]
        off = REGION_OFFSET_H[p.region[idx]]
        for col in ("national_id", "phone", "full_name"):
            self._seen(col, idx)
        return pa.table({
            "customer_id": _ids("C", idx + 1, 8),
            "national_id": _take(p.national_id, idx),
            "phone": _take(p.phone, idx),
            "full_name": _take(p.name, idx),
            "date_of_birth": _date(p.dob[idx].astype(np.int64)),
            "region": _pick(REGIONS, p.region[idx]),
            "employment_status": _pick(EMPLOYMENT, p.employment[idx]),
            "annual_income": _money(p.income[idx]),
            "registered_at": _iso(p.reg_s[idx], off),
            "updated_at": _iso(upd, off),
        })

    # -- applications, loans, repayments, bureau at application -------------------------------
    def applications(self, d: int) -> pa.Table:
        p, r, cfg = self.pop, self.rng(d, "applications"), self.cfg
        n = int(r.poisson(p.n * cfg.application_rate))
        cust = r.choice(p.n, n, replace=False) if n <= p.n else r.integers(0, p.n, n)
        applied = np.sort(self.day_s(d) + r.integers(6 * 3600, 22 * 3600, n))
        decided = applied + r.integers(60, 3 * 3600, n)
        z = p.z[cust]
        amount = np.round(np.exp(r.normal(9.0, 0.7, n)) / 100) * 100 + 500
        currency = np.where(r.random(n) < 0.93, 0, r.integers(1, 3, n))
        fx = np.array([1.0, 0.92, 1.17])[currency]
        term = TERMS[r.integers(0, len(TERMS), n)]
        income = p.income[cust]
        declared = np.round(income * r.uniform(0.95, 1.15, n), 2)
        bureau_score = np.clip(np.round(BUREAU_MEAN - BUREAU_SLOPE * z + r.normal(0, BUREAU_NOISE, n)), 300, 850)
        burden = np.log((amount * fx) / np.maximum(income, 1))
        # the true probability of default (90+ DPD within 12 months): latent risk + affordability
        p_default = default_probability(z, burden, p.employment[cust] == RISKIER_EMPLOYMENT)
        policy = (bureau_score - 650) / 50 - 0.8 * (burden + 1.5) + r.normal(0, 0.6, n)
        approved = policy > -0.3
        defaulted = r.random(n) < p_default
        app_ids = np.arange(n) + d * 1_000_000 + 1
        loan_ids = np.where(approved, app_ids, 0)
        rate = np.round(np.clip(0.04 + 0.05 * _sigmoid(z) + r.normal(0, 0.005, n), 0.01, 0.35), 4)
        off = REGION_OFFSET_H[p.region[cust]]
        tbl = pa.table({
            "application_id": _ids("A", app_ids, 9),
            "customer_id": _ids("C", cust + 1, 8),
            "applied_at": _iso(applied, off),
            "decided_at": _iso(decided, off),
            "requested_amount": _money(amount),
            "currency": CURRENCIES[currency],
            "term_months": pa.array(term, pa.int64()),
            "purpose": PURPOSES[r.integers(0, len(PURPOSES), n)],
            "channel": APP_CHANNELS[r.integers(0, len(APP_CHANNELS), n)],
            "declared_income": _money(declared),
            "decision": np.where(approved, "approved", "declined"),
            "loan_id": pa.array(np.where(approved, pc.binary_join_element_wise(
                pa.scalar("L"), pc.utf8_lpad(pc.cast(pa.array(loan_ids), pa.string()), 9, "0"), "").to_numpy(
                zero_copy_only=False), None), pa.string()),
            "interest_rate": pa.array(np.where(approved, rate, np.nan), pa.float64(), mask=~approved),
        })
        # performance: defaulters stop paying at installment k (credit_bad_dpd+ DPD reached within
        # credit_window_days of the application day, by default 90+ within 12 months); a day of slack,
        # as installments fall due from the decision, which can be past midnight
        inst, bad_dpd, window = cfg.installment_days, cfg.credit_bad_dpd, cfg.credit_window_days
        n_inst = np.maximum(1, np.round(term * 30 / inst).astype(int))
        max_k = stop_installment_bound(n_inst, inst, bad_dpd, window)
        stop_k = np.where(defaulted, 1 + (r.random(n) * max_k).astype(int), 10**6)
        first_missed_due = decided + stop_k * inst * DAY_S
        default_date = np.where(defaulted, first_missed_due + bad_dpd * DAY_S, -1)
        self.apps_truth.append(pa.table({
            "application_id": tbl["application_id"], "customer_id": tbl["customer_id"],
            "applied_at": pa.array(applied.astype("datetime64[s]")), "decision": tbl["decision"],
            "p_default_12m": p_default, "default_12m": defaulted,
            "default_date": pa.array(np.where(defaulted, default_date, 0).astype("datetime64[s]"),
                                     mask=~defaulted),
            # what p_default_12m / default_12m are of (the names stay those of the 90/365 default)
            "default_min_dpd": pa.array(np.full(n, bad_dpd), pa.int64()),
            "default_window_days": pa.array(np.full(n, window), pa.int64()),
        }))
        lat = np.flatnonzero(approved)
        if len(lat):
            self._book_loans(d, lat, cust, tbl, decided, amount * fx, rate, n_inst, stop_k, z, r)
        self._bureau_at_application(d, cust, applied, z, bureau_score, r)
        return tbl

    def _book_loans(self, d, lat, cust, tbl, decided, principal, rate, n_inst, stop_k, z, r) -> None:
        """Book approved loans: schedules (delivered on the booking day) and the payments that follow.

        Vectorised over loans x instalments; only the per-payment draws stay in a loop, so the stream
        is consumed in the same order as one loan, one instalment at a time.
        """
        inst_days, horizon = self.cfg.installment_days, self.cfg.days
        loan_ids = pa.array(tbl["loan_id"].to_numpy(zero_copy_only=False)[lat], pa.string())
        k_n = n_inst[lat].astype(np.int64)
        # the instalment per loan in numpy scalar arithmetic, as it always was: a vectorised power can
        # differ in the last bit, and the amounts are written to the files
        amt = np.array([round(float(principal[i]) * (m / (1 - (1 + m) ** -k)) if m > 0 else principal[i] / k, 2)
                        for i, k, m in zip(lat.tolist(), k_n.tolist(), rate[lat] * inst_days / 365, strict=True)],
                       np.float64)
        book = decided[lat].astype(np.int64)
        loan = np.repeat(np.arange(len(lat)), k_n)                      # one row per instalment
        k = np.arange(len(loan)) - np.repeat(np.cumsum(k_n) - k_n, k_n) + 1
        due = book[loan] + k * inst_days * DAY_S
        paid = np.flatnonzero(k < stop_k[lat][loan])                     # defaulters stop paying
        delay, jitter = _late_days_and_jitter(r, late_probability(z[lat])[loan[paid]],
                                              8 * 3600, 20 * 3600)
        pay_at = due[paid] + delay * DAY_S + jitter - due[paid] % DAY_S
        # the schedule is delivered with the day the loan was booked: a decision after midnight lands the
        # next day (delivered with the application day, its rows would be known before they happened)
        sched_day = np.maximum(d, (book - self.start_s) // DAY_S)[loan]
        sched = _repay_table("S", loan_ids, loan, k, 3, _date(due // DAY_S), amt, book[loan])
        pay = _repay_table("P", loan_ids, loan[paid], k[paid], 4, None, amt, pay_at)
        pay_day = (pay_at - self.start_s) // DAY_S
        for part, on_day in ((sched, sched_day), (pay, pay_day)):
            for day in np.unique(on_day[on_day < horizon]).tolist():
                self.pending[day]["repayments"].append(part.filter(pa.array(on_day == day)))
        paid_day = np.full(len(loan), -1, np.int64)
        paid_day[paid] = pay_at // DAY_S
        self.installments.append(pa.table({
            "loan_id": loan_ids.take(pa.array(loan, pa.int64())), "installment_no": pa.array(k, pa.int64()),
            "due_date": pa.array(due // DAY_S, pa.int64()).cast(pa.int32()).cast(pa.date32()),
            "paid_date": pa.array(paid_day, pa.int64(), mask=paid_day < 0).cast(pa.int32()).cast(pa.date32()),
        }))
        self.active_loan_customers.update(cust[lat].tolist())
        self.loans.append(pa.table({
            "loan_id": loan_ids, "application_id": tbl["application_id"].take(pa.array(lat)), "booked_at": book,
            "n_installments": k_n, "installment": amt,
            "stop_installment": np.where(stop_k[lat] < 10**6, stop_k[lat], -1).astype(np.int64),
            "hazard": _sigmoid(-3.0 + 1.25 * z[lat]) / (365 / inst_days),
        }))

    def _bureau_at_application(self, d, cust, applied, z, score, r) -> None:
        lag = r.integers(0, 4, len(cust))
        tbl = self._bureau_rows(d, cust, applied // DAY_S * DAY_S, z, score, r, "H")
        for lg in np.unique(lag):
            if d + lg < self.cfg.days:
                self.pending[int(d + lg)]["bureau"].append(tbl.filter(pa.array(lag == lg)))

    def _bureau_rows(self, d, cust, as_of_s, z, score, r, kind) -> pa.Table:
        n = len(cust)
        self._seen("national_id", cust)
        return pa.table({
            "report_id": _ids(f"B{kind}", np.arange(n) + d * 1_000_000 + 1, 9),
            "national_id": _take(self.pop.national_id, cust),
            "as_of_date": _date(np.asarray(as_of_s) // DAY_S, b""),
            "bureau_score": pc.cast(pa.array(score.astype(np.int64)), pa.string()),
            "open_accounts": pc.cast(pa.array(r.poisson(3 + np.exp(0.3 * z))), pa.string()),
            "total_balance": _money(np.exp(r.normal(8.5 + 0.3 * z, 1.0))),
            "delinquencies_24m": pc.cast(pa.array(r.poisson(np.exp(-1.5 + 0.9 * z))), pa.string()),
            "inquiries_6m": pc.cast(pa.array(r.poisson(np.exp(0.2 + 0.4 * z))), pa.string()),
            "oldest_account_months": pc.cast(pa.array(r.integers(6, 400, n)), pa.string()),
        })

    def bureau_refresh(self, d: int) -> None:
        day = self.cfg.start + dt.timedelta(days=d)
        if day.day != 1 or not self.active_loan_customers:
            return
        r = self.rng(d, "bureau")
        cust = np.array(sorted(self.active_loan_customers))
        z = self.pop.z[cust]
        score = np.clip(np.round(BUREAU_MEAN - BUREAU_SLOPE * z + r.normal(0, BUREAU_NOISE, len(cust))), 300, 850)
        tbl = self._bureau_rows(d + 500, cust, np.full(len(cust), self.day_s(d)), z, score, r, "M")
        lag = int(r.integers(1, 4))
        if d + lag < self.cfg.days:
            self.pending[d + lag]["bureau"].append(tbl)

    # -- transactions and chargebacks ---------------------------------------------------------
    def transactions(self, d: int) -> tuple[pa.Table, pa.Table]:
        p, r, cfg = self.pop, self.rng(d, "transactions"), self.cfg
        counts = r.poisson(cfg.txn_per_customer_day * p.activity[: p.n])
        cust = np.repeat(np.arange(p.n), counts)
        n = len(cust)
        z, ring = p.z[cust], p.ring[cust]
        night = r.random(n) < p.night_pref[cust]
        hour = np.where(night, r.integers(0, 6, n), r.integers(7, 24, n))
        ts_ms = (self.day_s(d) + hour * 3600 + r.integers(0, 3600, n)) * 1000 + r.integers(0, 1000, n)
        chan = r.choice(4, n, p=[0.55, 0.35, 0.06, 0.04])
        xborder = r.random(n) < (0.06 + 0.08 * (ring >= 0))
        country = np.where(xborder, r.integers(1, len(COUNTRIES), n), 0)
        amount = np.round(p.spend[cust] * np.exp(r.normal(0, 0.7, n)) * (1 + 2.0 * (ring >= 0) * r.random(n)), 2)
        new_dev = (chan == 1) & (r.random(n) < 0.03 + 0.3 * (ring >= 0))
        device = np.where(ring >= 0, p.ring_device[np.maximum(ring, 0)], p.device[cust])
        device = np.where(new_dev & (ring < 0), r.integers(10**8, 10**9, n), device)
        n_merch = max(200, p.n // 20)
        merchant = np.where(r.random(n) < 0.8, (cust * 7919) % n_merch, r.integers(0, n_merch, n))
        # true fraud probability: latent risk + ring + the context of this very transaction
        logit = (-7.0 + cfg.fraud_level + 0.45 * z + 2.5 * (ring >= 0) + 1.4 * night + 1.0 * (chan == 1) + 1.5 * xborder
                 + 1.8 * new_dev + 0.4 * np.log1p(amount / p.spend[cust]))
        p_fraud = _sigmoid(logit)
        is_fraud = r.random(n) < p_fraud
        currency = np.where(xborder & (COUNTRIES[country] == "GB"), 2,
                            np.where(xborder & (COUNTRIES[country] == "US"), 1, 0))
        fx = np.array([1.0, 0.92, 1.17])[currency]
        minor = np.maximum(1, np.round(amount / fx * 100)).astype(np.int64)
        # rows in time order: permute the numbers first, then format (cheaper than taking built strings)
        o = _time_order(ts_ms)
        ids = np.arange(n) + d * 100_000_000 + 1
        self._seen("card_number", cust)
        txn_ids = _ids("T", ids[o], 13)
        tbl = pa.table({
            "txn_id": txn_ids,
            "cust_no": pa.array(cust[o] + 1, pa.int64()),
            "card_number": _take(p.card, cust[o]),
            "ts_ms": pa.array(ts_ms[o], pa.int64()),
            "amount_minor": pa.array(minor[o], pa.int64()),
            "currency": _pick(CURRENCIES, currency[o]),
            "merchant_id": _ids("M", merchant[o], 7),
            "merchant_category": _pick(MCCS, merchant[o] % len(MCCS)),
            "merchant_country": _pick(COUNTRIES, country[o]),
            "channel": _pick(TXN_CHANNELS, chan[o]),
            "device_id": pc.if_else(pa.array(chan[o] == 1), _ids("D", device[o], 9), pa.scalar(None, pa.string())),
        })
        truth = pa.table({"txn_id": txn_ids, "customer_id": _ids("C", cust[o] + 1, 8),
                          "ts": pa.array((ts_ms[o] // 1000).astype("datetime64[s]")),
                          "p_fraud": p_fraud[o], "is_fraud": is_fraud[o]})
        self._chargebacks(d, np.flatnonzero(is_fraud), np.flatnonzero(~is_fraud), ids, ts_ms, minor, currency, r)
        return tbl, truth

    def _chargebacks(self, d, fraud_idx, clean_idx, ids, ts_ms, minor, currency, r) -> None:
        reported = fraud_idx[r.random(len(fraud_idx)) < 0.85]
        disputes = clean_idx[r.random(len(clean_idx)) < 0.0005]
        idx = np.concatenate([reported, disputes])
        if not len(idx):
            return
        reason = np.concatenate([FRAUD_REASONS[r.integers(0, 3, len(reported))],
                                 DISPUTE_REASONS[r.integers(0, 2, len(disputes))]])
        lo, hi = self.cfg.chargeback_lag_days
        lag_days = r.integers(lo, hi + 1, len(idx))
        rep_s = ts_ms[idx] // 1000 + lag_days * DAY_S + r.integers(0, DAY_S, len(idx))
        land = (rep_s - self.start_s) // DAY_S
        tbl = pa.table({
            "chargeback_id": _ids("CB", idx + d * 100_000_000 + 1, 13),
            "txn_id": _ids("T", ids[idx], 13),
            "reported_at": _iso(rep_s, utc_z=True),
            "reason_code": reason,
            "amount_minor": pa.array(minor[idx], pa.int64()),
            "currency": _pick(CURRENCIES, currency[idx]),
        })
        for ld in np.unique(land):
            if ld < self.cfg.days:
                self.pending[int(ld)]["chargebacks"].append(tbl.filter(pa.array(land == ld)))

    # -- device events -------------------------------------------------------------------------
    def device_events(self, d: int) -> pa.Table:
        p, r = self.pop, self.rng(d, "device_events")
        counts = r.poisson(self.cfg.login_rate, p.n)
        cust = np.repeat(np.arange(p.n), counts)
        n = len(cust)
        ring = p.ring[cust]
        ts = (self.day_s(d) + r.integers(0, DAY_S, n)) * 1000 + r.integers(0, 1000, n)
        kind = r.choice(4, n, p=[0.86, 0.08, 0.02, 0.04])
        new_dev = kind == 3
        device = np.where(ring >= 0, np.where(r.random(n) < 0.6, p.ring_device[np.maximum(ring, 0)],
                                              p.device[cust]), p.device[cust])
        device = np.where(new_dev, r.integers(10**8, 10**9, n), device)
        ipn = np.where(ring >= 0, p.ring_ip[np.maximum(ring, 0)], p.home_ip[cust])
        public = r.random(n) < 0.03
        ipn = np.where(public, p.public_ips[r.integers(0, len(p.public_ips), n)], ipn)
        ctry = np.where(r.random(n) < 0.05 + 0.3 * (ring >= 0), r.integers(1, len(COUNTRIES), n), 0)
        lat = np.array([COUNTRY_LATLON[c][0] for c in COUNTRIES])[ctry] + r.normal(0, 1, n)
        lon = np.array([COUNTRY_LATLON[c][1] for c in COUNTRIES])[ctry] + r.normal(0, 1, n)
        mask = r.random(n) < 0.02
        o = _time_order(ts)  # rows in time order: permute the numbers, then format
        geo = pa.StructArray.from_arrays(
            [_pick(COUNTRIES, ctry[o]), pa.array(np.round(lat, 4)[o]), pa.array(np.round(lon, 4)[o])],
            names=["country", "lat", "lon"], mask=pa.array(mask[o]))
        ipn = ipn[o]
        return pa.table({
            "event_id": _ids("E", o + d * 100_000_000 + 1, 13),
            "customer_id": _ids("C", cust[o] + 1, 8),
            "ts": pa.array(ts[o], pa.int64()),
            "event_type": _pick(EVENT_TYPES, kind[o]),
            "device_id": _ids("D", device[o], 9),
            "ip": _ip(ipn >> 16 & 255 | 64, ipn >> 8 & 255, ipn & 255, (ipn * 7) % 250 + 1),
            "geo": geo,
        })

    # -- defects -------------------------------------------------------------------------------
    def inject(self, d: int, spec: SourceSpec, tbl: pa.Table, file: str) -> tuple[pa.Table, list[dict]]:
        """Apply per-row defects to one day's table (vectorised; extra rows appended at the end)."""
        rates, r = self.cfg.defects, self.rng(d * 31 + zlib.crc32(spec.name.encode()) % 31, "defects")
        n = tbl.num_rows
        recs: list[dict] = []
        if n == 0:
            return tbl, recs
        day = (self.cfg.start + dt.timedelta(days=d)).isoformat()
        key = spec.keys[0]
        keys = tbl[key]

        def note(kind: str, rows: np.ndarray, columns: list[str | None], **extra: object) -> None:
            kv = keys.take(pa.array(rows, pa.int64())).to_pylist() if len(rows) else []
            for i, k, c in zip(rows.tolist(), kv, columns, strict=True):
                recs.append({"kind": kind, "source": spec.name, "landing_date": day, "file": file,
                             "row": i + 1, "key": k, "column": c, **extra})

        def pick(rate: float) -> np.ndarray:
            k = int(r.binomial(n, rate)) if rate > 0 else 0
            return np.sort(r.choice(n, min(k, n), replace=False)) if k else np.array([], np.int64)

        def replace(col: str, rows: np.ndarray, value: object) -> None:
            nonlocal tbl
            mask = np.zeros(n, bool)
            mask[rows] = True
            arr = tbl[col]
            val = pa.scalar(value, arr.type) if value is not None else pa.scalar(None, arr.type)
            tbl = tbl.set_column(tbl.schema.get_field_index(col), col, pc.if_else(pa.array(mask), val, arr))

        required = _nullable_required(spec)
        rows = pick(rates.null_required)
        which = np.array(required)[r.integers(0, len(required), len(rows))] if len(rows) else np.array([])
        for c in np.unique(which):
            replace(str(c), rows[which == c], None)
        note("null_required", rows, [str(c) for c in which])
        ranged = [c.name for c in spec.landing.columns if c.range and c.name not in spec.keys]
        rows = pick(rates.out_of_range if ranged else 0)
        which = np.array(ranged)[r.integers(0, len(ranged), len(rows))] if len(rows) else np.array([])
        for c in np.unique(which):
            col = spec.landing_column(str(c))
            bad = -abs(col.range[1]) * 10 - 1
            typ = tbl.schema.field(str(c)).type
            value = (f"{bad:.2f}" if col.parse == "decimal_major" else str(int(bad))) if pa.types.is_string(typ) \
                else (float(bad) if pa.types.is_floating(typ) else int(bad))
            target = rows[which == c]
            target = target[pc.is_valid(tbl[str(c)].take(pa.array(target))).to_numpy(zero_copy_only=False)]
            replace(str(c), target, value)
            note("out_of_range", target, [str(c)] * len(target))
        et = spec.event_time
        if spec.landing_column(et.column).type == "string":
            rows = pick(rates.bad_timestamp)
            replace(et.column, rows, "2026-13-45T25:61:00" if "iso" in et.parse else "20261345")
            note("bad_timestamp", rows, [et.column] * len(rows))
        dup = pick(rates.exact_duplicate)
        near_col = spec.version_column or next(
            (c.name for c in spec.landing.columns if c.type in ("double", "long") and c.name not in spec.keys
             and not c.range and not c.allowed), None)
        near = pick(rates.near_duplicate if near_col else 0)
        extra = [tbl.take(pa.array(dup, pa.int64()))]
        if len(near):
            changed = tbl.take(pa.array(near, pa.int64())).to_pylist()
            for row in changed:
                v = row[near_col]
                if spec.version_column and isinstance(v, str) and len(v) >= 19 and v[17:19].isdigit():
                    row[near_col] = v[:17] + f"{(int(v[17:19]) + 1) % 60:02d}" + v[19:]  # a newer version
                elif isinstance(v, float):
                    row[near_col] = round(v + 1.0, 2)
                elif isinstance(v, int):
                    row[near_col] = v + 1
            extra.append(pa.Table.from_pylist(changed, schema=tbl.schema))
        out = pa.concat_tables([tbl, *extra])
        for kind, src, first in (("exact_duplicate", dup, n), ("near_duplicate", near, n + len(dup))):
            new_rows = np.arange(first, first + len(src))
            kv = keys.take(pa.array(src, pa.int64())).to_pylist() if len(src) else []
            for j, i, k in zip(new_rows.tolist(), src.tolist(), kv, strict=True):
                recs.append({"kind": kind, "source": spec.name, "landing_date": day, "file": file,
                             "row": j + 1, "key": k, "column": near_col if kind == "near_duplicate" else None,
                             "duplicate_of_row": i + 1})
        return out, recs

    def split_late(self, d: int, spec: SourceSpec, tbl: pa.Table) -> pa.Table:
        """Hold back a few rows of landing day d: they arrive 1-5 days later (late-arriving rows).

        A row whose day to arrive is past the world's last day is never delivered; the manifest lists
        it as ``late_beyond_window`` (its key, event date and the landing date it would have had), so
        a reference it leaves unmatched (e.g. a loan's schedule without its application) is explained.
        """
        rate = self.cfg.defects.late_arriving
        if rate <= 0 or tbl.num_rows == 0 or spec.name == "customers":
            return tbl
        r = self.rng(d * 37 + 7 + zlib.crc32(spec.name.encode()) % 29, "defects")
        late = r.random(tbl.num_rows) < rate
        lag = r.integers(1, 6, tbl.num_rows)
        for lg in np.unique(lag[late]):
            part = _take(tbl, np.flatnonzero(late & (lag == lg)))  # a few rows: take, don't filter all
            if d + lg < self.cfg.days:
                part = part.append_column("_late_from", pa.array([d] * part.num_rows, pa.int32()))
                self.pending[int(d + lg)][f"late:{spec.name}"].append(part)
                continue
            self.defect_log.extend(
                {"kind": "late_beyond_window", "source": spec.name, "key": key, "column": None,
                 "event_date": (self.cfg.start + dt.timedelta(days=d)).isoformat(),
                 "landing_date": (self.cfg.start + dt.timedelta(days=int(d + lg))).isoformat()}
                for key in part[spec.keys[0]].to_pylist())
        return tbl.filter(pa.array(~late))

    # -- writing -------------------------------------------------------------------------------
    def write(self, d: int, spec: SourceSpec, tbl: pa.Table) -> None:
        day = self.cfg.start + dt.timedelta(days=d)
        folder = self.landing / spec.name / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        file = spec.file_name(day)
        path = folder / file
        tbl = self.split_late(d, spec, tbl)
        late_parts = self.pending[d].pop(f"late:{spec.name}", [])
        tbl, recs = self.inject(d, spec, tbl, f"{spec.name}/dt={day.isoformat()}/{file}")
        for part in late_parts:
            start_row = tbl.num_rows
            src_days = part["_late_from"].to_pylist()
            part = part.drop_columns(["_late_from"]).cast(tbl.schema)
            tbl = pa.concat_tables([tbl, part])
            for k, key in enumerate(part[spec.keys[0]].to_pylist()):
                recs.append({"kind": "late_arriving", "source": spec.name, "landing_date": day.isoformat(),
                             "file": f"{spec.name}/dt={day.isoformat()}/{file}", "row": start_row + k + 1,
                             "key": key, "column": None,
                             "event_date": (self.cfg.start + dt.timedelta(days=src_days[k])).isoformat()})
        header_rename = None
        if spec.name == "customers" and d == self.rename_day:
            header_rename = ("phone", "phone_number")
            tbl = tbl.rename_columns([header_rename[1] if c == "phone" else c for c in tbl.column_names])
            recs.append({"kind": "renamed_column", "source": spec.name, "landing_date": day.isoformat(),
                         "file": f"{spec.name}/dt={day.isoformat()}/{file}", "row": None, "key": None,
                         "column": "phone", "renamed_to": "phone_number"})
        _write_table(tbl, path, spec)
        if spec.name == "device_events" and d == self.truncate_day and tbl.num_rows > 2:
            data = path.read_bytes()
            lines = data.split(b"\n")
            keep = max(1, len(lines) * 2 // 3)
            cut = b"\n".join(lines[:keep]) + b"\n" + lines[keep][: max(1, len(lines[keep]) // 2)]
            path.write_bytes(cut)
            for rec in recs:  # rows after the cut were written but are no longer readable
                if rec.get("row") and rec["row"] > keep:
                    rec["lost_in_truncation"] = True
            recs.append({"kind": "truncated_file", "source": spec.name, "landing_date": day.isoformat(),
                         "file": f"{spec.name}/dt={day.isoformat()}/{file}", "row": keep + 1,
                         "key": None, "column": None, "rows_lost": tbl.num_rows - keep - 1})
        self.defect_log.extend(recs)
        self.rows[spec.name] += tbl.num_rows
        self.files += 1

    def run(self, on_day: Callable[[int], None] | None = None) -> GenerationSummary:
        cfg = self.cfg
        (self.landing / "_manifest").mkdir(parents=True, exist_ok=True)
        self.gt.mkdir(parents=True, exist_ok=True)
        for d in range(cfg.days):
            day = cfg.start + dt.timedelta(days=d)
            out: dict[str, pa.Table] = {}
            out["customers"] = self.customers(d)
            out["applications"] = self.applications(d)
            self.bureau_refresh(d)
            txns, txn_truth = self.transactions(d)
            out["transactions"] = txns
            out["device_events"] = self.device_events(d)
            for name in ("repayments", "bureau", "chargebacks"):
                parts = self.pending[d].pop(name, [])
                spec = self.sources[name]
                out[name] = (pa.concat_tables([t.cast(parts[0].schema) for t in parts]) if parts
                             else _empty(spec))
                if name == "repayments" and out[name].num_rows:
                    out[name] = out[name].sort_by([("event_at", "ascending"), ("record_id", "ascending")])
            for name in self.sources.names:
                self.write(d, self.sources[name], out[name])
            tdir = self.gt / "transactions" / f"dt={day.isoformat()}"
            tdir.mkdir(parents=True, exist_ok=True)
            _pq_write(txn_truth, tdir / "part-0.parquet")
            if on_day:
                on_day(d)
        self._write_truth()
        defects = defaultdict(int)
        for rec in self.defect_log:
            defects[str(rec["kind"])] += 1
        summary = GenerationSummary(self.landing, self.gt, cfg.start, cfg.start + dt.timedelta(days=cfg.days - 1),
                                    dict(self.rows), self.files, dict(defects))
        encode = json.JSONEncoder(sort_keys=True, default=_jsonable).encode  # one encoder, not one per record
        with open(self.landing / "_manifest" / "defects.jsonl", "w") as fh:
            fh.writelines(encode(rec) + "\n" for rec in self.defect_log)
        params = dataclasses.asdict(cfg)
        params["start"] = cfg.start.isoformat()
        (self.landing / "_manifest" / "generation.json").write_text(
            json.dumps({"params": params, "rows": summary.rows, "files": summary.files, "defects": summary.defects},
                       indent=2, sort_keys=True, default=str))  # no absolute paths: same args, same bytes
        return summary

    def _write_truth(self) -> None:
        p = self.pop
        idx = np.arange(p.n)
        _pq_write(pa.table({"customer_id": _ids("C", idx + 1, 8), "latent_risk": p.z[: p.n],
                            "ring_id": p.ring[: p.n]}), self.gt / "customers.parquet")
        if self.apps_truth:
            _pq_write(pa.concat_tables(self.apps_truth), self.gt / "applications.parquet")
        if self.loans:
            lt = pa.concat_tables(self.loans)
            lt = lt.set_column(2, "booked_at", pa.array(lt["booked_at"].to_numpy().astype("datetime64[s]")))
            lt = lt.append_column("installment_days", pa.array([self.cfg.installment_days] * lt.num_rows))
            # P(a payment of the loan is lost before the lake): the truth's posterior weighs it
            lt = lt.append_column("payment_loss_p", pa.array([payment_loss_probability(self.cfg.defects)] * lt.num_rows))
            # the part of it quarantined where the lake can place it (its labels hold those back)
            hold = payment_hold_probability(self.cfg.defects, self.sources["repayments"])
            lt = lt.append_column("payment_hold_p", pa.array([hold] * lt.num_rows))
        else:
            lt = pa.table({k: pa.array([], pa.string()) for k in
                           ("loan_id", "application_id", "booked_at", "n_installments", "installment",
                            "stop_installment", "hazard")})
        _pq_write(lt, self.gt / "loans.parquet")
        # every installment's due date and the date it was paid (null: never, a defaulter's from its
        # stop installment on), also those the world's window ends before: the early-warning truth
        # reads which installments were paid before a date; with what the lake is told of them (the
        # payment and schedule records that land intact), as its labels and features read the lake
        _pq_write(_landed_installments(pa.concat_tables(self.installments) if self.installments else pa.table({
            "loan_id": pa.array([], pa.string()), "installment_no": pa.array([], pa.int64()),
            "due_date": pa.array([], pa.date32()), "paid_date": pa.array([], pa.date32())}), self.defect_log),
            self.gt / "installments.parquet")
        values = {"national_id": p.national_id, "phone": p.phone, "full_name": p.name, "card_number": p.card}
        cols, vals = [], []
        for col in sorted(values):
            found = _take(values[col], np.flatnonzero(self.pii_idx[col]))
            if col == "phone":
                found = pa.concat_arrays([found, pa.array(self.old_phones, pa.string())])
            cols.append(pa.repeat(pa.scalar(col), len(found)))
            vals.append(found)
        _pq_write(pa.table({"column": pa.concat_arrays(cols), "value": pa.concat_arrays(vals)}),
                  self.gt / "pii_values.parquet")


def _jsonable(o: object) -> object:
    return o.item() if hasattr(o, "item") else str(o)


def _empty(spec: SourceSpec) -> pa.Table:
    types = {"string": pa.string(), "long": pa.int64(), "double": pa.float64(), "boolean": pa.bool_()}
    return pa.table({c.name: pa.array([], types.get(c.type, pa.string())) for c in spec.landing.columns})


def _pq_write(tbl: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(tbl, path, compression="snappy", write_statistics=True, use_dictionary=True)


def _write_table(tbl: pa.Table, path: Path, spec: SourceSpec) -> None:
    if spec.format == "parquet":
        _pq_write(tbl, path)
    elif spec.format == "csv":
        import pyarrow.csv as pacsv

        delim = str(spec.options.get("delimiter", ","))
        pacsv.write_csv(tbl, path, pacsv.WriteOptions(include_header=True, delimiter=delim,
                                                      quoting_style="needed"))
    elif spec.format == "jsonl":
        import polars as pl

        pl.from_arrow(tbl).write_ndjson(path)
    else:  # pragma: no cover - the declaration model restricts formats
        raise ValueError(spec.format)


def generate(
    customers: int = 2_000,
    days: int = 10,
    start: dt.date = dt.date(2026, 1, 1),
    seed: int = 7,
    landing: Path | None = None,
    ground_truth: Path | None = None,
    defects: DefectRates | None = None,
    txn_per_customer_day: float = 0.35,
    installment_days: int = 30,
    on_day: Callable[[int], None] | None = None,
    sources: SourcesConfig | None = None,
    fraud_level: float = 0.0,
    chargeback_lag_days: tuple[int, int] = (7, 60),
    application_rate: float = 0.004,
    credit_bad_dpd: int = 90,
    credit_window_days: int = 365,
) -> GenerationSummary:
    """Generate ``days`` landing partitions from ``start`` for ``customers`` customers (see module doc)."""
    from riskpipe.settings import get_settings

    if customers < 10 or days < 1:
        raise ConfigError("generate needs at least 10 customers and 1 day")
    if installment_days < 1 or txn_per_customer_day < 0:
        raise ConfigError("installment_days must be >= 1 and txn_per_customer_day >= 0")
    if not 0 < application_rate <= 1:
        raise ConfigError(f"application_rate must be in (0, 1] (applications per customer per day), got {application_rate}")
    if not 1 <= credit_bad_dpd <= credit_window_days - installment_days - 1:
        raise ConfigError(f"credit_bad_dpd must be >= 1 and leave an installment ({installment_days} days) and a day "
                          f"of credit_window_days before it (a defaulter misses an installment, then reaches "
                          f"the DPD within the window), got {credit_bad_dpd} DPD in {credit_window_days} days")
    if not 0 <= chargeback_lag_days[0] <= chargeback_lag_days[1]:
        raise ConfigError(f"chargeback_lag_days must be (min, max) with 0 <= min <= max, got {chargeback_lag_days}")
    s = get_settings()
    cfg = GeneratorConfig(customers=customers, days=days, start=start, seed=seed,
                          txn_per_customer_day=txn_per_customer_day, installment_days=installment_days,
                          fraud_level=fraud_level, chargeback_lag_days=tuple(chargeback_lag_days),
                          application_rate=application_rate, credit_bad_dpd=credit_bad_dpd,
                          credit_window_days=credit_window_days,
                          defects=defects if defects is not None else DefectRates())
    gen = Generator(cfg, landing or s.landing, ground_truth or s.ground_truth, sources)
    log.info("generating %d customers x %d days from %s (seed %d)", customers, days, start, seed)
    return gen.run(on_day)
