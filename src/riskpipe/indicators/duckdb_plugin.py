"""dbt-duckdb plugin: file-system helpers the ``feature_partition`` materialization calls from SQL.

DuckDB's ``COPY ... TO`` cannot create nested directories nor rename a file. The materialization
writes a partition to a hidden temporary file next to its final place and then swaps it in, so a
crash mid-write leaves the previous good ``data.parquet`` readable (atomic publication):

* ``riskpipe_mkdirs(path)``: create ``path`` and its parents; returns ``path``.
* ``riskpipe_publish(src, dst)``: ``os.replace(src, dst)`` (atomic on one file system); returns ``dst``.
* ``riskpipe_silver_files(dir)``: number of ``*.parquet`` files under ``dir`` (0 when it is missing),
  so staging can read a dataset that has not received any rows yet as an empty relation.

Configured in ``dbt/profiles.yml`` (``plugins: - module: riskpipe.indicators.duckdb_plugin``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin


def mkdirs(path: str) -> str:
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def publish(src: str, dst: str) -> str:
    os.replace(src, dst)
    return dst


def silver_files(path: str) -> int:
    root = Path(path)
    return sum(1 for _ in root.glob("dt=*/*.parquet")) if root.is_dir() else 0


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:  # noqa: D102 - nothing to configure
        pass

    def configure_connection(self, conn: Any) -> None:
        """Register the helpers as scalar UDFs (side effects: keep them out of constant folding)."""
        conn.create_function("riskpipe_mkdirs", mkdirs, ["VARCHAR"], "VARCHAR", side_effects=True)
        conn.create_function("riskpipe_publish", publish, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=True)
        conn.create_function("riskpipe_silver_files", silver_files, ["VARCHAR"], "BIGINT", side_effects=True)
