"""On-demand feature views: request-time features computed from the request and stored features.

They run in the same code offline (training: request fields are columns of the entity frame) and
online (request fields travel with the entity rows), so the two never disagree.
"""

from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String
from feature_views import customer_credit_daily, customer_fraud_daily

# the bureau pull's fields (request fields pull_<field>), which training sets rebuild from the lake
from riskpipe.features.config import repo_settings
from riskpipe.features.requests import BUREAU_PULL_FIELDS
from riskpipe.sources.config import load_sources

_OWNER = "risk-data-eng@riskpipe.example"

transaction_request = RequestSource(
    name="transaction_request",
    schema=[
        Field(name="amount", dtype=Float64),
        Field(name="request_epoch_s", dtype=Int64),
        Field(name="channel", dtype=String),
        Field(name="merchant_country", dtype=String),
        Field(name="device_id", dtype=String),
    ],
    description="The card transaction being scored: its amount, request time (UTC epoch seconds), channel "
    "(pos, ecom, atm, p2p), merchant country (ISO 3166-1 alpha-2) and device id (null when none).",
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
    # only the stored features it reads: Feast copies every source feature into the transform's input
    # on each call, so the whole view as source costs milliseconds per online read. Python mode: a
    # serving call is one row, where building pandas frames costs more than the arithmetic.
    sources=[customer_fraud_daily[["amount_mean_30d", "home_country", "recent_devices_30d"]], transaction_request],
    schema=[
        Field(name="amount_to_mean_30d", dtype=Float64),
        Field(name="request_hour_utc", dtype=Int64),
        Field(name="is_night_request", dtype=Int64),
        Field(name="is_ecom", dtype=Int64),
        Field(name="is_atm", dtype=Int64),
        Field(name="is_p2p", dtype=Int64),
        Field(name="is_cross_border", dtype=Int64),
        Field(name="is_new_device", dtype=Int64),
    ],
    mode="python",
    description="Request amount vs the customer's 30-day mean amount (null without history); the UTC hour "
    "of the request (night = 00-05); the channel as flags against pos (null when the channel is not given); "
    "cross-border: merchant country other than the card's home country (null when either is unknown); "
    "new device: a device not among the customer's recent_devices_30d (0 without a device).",
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

    def text(v):  # a non-empty string or None (Feast gives missing values as None, pandas as NaN)
        return v if isinstance(v, str) and v else None

    out = {k: [] for k in ("amount_to_mean_30d", "request_hour_utc", "is_night_request", "is_ecom", "is_atm",
                           "is_p2p", "is_cross_border", "is_new_device")}
    for mean, amount, epoch, channel, country, home, device, recent in zip(
            inputs["amount_mean_30d"], inputs["amount"], inputs["request_epoch_s"], inputs["channel"],
            inputs["merchant_country"], inputs["home_country"], inputs["device_id"], inputs["recent_devices_30d"],
            strict=True):
        m, a = number(mean), number(amount)
        out["amount_to_mean_30d"].append(a / m if m is not None and a is not None and m > 0 else None)
        h = (int(epoch) // 3600) % 24
        out["request_hour_utc"].append(h)
        out["is_night_request"].append(int(h < 6))
        channel, country, home, device = text(channel), text(country), text(home), text(device)
        for flag in ("ecom", "atm", "p2p"):
            out[f"is_{flag}"].append(None if channel is None else int(channel.strip().lower() == flag))
        out["is_cross_border"].append(
            None if country is None or home is None else int(country.strip().upper() != home.strip().upper()))
        known = text(recent)
        out["is_new_device"].append(0 if device is None else int(device not in (known or "").split("|")))
    return out


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


bureau_pull_request = RequestSource(
    name="bureau_pull_request",
    schema=[Field(name=f"pull_{f}", dtype=Float64) for f in BUREAU_PULL_FIELDS],
    description="The credit bureau report the lender pulled for the application, on the application day: "
    + ", ".join(f"pull_{f}" for f in BUREAU_PULL_FIELDS) + " (null when the pull returned no report). Training "
    "sets take them from the bureau feed's report of the application day (riskpipe.features.requests).",
    owner=_OWNER,
    tags={"owner": "credit-scoring"},
)


@on_demand_feature_view(
    sources=[customer_credit_daily[["bureau_score"]], bureau_pull_request],
    schema=[*(Field(name=f"{f}_at_application", dtype=Float64) for f in BUREAU_PULL_FIELDS),
            Field(name="bureau_score_change", dtype=Float64)],
    mode="python",
    description="The bureau report pulled at application, field by field (<field>_at_application; null when "
    "no report or no value), and bureau_score_change: its score minus the stored "
    "bureau_score (the latest report the lake held before the feature date; null when either is unknown).",
    owner=_OWNER,
    tags={"owner": "credit-scoring", "models": "credit_pd"},
)
def credit_pull_features(inputs: dict) -> dict:
    # numeric inputs (Float64 request fields, the stored Int64 score): missing arrives as None online and
    # as NaN offline (v != v), both become null
    out = {f"{k.removeprefix('pull_')}_at_application": [None if v is None or v != v else float(v) for v in values]
           for k, values in inputs.items() if k.startswith("pull_")}
    stored = [None if v is None or v != v else float(v) for v in inputs["bureau_score"]]
    out["bureau_score_change"] = [None if p is None or s is None else p - s
                                  for p, s in zip(out["bureau_score_at_application"], stored, strict=True)]
    return out


def _categories(source: str, column: str) -> tuple[str, ...]:
    """The values the source contract (sources.yml) allows in a column, as flag-name suffixes."""
    allowed = next(c.allowed for c in load_sources(repo_settings().sources_file)[source].landing.columns
                   if c.name == column)
    return tuple(str(v).lower() for v in allowed)


EMPLOYMENT_STATUSES = _categories("customers", "employment_status")
REGIONS = _categories("customers", "region")


@on_demand_feature_view(
    sources=[customer_credit_daily[["employment_status", "region"]]],
    schema=[*(Field(name=f"employment_{v}", dtype=Int64) for v in EMPLOYMENT_STATUSES),
            *(Field(name=f"region_{v}", dtype=Int64) for v in REGIONS)],
    mode="python",
    description="The customer's employment status and region as 0/1 flags, one per value the source "
    "contract allows (employment_<status>, region_<region>, lower case; all null when the stored value is "
    "unknown): the models read numbers, and a category they cannot see is risk they cannot rank.",
    owner=_OWNER,
    tags={"owner": "credit-scoring", "models": "credit_pd"},
)
def credit_profile_features(inputs: dict, employment=EMPLOYMENT_STATUSES, regions=REGIONS) -> dict:
    # the category lists travel with the UDF as default values (Feast ships it alone, with dill)
    out = {}
    for prefix, values, column in (("employment", employment, "employment_status"), ("region", regions, "region")):
        given = [v.strip().lower() if isinstance(v, str) and v.strip() else None for v in inputs[column]]
        for value in values:
            out[f"{prefix}_{value}"] = [None if g is None else int(g == value) for g in given]
    return out
