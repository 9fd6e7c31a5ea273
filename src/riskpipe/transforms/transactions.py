"""transactions: the processor's integer customer number conformed to customer_id, card tokenised,
amounts from minor units in the transaction currency to base-currency major units."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def customer_id_from_number(col: Column) -> Column:
    """1234 -> "C00001234", the customer master's key format."""
    return F.concat(F.lit("C"), F.lpad(col.cast("string"), 8, "0"))


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    return df.select(
        F.col("p_txn_id").alias("txn_id"),
        customer_id_from_number(F.col("p_cust_no")).alias("customer_id"),
        F.col("p_card_number").alias("card_token"),
        F.col("p_amount_minor").alias("amount"),
        (F.col("amount_minor").cast("double") / 100.0).alias("amount_original"),
        F.col("p_currency").alias("currency"),
        F.col("p_merchant_id").alias("merchant_id"),
        F.col("p_merchant_category").alias("merchant_category"),
        F.col("p_merchant_country").alias("merchant_country"),
        F.col("p_channel").alias("channel"),
        F.when(F.col("p_device_id") != "", F.col("p_device_id")).alias("device_id"),
        "_meta",
    )
