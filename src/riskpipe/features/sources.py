"""Batch sources for the feature tables, chosen by ``settings.offline_store`` (not by code forks).

* duckdb: a ``FileSource`` over the table directory ``<features>/<table>`` with an explicit
  ``ParquetFormat``. DuckDB (through ibis) reads the hive-partitioned directory and adds the ``dt``
  partition column. Without ``file_format`` Feast only reads paths ending in ``.parquet`` (a
  directory would silently yield nothing), so the format is always given.
* spark: a ``SparkSource`` over the same directory; ``dt`` is its date partition column, so the
  Spark offline store prunes partitions by the requested time range.
"""

from __future__ import annotations

from riskpipe.features.tables import CREATED_FIELD, FEATURE_TABLES, PARTITION_KEY, TIMESTAMP_FIELD
from riskpipe.settings import OfflineStore, Settings

OWNER = "risk-data-eng@riskpipe.example"
TEAM_TAGS = {"owner": "risk-data-eng", "producer": "dbt", "contract": "docs/feature-tables.md"}


def source_name(table: str) -> str:
    """One name per dataset: the table ``x`` feeds the Feast source ``x_source``."""
    return f"{table}_source"


def feature_table_source(table: str, settings: Settings):
    """The batch source of one contract table for the configured offline store."""
    spec = FEATURE_TABLES[table]
    path = str(spec.path(settings.features))
    tags = dict(TEAM_TAGS, table=table)
    if table == "customer_graph_daily":
        tags["producer"] = "spark-graph-job"
    common = dict(
        name=source_name(table),
        timestamp_field=TIMESTAMP_FIELD,
        created_timestamp_column=CREATED_FIELD,
        description=f"{spec.description} Layout: {path}/dt=YYYY-MM-DD/data.parquet.",
        owner=OWNER,
        tags=tags,
    )
    if settings.offline_store is OfflineStore.spark:
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

        return SparkSource(path=path, file_format="parquet", date_partition_column=PARTITION_KEY, **common)
    from feast import FileSource
    from feast.data_format import ParquetFormat

    return FileSource(path=path, file_format=ParquetFormat(), **common)
