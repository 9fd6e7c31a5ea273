"""``customer_graph_daily``: customers linked by shared devices, IP addresses and phone numbers (Spark).

For feature date T (00:00 UTC) a customer-customer link exists when two customers used the same
device or IP address (device events; card transactions for devices) or carry the same phone token,
using only silver rows with ``event_ts < T`` and ``known_at <= T``. Soft links are capped: an IP
address used by more than ``max_ip_customers`` customers (public Wi-Fi, a mobile carrier's NAT) and
a device used by more than ``max_device_customers`` links nobody, so one hotspot does not merge
thousands of customers into one component.

Connected components come from min-label propagation over the bipartite customer-key graph (pure
DataFrame joins, no GraphFrames), iterated until no label changes. Output per customer known at T
(the master, or any link): ``component_id`` (the smallest customer id in the component),
``component_size``, ``max_customers_per_device`` (the most customers on one of the customer's own
devices, 0 without devices) and ``component_bad_share`` (share of the component's customers with a
fraud chargeback known at T). Written to ``<features>/customer_graph_daily/dt=<T>/data.parquet``
(one file, swapped in atomically; a rerun gives the same rows).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from riskpipe.errors import RiskpipeError
from riskpipe.features.tables import VALIDATED_MARKER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

TABLE = "customer_graph_daily"
MAX_ITERATIONS = 100
#: The silver datasets this job reads (not a dbt model, so model documentation takes its lineage from here).
SILVER_INPUTS = ("device_events", "transactions", "customers", "chargebacks")


class GraphBuildFailed(RiskpipeError):
    """The component labelling did not converge or the output could not be written."""


def _silver(spark: SparkSession, s: Settings, name: str) -> DataFrame | None:
    if name not in SILVER_INPUTS:  # keeps the declared lineage true
        raise GraphBuildFailed(f"the graph job reads silver {name!r}, which SILVER_INPUTS does not declare")
    from riskpipe.spark.io import read_dataset

    return read_dataset(spark, s.silver / name)


def _known(df: DataFrame, t: str) -> DataFrame:
    from pyspark.sql import functions as F

    ts = F.to_timestamp(F.lit(t))
    return df.filter((F.col("event_ts") < ts) & (F.col("known_at") <= ts))


def links(spark: SparkSession, s: Settings, day: dt.date, *, max_ip_customers: int = 10,
          max_device_customers: int = 20) -> tuple[DataFrame, DataFrame]:
    """(customer-key links after the degree caps, every customer known at T)."""
    from pyspark.sql import functions as F

    t = f"{day.isoformat()} 00:00:00"
    empty = spark.createDataFrame([], "customer_id string, key string")
    parts, customers = [], []
    ev = _silver(spark, s, "device_events")
    if ev is not None:
        ev = _known(ev, t)
        parts += [ev.select("customer_id", F.concat(F.lit("device:"), "device_id").alias("key")),
                  ev.select("customer_id", F.concat(F.lit("ip:"), "ip").alias("key"))]
    tx = _silver(spark, s, "transactions")
    if tx is not None:
        tx = _known(tx, t)
        parts.append(tx.filter(F.col("device_id").isNotNull())
                     .select("customer_id", F.concat(F.lit("device:"), "device_id").alias("key")))
        customers.append(tx.select("customer_id"))
    cu = _silver(spark, s, "customers")
    if cu is not None:
        cu = _known(cu, t)
        parts.append(cu.filter(F.col("phone_token").isNotNull())
                     .select("customer_id", F.concat(F.lit("phone:"), "phone_token").alias("key")))
        customers.append(cu.select("customer_id"))
    raw = empty
    for p in parts:
        raw = raw.unionByName(p)
    raw = raw.filter(F.col("customer_id").isNotNull() & F.col("key").isNotNull()).distinct()
    degree = raw.groupBy("key").agg(F.count("*").alias("n"))
    cap = (F.when(F.col("key").startswith("ip:"), F.lit(max_ip_customers))
           .when(F.col("key").startswith("device:"), F.lit(max_device_customers))
           .otherwise(F.lit(None)))
    kept = degree.filter(cap.isNull() | (F.col("n") <= cap)).select("key", F.col("n").alias("key_customers"))
    edges = raw.join(kept, "key")
    spine = empty.select("customer_id")
    for c in [*customers, raw.select("customer_id")]:
        spine = spine.unionByName(c)
    return edges, spine.filter(F.col("customer_id").isNotNull()).distinct()


def components(edges: DataFrame, spine: DataFrame) -> DataFrame:
    """customer_id -> component_id (smallest customer id reachable through shared keys)."""
    from pyspark.sql import functions as F

    labels = spine.select("customer_id", F.col("customer_id").alias("label")).localCheckpoint()
    e = edges.select("customer_id", "key").cache()
    for i in range(MAX_ITERATIONS):
        key_label = e.join(labels, "customer_id").groupBy("key").agg(F.min("label").alias("klabel"))
        proposed = e.join(key_label, "key").groupBy("customer_id").agg(F.min("klabel").alias("plabel"))
        new = (labels.join(proposed, "customer_id", "left")
               .select("customer_id", F.least("label", F.coalesce("plabel", "label")).alias("label"))
               .localCheckpoint())
        changed = new.join(labels.withColumnRenamed("label", "old"), "customer_id").filter("label <> old").count()
        labels = new
        if changed == 0:
            log.debug("graph components converged after %d iterations", i + 1)
            e.unpersist()
            return labels.withColumnRenamed("label", "component_id")
    raise GraphBuildFailed(f"component labelling did not converge in {MAX_ITERATIONS} iterations")


def build_graph(day: dt.date | str, settings: Settings | None = None, spark: SparkSession | None = None, *,
                max_ip_customers: int = 10, max_device_customers: int = 20) -> Path:
    """Write ``customer_graph_daily`` for feature date ``day``; returns the partition file."""
    from pyspark.sql import functions as F

    from riskpipe.indicators.build import _parse_date, partition_path
    from riskpipe.settings import get_settings
    from riskpipe.spark.session import get_spark

    s = settings or get_settings()
    day = _parse_date(day)
    spark = spark or get_spark("riskpipe-graph", s)
    t = f"{day.isoformat()} 00:00:00"
    edges, spine = links(spark, s, day, max_ip_customers=max_ip_customers,
                         max_device_customers=max_device_customers)
    comp = components(edges, spine)
    size = comp.groupBy("component_id").agg(F.count("*").alias("component_size"))
    bad = spark.createDataFrame([], "customer_id string")
    cb, tx = _silver(spark, s, "chargebacks"), _silver(spark, s, "transactions")
    if cb is not None and tx is not None:
        frauds = cb.filter(F.col("is_fraud") & (F.col("known_at") <= F.to_timestamp(F.lit(t)))).select("txn_id")
        bad = tx.join(frauds, "txn_id").select("customer_id").distinct()
    bad_share = (comp.join(bad.withColumn("is_bad", F.lit(1)), "customer_id", "left")
                 .groupBy("component_id")
                 .agg((F.sum(F.coalesce("is_bad", F.lit(0))) / F.count("*")).cast("double").alias("component_bad_share")))
    per_device = (edges.filter(F.col("key").startswith("device:"))
                  .groupBy("customer_id").agg(F.max("key_customers").alias("max_customers_per_device")))
    out = (comp.join(size, "component_id").join(bad_share, "component_id")
           .join(per_device, "customer_id", "left")
           .select(
               F.col("customer_id").cast("string"),
               F.to_timestamp(F.lit(t)).alias("feature_ts"),
               F.to_timestamp(F.lit(t)).alias("created_ts"),
               F.col("component_id").cast("string"),
               F.col("component_size").cast("long"),
               F.coalesce("max_customers_per_device", F.lit(0)).cast("long").alias("max_customers_per_device"),
               F.col("component_bad_share").cast("double"),
           ))
    final = partition_path(s, TABLE, day)
    staging = s.features / "_staging" / TABLE / f"dt={day.isoformat()}" / uuid.uuid4().hex
    out.coalesce(1).sortWithinPartitions("customer_id").write.mode("overwrite").parquet(str(staging))
    parts = sorted(staging.glob("part-*.parquet"))
    if len(parts) != 1:
        raise GraphBuildFailed(f"{TABLE} {day}: expected one part file in {staging}, found {len(parts)}")
    final.parent.mkdir(parents=True, exist_ok=True)
    (final.parent / VALIDATED_MARKER).unlink(missing_ok=True)  # unvalidated until the feature gate passes it
    os.replace(parts[0], final)
    shutil.rmtree(staging.parent, ignore_errors=True)
    log.info("%s %s written to %s", TABLE, day, final)
    return final
