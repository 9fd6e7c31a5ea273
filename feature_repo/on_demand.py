"""On-demand feature views: request-time features computed from the request and stored features.

They run in the same code offline (training: request fields are columns of the entity frame) and
online (request fields travel with the entity rows), so the two never disagree.
"""

import pandas as pd
from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64
from feature_views import customer_credit_daily, customer_fraud_daily

_OWNER = "risk-data-eng@riskpipe.example"

transaction_request = RequestSource(
    name="transaction_request",
    schema=[Field(name="amount", dtype=Float64), Field(name="request_epoch_s", dtype=Int64)],
    description="The card transaction being scored: its amount and request time (UTC epoch seconds).",
    owner=_OWNER,
    tags={"owner": "fraud-scoring"},
)

application_request = RequestSource(
    name="application_request",
    schema=[Field(name="requested_amount", dtype=Float64)],
    description="The loan application being scored: the amount the customer asks for.",
    owner=_OWNER,
    tags={"owner": "credit-scoring"},
)


@on_demand_feature_view(
    sources=[customer_fraud_daily, transaction_request],
    schema=[
        Field(name="amount_to_mean_30d", dtype=Float64),
        Field(name="request_hour_utc", dtype=Int64),
        Field(name="is_night_request", dtype=Int64),
    ],
    mode="pandas",
    description="Request amount vs the customer's 30-day mean amount (null without history), "
    "and the UTC hour of the request (night = 00-05).",
    owner=_OWNER,
    tags={"owner": "fraud-scoring", "models": "fraud"},
)
def fraud_request_features(inputs: pd.DataFrame) -> pd.DataFrame:
    mean = pd.to_numeric(inputs["amount_mean_30d"], errors="coerce").astype("float64")
    amount = pd.to_numeric(inputs["amount"], errors="coerce").astype("float64")
    ratio = (amount / mean).where(mean > 0)
    hour = (pd.to_numeric(inputs["request_epoch_s"], errors="coerce").astype("int64") // 3600) % 24
    out = pd.DataFrame(index=inputs.index)
    out["amount_to_mean_30d"] = ratio.astype("float64")
    out["request_hour_utc"] = hour.astype("int64")
    out["is_night_request"] = (hour < 6).astype("int64")
    return out


@on_demand_feature_view(
    sources=[customer_credit_daily, application_request],
    schema=[Field(name="requested_to_income", dtype=Float64)],
    mode="pandas",
    description="Requested loan amount as a share of annual income (null when income is unknown or 0).",
    owner=_OWNER,
    tags={"owner": "credit-scoring", "models": "credit_pd"},
)
def credit_request_features(inputs: pd.DataFrame) -> pd.DataFrame:
    income = pd.to_numeric(inputs["annual_income"], errors="coerce").astype("float64")
    req = pd.to_numeric(inputs["requested_amount"], errors="coerce").astype("float64")
    out = pd.DataFrame(index=inputs.index)
    out["requested_to_income"] = (req / income).where(income > 0).astype("float64")
    return out
