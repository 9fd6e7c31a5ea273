"""One place that builds SparkSessions from settings, so local and cluster runs differ only by config.

Under ``spark-submit`` the master and conf come from the submit command; ``getOrCreate`` then reuses
that context and the settings only fill in what the submit did not set.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from riskpipe.settings import Settings

log = logging.getLogger(__name__)

# Conf every riskpipe session has: UTC everywhere, deterministic output, no surprise inference.
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.adaptive.enabled": "true",
}


def get_spark(app_name: str = "riskpipe", settings: Settings | None = None) -> SparkSession:
    """Return the active SparkSession or build one from settings (master, shuffle partitions, conf)."""
    from pyspark.sql import SparkSession

    from riskpipe.settings import get_settings

    s = settings or get_settings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    # spark-submit launches Python with a gateway already open: its --master/--conf win then.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted:
        builder = builder.master(s.spark_master).config("spark.driver.memory", s.spark_driver_memory)
    conf = {**BASE_CONF, "spark.sql.shuffle.partitions": str(s.spark_shuffle_partitions), **s.spark_conf}
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.debug("spark session %s on %s", app_name, spark.sparkContext.master)
    return spark
