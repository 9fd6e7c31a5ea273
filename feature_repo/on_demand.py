"""On-demand feature views: request-time features computed from the request and stored features.

They run in the same code offline (training: request fields are columns of the entity frame) and
online (request fields travel with the entity rows), so the two never disagree.
"""

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
    # only the stored feature it reads: Feast copies every source feature into the transform's input
    # on each call, so the whole view as source costs milliseconds per online read. Python mode: a
    # serving call is one row, where building pandas frames costs more than the arithmetic.
    sources=[customer_fraud_daily[["amount_mean_30d"]], transaction_request],
    schema=[
        Field(name="amount_to_mean_30d", dtype=Float64),
        Field(name="request_hour_utc", dtype=Int64),
        Field(name="is_night_request", dtype=Int64),
    ],
    mode="python",
    description="Request amount vs the customer's 30-day mean amount (null without history), "
    "and the UTC hour of the request (night = 00-05).",
    owner=_OWNER,
    tags={"owner": "fraud-scoring", "models": "fraud"},
)
def fraud_request_features(inputs: dict) -> dict:
    def number(v):  # a finite float or None; defined inside: Feast ships the UDF alone (dill)
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return f if f == f and f not in (float("inf"), float("-inf")) else None

    ratio, hour, night = [], [], []
    for mean, amount, epoch in zip(inputs["amount_mean_30d"], inputs["amount"], inputs["request_epoch_s"],
                                   strict=True):
        m, a = number(mean), number(amount)
        ratio.append(a / m if m is not None and a is not None and m > 0 else None)
        h = (int(epoch) // 3600) % 24
        hour.append(h)
        night.append(int(h < 6))
    return {"amount_to_mean_30d": ratio, "request_hour_utc": hour, "is_night_request": night}


@on_demand_feature_view(
    sources=[customer_credit_daily[["annual_income"]], application_request],
    schema=[Field(name="requested_to_income", dtype=Float64)],
    mode="python",
    description="Requested loan amount as a share of annual income (null when income is unknown or 0).",
    owner=_OWNER,
    tags={"owner": "credit-scoring", "models": "credit_pd"},
)
def credit_request_features(inputs: dict) -> dict:
    def number(v):  # a finite float or None; defined inside: Feast ships the UDF alone (dill)
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return f if f == f and f not in (float("inf"), float("-inf")) else None

    out = []
    for income, req in zip(inputs["annual_income"], inputs["requested_amount"], strict=True):
        i, r = number(income), number(req)
        out.append(r / i if i is not None and r is not None and i > 0 else None)
    return {"requested_to_income": out}
