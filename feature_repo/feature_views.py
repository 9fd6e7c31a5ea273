"""Feature views over the daily feature tables (schemas from the contract, docs/feature-tables.md).

A daily row stamped ``feature_ts = T 00:00`` uses only events strictly before T, so Feast's
point-in-time join (feature_ts <= entity time) never leaks the future. TTL = 2 days: a request on
day T is served by T's row, or by T-1's if T's partition is late; older rows are treated as missing.
"""

from datetime import timedelta

from data_sources import (
    customer_credit_daily_source,
    customer_fraud_daily_source,
    customer_graph_daily_source,
    loan_early_warning_daily_source,
)
from entities import customer, loan
from feast import FeatureView

from riskpipe.features.tables import FEATURE_TABLES
from riskpipe.features.types import feast_fields

DAILY_TTL = timedelta(days=2)
_OWNER = "risk-data-eng@riskpipe.example"


def _view(table, entities, source, tags):
    spec = FEATURE_TABLES[table]
    return FeatureView(
        name=table,
        entities=entities,
        ttl=DAILY_TTL,
        schema=feast_fields(spec.features),
        source=source,
        online=True,
        description=spec.description,
        owner=_OWNER,
        tags={"owner": "risk-data-eng", "cadence": "daily", **tags},
    )


customer_credit_daily = _view("customer_credit_daily", [customer], customer_credit_daily_source,
                              {"models": "credit_pd,early_warning"})
customer_fraud_daily = _view("customer_fraud_daily", [customer], customer_fraud_daily_source,
                             {"models": "fraud"})
loan_early_warning_daily = _view("loan_early_warning_daily", [loan], loan_early_warning_daily_source,
                                 {"models": "early_warning"})
customer_graph_daily = _view("customer_graph_daily", [customer], customer_graph_daily_source,
                             {"models": "credit_pd,fraud"})
