"""customer_graph_daily (Spark job): components agree with an independent networkx computation
over the same point-in-time links with the same degree caps; fraud-ring members end up together."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import networkx as nx
import pandas as pd
import pyarrow.parquet as pq

from riskpipe.indicators.graph import SILVER_INPUTS, build_graph
from riskpipe.indicators.graph import _silver as graph_silver
from tests.indicators.conftest import LAST


def _silver(settings, name: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in sorted(Path(settings.silver / name).glob("dt=*/*.parquet"))],
                     ignore_index=True)


def test_graph_components_match_networkx(world, spark):
    path = build_graph(LAST, world, spark, max_ip_customers=3, max_device_customers=20)
    assert path == world.features / "customer_graph_daily" / f"dt={LAST.isoformat()}" / "data.parquet"
    schema = pq.read_schema(path)
    assert schema.names == ["customer_id", "feature_ts", "created_ts", "component_id", "component_size",
                            "max_customers_per_device", "component_bad_share"]
    assert [str(t) for t in schema.types[3:]] == ["string", "int64", "int64", "double"]
    out = pd.read_parquet(path).set_index("customer_id")
    assert out.index.is_unique

    t = pd.Timestamp(LAST.isoformat(), tz="UTC")

    def known(df):
        return df[(df["event_ts"] < t) & (df["known_at"] <= t)]

    ev, tx, cu = known(_silver(world, "device_events")), known(_silver(world, "transactions")), known(
        _silver(world, "customers"))
    links = pd.concat([
        pd.DataFrame({"c": ev["customer_id"], "k": "device:" + ev["device_id"]}),
        pd.DataFrame({"c": ev["customer_id"], "k": "ip:" + ev["ip"]}),
        pd.DataFrame({"c": tx["customer_id"], "k": "device:" + tx["device_id"]}).dropna(),
        pd.DataFrame({"c": cu["customer_id"], "k": "phone:" + cu["phone_token"]}).dropna(),
    ]).drop_duplicates()
    deg = links.groupby("k")["c"].nunique()
    capped = deg[(deg.index.str.startswith("ip:") & (deg > 3)) | (deg.index.str.startswith("device:") & (deg > 20))]
    assert len(capped) > 0, "the world has public IPs above the cap, so the cap is exercised"
    kept = links[~links["k"].isin(capped.index)]
    g = nx.Graph()
    g.add_nodes_from(set(links["c"]) | set(tx["customer_id"]) | set(cu["customer_id"]))
    g.add_edges_from(zip(kept["c"], kept["k"], strict=False))
    expected = {}
    for comp in nx.connected_components(g):
        members = sorted(n for n in comp if not str(n).startswith(("device:", "ip:", "phone:")))
        for m in members:
            expected[m] = (members[0], len(members))
    assert set(out.index) == set(expected)
    exp = pd.DataFrame.from_dict(expected, orient="index", columns=["component_id", "component_size"])
    exp = exp.reindex(out.index)
    assert (out["component_id"] == exp["component_id"]).all()
    assert (out["component_size"] == exp["component_size"]).all()
    assert (out["component_size"] > 1).any()
    dev = kept[kept["k"].str.startswith("device:")]
    per_dev = dev.groupby("k")["c"].nunique()
    mcpd = dev.assign(n=dev["k"].map(per_dev)).groupby("c")["n"].max().reindex(out.index).fillna(0)
    assert (out["max_customers_per_device"] == mcpd).all()
    assert out["component_bad_share"].between(0, 1).all()

    # fraud rings share devices: members with device events at T are in one component
    truth = pd.read_parquet(world.ground_truth / "customers.parquet")
    ring = truth[truth["ring_id"] >= 0].set_index("customer_id")["ring_id"]
    active = ring[ring.index.isin(ev["customer_id"])]
    for _, members in active.groupby(active):
        if len(members) > 1:
            assert out.loc[members.index, "component_id"].nunique() == 1

    again = build_graph(LAST, world, spark, max_ip_customers=3, max_device_customers=20)
    assert pd.read_parquet(again).equals(pd.read_parquet(path))


@contextmanager
def _jvm_log(spark):
    """What the JVM's log4j writes while the block runs, as text (``captured()`` after the block)."""
    jvm = spark._jvm
    ctx = jvm.org.apache.logging.log4j.LogManager.getContext(False)
    config = ctx.getConfiguration()
    writer = jvm.java.io.StringWriter()
    layout = jvm.org.apache.logging.log4j.core.layout.PatternLayout.createDefaultLayout()
    appender = jvm.org.apache.logging.log4j.core.appender.WriterAppender.createAppender(
        layout, None, writer, "riskpipe-test-capture", False, True)
    appender.start()
    config.addAppender(appender)
    config.getRootLogger().addAppender(appender, None, None)
    ctx.updateLoggers()
    try:
        yield writer.toString
    finally:
        config.getRootLogger().removeAppender("riskpipe-test-capture")
        ctx.updateLoggers()
        appender.stop()


def test_graph_reads_silver_without_warning_stack_traces(world, spark):
    """The job's silver reads log no FileStreamSink WARN with a FileNotFoundException stack trace (what a
    ``dt=*`` glob path gives on every read: it reads like a failure in the task log)."""
    root = world.silver / "transactions"
    with _jvm_log(spark) as captured:  # the capture sees the warning a glob read logs
        spark.read.option("basePath", str(root)).parquet(str(root / "dt=*"))
    assert "FileStreamSink" in captured() and "FileNotFoundException" in captured()
    with _jvm_log(spark) as captured:
        frames = {name: graph_silver(spark, world, name) for name in SILVER_INPUTS}
    assert "FileStreamSink" not in captured() and "FileNotFoundException" not in captured(), captured()
    for name, df in frames.items():  # every partition folder is read
        assert df is not None, name
        assert df.count() == len(_silver(world, name)), name
