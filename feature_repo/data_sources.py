"""Batch sources: one per dbt feature table, paths and source kind from riskpipe settings.

``RISKPIPE_FEAST_OFFLINE_STORE`` (or ``RISKPIPE_MODE``) picks FileSource/DuckDB or SparkSource;
``RISKPIPE_DATA_DIR`` / ``RISKPIPE_LAKE_DIR`` decide where ``<features>/<table>`` is.
"""

from riskpipe.features.config import repo_settings
from riskpipe.features.sources import feature_table_source

_settings = repo_settings()

customer_credit_daily_source = feature_table_source("customer_credit_daily", _settings)
customer_fraud_daily_source = feature_table_source("customer_fraud_daily", _settings)
loan_early_warning_daily_source = feature_table_source("loan_early_warning_daily", _settings)
customer_graph_daily_source = feature_table_source("customer_graph_daily", _settings)
