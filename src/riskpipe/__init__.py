"""riskpipe: batch data pipeline and feature store for credit and fraud risk modelling."""

__version__ = "0.1.0"
