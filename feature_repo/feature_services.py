"""Feature services: one per model version, used for both training sets and online serving."""

from feast import FeatureService
from feature_views import (
    customer_credit_daily,
    customer_fraud_daily,
    customer_graph_daily,
    loan_early_warning_daily,
)
from on_demand import (
    credit_profile_features,
    credit_pull_features,
    credit_request_features,
    fraud_request_features,
)

_OWNER = "risk-data-eng@riskpipe.example"

credit_pd_v1 = FeatureService(
    name="credit_pd_v1",
    features=[customer_credit_daily, customer_graph_daily, credit_request_features],
    description="Application-time credit default (PD) model, version 1. Request field: requested_amount.",
    owner=_OWNER,
    tags={"owner": "credit-scoring", "model": "credit_pd", "version": "1"},
)

credit_pd_v2 = FeatureService(
    name="credit_pd_v2",
    features=[customer_credit_daily, customer_graph_daily, credit_request_features, credit_pull_features,
              credit_profile_features],
    description="Application-time credit default (PD) model, version 2: version 1 plus the bureau report "
    "pulled at application and the employment status and region as flags. Request fields: requested_amount "
    "and pull_bureau_score, pull_open_accounts, pull_total_balance, pull_delinquencies_24m, pull_inquiries_6m, "
    "pull_oldest_account_months.",
    owner=_OWNER,
    tags={"owner": "credit-scoring", "model": "credit_pd", "version": "2"},
)

fraud_v1 = FeatureService(
    name="fraud_v1",
    features=[customer_fraud_daily, customer_graph_daily, fraud_request_features],
    description="Transaction fraud model, version 1. Request fields: amount, request_epoch_s, channel, "
    "merchant_country, device_id.",
    owner=_OWNER,
    tags={"owner": "fraud-scoring", "model": "fraud", "version": "1"},
)

early_warning_v1 = FeatureService(
    name="early_warning_v1",
    features=[
        loan_early_warning_daily,
        customer_credit_daily[["bureau_score", "utilisation", "on_time_ratio_3m", "missed_payments_3m"]],
    ],
    description="Post-loan early warning (30+ DPD in the next 30 days), version 1. Keys: loan_id, customer_id.",
    owner=_OWNER,
    tags={"owner": "collections", "model": "early_warning", "version": "1"},
)
