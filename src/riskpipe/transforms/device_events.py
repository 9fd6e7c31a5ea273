"""device_events: nested geo flattened; device and IP kept (they are links, not PII here)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from riskpipe.transforms.context import Context


def to_silver(df: DataFrame, ctx: Context) -> DataFrame:
    return df.select(
        F.col("p_event_id").alias("event_id"),
        F.col("p_customer_id").alias("customer_id"),
        F.col("p_event_type").alias("event_type"),
        F.col("p_device_id").alias("device_id"),
        F.col("p_ip").alias("ip"),
        F.upper(F.trim(F.col("p_geo.country"))).alias("geo_country"),
        F.col("p_geo.lat").cast("double").alias("geo_lat"),
        F.col("p_geo.lon").cast("double").alias("geo_lon"),
        "_meta",
    )
