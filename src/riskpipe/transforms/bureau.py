"""bureau: keyed by national id; conformed to customer_id through the national-id token of the
published customers (null when the bureau reports on someone we do not know yet)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    out = df.select(
        F.col("p_report_id").alias("report_id"),
        F.col("p_national_id").alias("national_id_token"),
        F.col("p_as_of_date").alias("as_of_date"),
        F.col("p_bureau_score").cast("int").alias("bureau_score"),
        F.col("p_open_accounts").cast("int").alias("open_accounts"),
        F.col("p_total_balance").alias("total_balance"),
        F.col("p_delinquencies_24m").cast("int").alias("delinquencies_24m"),
        F.col("p_inquiries_6m").cast("int").alias("inquiries_6m"),
        F.col("p_oldest_account_months").cast("int").alias("oldest_account_months"),
        "_meta",
    )
    if ctx.customer_by_national_id is None:
        return out.withColumn("customer_id", F.lit(None).cast("string"))
    lookup = ctx.customer_by_national_id.select(
        F.col("national_id_token").alias("_nit"), F.col("customer_id"))
    return out.join(F.broadcast(lookup), out["national_id_token"] == lookup["_nit"], "left").drop("_nit")
