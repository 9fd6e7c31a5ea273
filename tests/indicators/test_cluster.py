"""The cluster target (dbt-spark, method session) builds the same partitions as the local target,
run here against the test session's local Spark (the same SQL runs on a cluster's session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from riskpipe.indicators.build import build_indicators
from tests.indicators.conftest import MID, read_partition

TABLES = ("customer_fraud_daily", "fraud_txn")


def test_cluster_target_matches_local_target(world, built, spark, tmp_path):
    from riskpipe.settings import load_settings

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "silver").symlink_to(world.silver, target_is_directory=True)
    s = load_settings(data_dir=world.data_dir, lake_dir=lake, dbt_target="cluster", dbt_threads=1,
                      spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g")
    # data tests are the same SQL as on the local target and cost a Spark job each: models only
    result = build_indicators(MID, s, select=[f"+{t}" for t in TABLES], exclude=["test_type:data", "test_type:unit"])
    assert result.target == "cluster"
    for table in TABLES:
        node = result.tables[table]
        path = lake / "features" / table / f"dt={MID.isoformat()}" / "data.parquet"
        assert node.status == "success" and node.path == str(path) and path.is_file()
        assert sorted(p.name for p in path.parent.iterdir()) == ["data.parquet"]
        local_path = world.features / table / f"dt={MID.isoformat()}" / "data.parquet"
        assert pq.read_schema(path).names == pq.read_schema(local_path).names
        assert [str(t) for t in pq.read_schema(path).types] == [str(t) for t in pq.read_schema(local_path).types]
        key = "txn_id" if table == "fraud_txn" else "customer_id"
        cluster = pd.read_parquet(path).set_index(key).sort_index()
        local = read_partition(world, table, MID).set_index(key).sort_index()
        assert list(cluster.index) == list(local.index) and len(local) > 0
        for col in local.columns:
            a, b = cluster[col], local[col]
            if pd.api.types.is_numeric_dtype(b):
                assert np.allclose(a.astype(float), b.astype(float), rtol=1e-9, equal_nan=True), f"{table}.{col}"
            else:
                assert ((a == b) | (a.isna() & b.isna())).all(), f"{table}.{col}"
    assert not any((lake / "features" / "_staging").glob("*/*/*")), "staging folders are cleaned up"
