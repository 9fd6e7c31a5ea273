"""repayments: schedule rows (due date, amount due) and payment rows (amount paid) of loans."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    return df.select(
        F.col("p_record_id").alias("record_id"),
        F.col("p_loan_id").alias("loan_id"),
        F.col("p_record_type").alias("record_type"),
        F.col("p_installment_no").cast("int").alias("installment_no"),
        F.col("p_due_date").alias("due_date"),
        F.col("p_amount").alias("amount"),
        "_meta",
    )
