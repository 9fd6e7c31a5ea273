"""customers: PII tokens, typed attributes; each update is a new version (event time = updated_at)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    return df.select(
        F.col("p_customer_id").alias("customer_id"),
        F.col("p_national_id").alias("national_id_token"),
        F.col("p_phone").alias("phone_token"),
        F.col("p_full_name").alias("name_token"),
        F.col("p_date_of_birth").alias("date_of_birth"),
        F.col("p_region").alias("region"),
        F.col("p_employment_status").alias("employment_status"),
        F.col("p_annual_income").alias("annual_income"),
        F.col("p_registered_at").alias("registered_at"),
        F.col("p_updated_at").alias("updated_at"),
        "_meta",
    )
