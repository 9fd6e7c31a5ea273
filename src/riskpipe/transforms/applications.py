"""applications: amounts in the base currency, decision enums, the loan id when approved."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    return df.select(
        F.col("p_application_id").alias("application_id"),
        F.col("p_customer_id").alias("customer_id"),
        F.col("p_applied_at").alias("applied_at"),
        F.col("p_decided_at").alias("decided_at"),
        F.col("p_requested_amount").alias("requested_amount"),
        F.col("p_term_months").cast("int").alias("term_months"),
        F.col("p_purpose").alias("purpose"),
        F.col("p_channel").alias("channel"),
        F.col("p_declared_income").alias("declared_income"),
        F.col("p_decision").alias("decision"),
        F.when(F.col("p_loan_id") != "", F.col("p_loan_id")).alias("loan_id"),
        F.col("p_interest_rate").alias("interest_rate"),
        "_meta",
    )
