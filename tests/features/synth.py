"""Deterministic synthetic feature tables in exactly the contract's layout and schema.

Values are a closed-form function of (table, column, customer/loan number, day), so the expected
point-in-time value of any feature can be computed independently of Feast (see ``expected``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskpipe.features.tables import (
    DATA_FILE,
    FEATURE_TABLES,
    VALIDATED_MARKER,
    arrow_schema,
)

DAY0 = dt.date(2026, 1, 1)
DAYS = [DAY0 + dt.timedelta(days=i) for i in range(4)]  # 2026-01-01 .. 2026-01-04
CUSTOMERS = ["c1", "c2", "c3", "c4"]
LATE_CUSTOMER = "c5"  # first known on DAYS[2]
LOANS = {"l1": "c1", "l2": "c2", "l3": "c3"}
#: (table, entity, day) rows written twice: the older version (created earlier) has other values.
RESTATED = ("customer_credit_daily", "c1", DAYS[1])


def ts(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute)


def value(table: str, col_index: int, kind: str, entity: str, day: dt.date, version: int = 1):
    """The value of one cell. ``version=0`` is the superseded (restated) version of a row."""
    n = int(entity[1:])
    d = (day - DAY0).days
    base = n * 1000 + d * 10 + col_index + (0 if version else 500_000)
    if kind == "double":
        if col_index == 4 and n == 3 and table == "customer_fraud_daily":
            return None  # amount_mean_30d missing for c3: request-time ratio must be null
        return base + 0.25
    if kind in ("int", "long"):
        return base
    if kind == "string":
        return f"{table[:4]}-{col_index}-{entity}-{d}-{version}"
    if kind == "timestamp":
        return ts(day) - dt.timedelta(minutes=n + col_index)
    raise AssertionError(kind)


def entities_on(table: str, day: dt.date) -> list[str]:
    spec = FEATURE_TABLES[table]
    if spec.keys == ("loan_id",):
        return sorted(LOANS)
    return CUSTOMERS + ([LATE_CUSTOMER] if day >= DAYS[2] else [])


def partition_frame(table: str, day: dt.date) -> pa.Table:
    spec = FEATURE_TABLES[table]
    rows = []
    for ent in entities_on(table, day):
        versions = [0, 1] if (table, ent, day) == RESTATED else [1]
        for version in versions:
            row = {}
            if spec.keys == ("loan_id",):
                row["loan_id"], row["customer_id"] = ent, LOANS[ent]
            else:
                row["customer_id"] = ent
            row["feature_ts"] = ts(day)
            row["created_ts"] = ts(day, 1, 0) + dt.timedelta(minutes=30 * version)
            for i, (name, kind) in enumerate(spec.features):
                row[name] = value(table, i, kind, ent, day, version)
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=arrow_schema(spec))


def write_partition(features: Path, table: str, day: dt.date, *, validated: bool = True) -> Path:
    part = FEATURE_TABLES[table].partition(features, day)
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(partition_frame(table, day), part / DATA_FILE)
    if validated:
        (part / VALIDATED_MARKER).write_text("ok\n")
    return part


def write_all(features: Path, days=DAYS, *, validated: bool = True) -> None:
    for table in FEATURE_TABLES:
        for day in days:
            write_partition(features, table, day, validated=validated)


def expected(table: str, feature: str, entity: str, at: dt.datetime, ttl=dt.timedelta(days=2)):
    """Independent point-in-time value: newest row with feature_ts <= at (within ttl), newest created."""
    spec = FEATURE_TABLES[table]
    idx = spec.feature_names.index(feature)
    kind = spec.features[idx][1]
    best = None
    for day in DAYS:
        f_ts = ts(day)
        if f_ts <= at and f_ts >= at - ttl and entity in entities_on(table, day):
            best = day
    if best is None:
        return None
    return value(table, idx, kind, entity, best, 1)


#: fraud_v1's request fields, as for a card-present transaction in the home country without a device
FRAUD_REQUEST = {"amount": 1.0, "request_epoch_s": 0, "channel": "pos", "merchant_country": "DE", "device_id": None}


def fraud_row(customer_id: str, **fields) -> dict:
    """An online entity row of fraud_v1: the customer and every request field (``fields`` override)."""
    return {"customer_id": customer_id, **FRAUD_REQUEST, **fields}


def label_frame(name: str, rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def write_label_table(features: Path, name: str, rows: list[dict]) -> None:
    df = pd.DataFrame(rows)
    for day, part in df.groupby(df["feature_ts"].dt.date):
        d = features / name / f"dt={day.isoformat()}"
        d.mkdir(parents=True, exist_ok=True)
        part.reset_index(drop=True).to_parquet(d / DATA_FILE, index=False)
