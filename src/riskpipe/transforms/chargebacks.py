"""chargebacks: is_fraud from the reason code (fraud_* and account_takeover confirm fraud)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    code = F.col("p_reason_code")
    return df.select(
        F.col("p_chargeback_id").alias("chargeback_id"),
        F.col("p_txn_id").alias("txn_id"),
        code.alias("reason_code"),
        (code.startswith("fraud_") | (code == "account_takeover")).alias("is_fraud"),
        F.col("p_amount_minor").alias("amount"),
        "_meta",
    )
