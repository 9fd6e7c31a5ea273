"""The feature-table contract (docs/feature-tables.md) as data: names, keys and column types.

dbt (and the Spark graph job) produce these tables; the Feast repo and the training code consume
them. Keeping the columns here once lets ``feature_repo/`` declare schemas without reading a file
and lets tests write synthetic tables with exactly the contract's layout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

#: ``<features>/<table>/dt=YYYY-MM-DD/data.parquet`` (one file per partition).
PARTITION_KEY = "dt"
DATA_FILE = "data.parquet"
#: Marker a validation step writes next to ``data.parquet`` once the partition passed its suite.
VALIDATED_MARKER = "_VALIDATED"
TIMESTAMP_FIELD = "feature_ts"
CREATED_FIELD = "created_ts"

# Column kinds used in the contract: double, int (int32), long (int64), string, timestamp.
_W = ("1d", "7d", "30d", "90d")


@dataclass(frozen=True)
class FeatureTable:
    """One daily feature table: its join keys and its feature columns (name, kind)."""

    name: str
    keys: tuple[str, ...]
    extra_keys: tuple[str, ...]
    features: tuple[tuple[str, str], ...]
    description: str

    @property
    def feature_names(self) -> list[str]:
        return [n for n, _ in self.features]

    def columns(self) -> list[tuple[str, str]]:
        """Every column in file order: keys, extra ids, timestamps, features."""
        ids = [(k, "string") for k in (*self.keys, *self.extra_keys)]
        return [*ids, (TIMESTAMP_FIELD, "timestamp"), (CREATED_FIELD, "timestamp"), *self.features]

    def path(self, features_root: Path) -> Path:
        return Path(features_root) / self.name

    def partition(self, features_root: Path, day: dt.date) -> Path:
        return self.path(features_root) / f"{PARTITION_KEY}={day.isoformat()}"


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item:
            name, kind = item.split()
            out.append((name, kind))
    return tuple(out)


CUSTOMER_CREDIT_DAILY = FeatureTable(
    name="customer_credit_daily",
    keys=("customer_id",),
    extra_keys=(),
    features=_cols(
        "age_years double, annual_income double, region string, employment_status string,"
        "bureau_score int, bureau_open_accounts int, bureau_total_balance double, bureau_delinquencies_24m int,"
        "bureau_inquiries_6m int, bureau_oldest_account_months int,"
        "applications_90d long, last_requested_amount double,"
        "dpd_current int, dpd_max_12m int, missed_payments_3m long, missed_payments_6m long,"
        "missed_payments_12m long, on_time_ratio_3m double, on_time_ratio_6m double, on_time_ratio_12m double,"
        "utilisation double,"
        + ",".join(f"txn_count_{w} long, txn_sum_{w} double, txn_mean_{w} double, txn_std_{w} double" for w in _W)
        + ", night_share_30d double, distinct_merchants_30d long, distinct_categories_30d long,"
        "cross_border_share_30d double"
    ),
    description="Daily credit profile of a customer: demographics, bureau, repayment behaviour, spending.",
)

CUSTOMER_FRAUD_DAILY = FeatureTable(
    name="customer_fraud_daily",
    keys=("customer_id",),
    extra_keys=(),
    features=_cols(
        "txn_count_24h long, txn_amount_24h double, txn_count_7d long, txn_amount_7d double,"
        "amount_mean_30d double, distinct_devices_30d long, distinct_merchants_30d long, last_txn_ts timestamp,"
        "home_country string, recent_devices_30d string"
    ),
    description="What serving knows about a customer's recent card activity before a new transaction.",
)

LOAN_EARLY_WARNING_DAILY = FeatureTable(
    name="loan_early_warning_daily",
    keys=("loan_id",),
    extra_keys=("customer_id",),
    features=_cols(
        "installments_due long, installments_paid long, paid_ratio double, dpd_current int,"
        "dpd_change_30d int, txn_count_30d_change double, login_count_30d_change double"
    ),
    description="Daily repayment and activity trend of an active loan (post-loan early warning).",
)

CUSTOMER_GRAPH_DAILY = FeatureTable(
    name="customer_graph_daily",
    keys=("customer_id",),
    extra_keys=(),
    features=_cols(
        "component_id string, component_size long, max_customers_per_device long, component_bad_share double"
    ),
    description="Shared device/IP/phone graph features (Spark graph job): component size and bad share.",
)

FEATURE_TABLES: dict[str, FeatureTable] = {
    t.name: t for t in (CUSTOMER_CREDIT_DAILY, CUSTOMER_FRAUD_DAILY, LOAN_EARLY_WARNING_DAILY, CUSTOMER_GRAPH_DAILY)
}

#: Label tables: name -> (key columns, event-time column). Same layout as the feature tables.
LABEL_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "label_credit_pd": (("application_id", "customer_id"), TIMESTAMP_FIELD),
    "label_fraud": (("txn_id", "customer_id"), TIMESTAMP_FIELD),
    "label_early_warning": (("loan_id", "customer_id"), TIMESTAMP_FIELD),
}


def arrow_type(kind: str):
    """The Parquet (pyarrow) type of a contract column kind."""
    import pyarrow as pa

    return {
        "double": pa.float64(),
        "int": pa.int32(),
        "long": pa.int64(),
        "string": pa.string(),
        "timestamp": pa.timestamp("us"),
    }[kind]


def arrow_schema(table: FeatureTable):
    import pyarrow as pa

    return pa.schema([(n, arrow_type(k)) for n, k in table.columns()])


def partition_dates(features_root: Path, table: str) -> list[dt.date]:
    """The feature dates that have a data file, sorted."""
    root = Path(features_root) / table
    out = []
    if root.is_dir():
        for p in root.glob(f"{PARTITION_KEY}=*/{DATA_FILE}"):
            try:
                out.append(dt.date.fromisoformat(p.parent.name.split("=", 1)[1]))
            except ValueError:
                continue
    return sorted(out)
