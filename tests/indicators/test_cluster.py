"""The cluster target (dbt-spark, method session) builds the same partitions as the local target,
run here against the test session's local Spark (the same SQL runs on a cluster's session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from riskpipe.indicators.build import build_indicators
from tests.indicators.conftest import MID

TABLES = ("customer_fraud_daily", "fraud_txn")


def private_lake(world, tmp_path, name: str):
    """A lake sharing ``world``'s silver (read only) with features of its own."""
    lake = tmp_path / name
    lake.mkdir()
    (lake / "silver").symlink_to(world.silver, target_is_directory=True)
    return lake


def cluster_settings(world, lake, **extra):
    from riskpipe.settings import load_settings

    return load_settings(data_dir=world.data_dir, lake_dir=lake, dbt_target="cluster", dbt_threads=1,
                         spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g", **extra)


def assert_same_partition(result, table: str, lake, local_path, key: str) -> int:
    """The cluster build's partition of ``table`` equals the local one (schema, types, rows, values);
    returns its row count."""
    node = result.tables[table]
    path = lake / "features" / table / f"dt={MID.isoformat()}" / "data.parquet"
    assert node.status == "success" and node.path == str(path) and path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.parquet"]
    assert pq.read_schema(path).names == pq.read_schema(local_path).names
    assert [str(t) for t in pq.read_schema(path).types] == [str(t) for t in pq.read_schema(local_path).types]
    cluster = pd.read_parquet(path).set_index(key).sort_index()
    local = pd.read_parquet(local_path).set_index(key).sort_index()
    assert list(cluster.index) == list(local.index)
    for col in local.columns:
        a, b = cluster[col], local[col]
        if pd.api.types.is_numeric_dtype(b):
            assert np.allclose(a.astype(float), b.astype(float), rtol=1e-9, equal_nan=True), f"{table}.{col}"
        else:
            assert ((a == b) | (a.isna() & b.isna())).all(), f"{table}.{col}"
    assert not any((lake / "features" / "_staging").glob("*/*/*")), "staging folders are cleaned up"
    return len(local)


def test_cluster_target_matches_local_target(world, built, spark, tmp_path):
    lake = private_lake(world, tmp_path, "lake")
    s = cluster_settings(world, lake)
    # data tests are the same SQL as on the local target and cost a Spark job each: models only
    result = build_indicators(MID, s, select=[f"+{t}" for t in TABLES], exclude=["test_type:data", "test_type:unit"])
    assert result.target == "cluster"
    for table in TABLES:
        local_path = world.features / table / f"dt={MID.isoformat()}" / "data.parquet"
        key = "txn_id" if table == "fraud_txn" else "customer_id"
        assert assert_same_partition(result, table, lake, local_path, key) > 0


LABELS = {"label_fraud": "txn_id", "label_credit_pd": "application_id", "label_early_warning": "loan_id"}


def test_cluster_target_builds_the_label_tables_like_the_local_target(world, spark, tmp_path):
    """The label models (labels.yml parameters as dbt vars, label_status) on dbt-spark: the same rows as
    on duckdb. The fraud window is shortened to 1 day so that MID's transactions have matured labels
    by the world's horizon; credit_pd (365 days) and early_warning (30) have none yet: their (empty)
    partitions must still match in schema."""
    local_lake, cluster_lake = private_lake(world, tmp_path, "local"), private_lake(world, tmp_path, "cluster")
    from riskpipe.settings import load_settings

    local = build_indicators(MID, load_settings(data_dir=world.data_dir, lake_dir=local_lake, fraud_label_days=1),
                             select=[f"+{t}" for t in LABELS], exclude=["test_type:unit"])
    cluster = build_indicators(MID, cluster_settings(world, cluster_lake, fraud_label_days=1), select=[f"+{t}" for t in LABELS],
                               exclude=["test_type:data", "test_type:unit"])
    assert (local.target, cluster.target) == ("local", "cluster")
    rows = {t: assert_same_partition(cluster, t, cluster_lake,
                                     local_lake / "features" / t / f"dt={MID.isoformat()}" / "data.parquet", k)
            for t, k in LABELS.items()}
    assert rows["label_fraud"] > 0 and rows["label_credit_pd"] == rows["label_early_warning"] == 0
    statuses = set(pd.read_parquet(cluster_lake / "features" / "label_fraud" / f"dt={MID.isoformat()}")["label_status"])
    assert statuses <= {"bad", "good"} and "good" in statuses
