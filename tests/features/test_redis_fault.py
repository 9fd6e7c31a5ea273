"""Redis failures: a dedicated redis-server is killed mid-materialisation and while reading."""

from __future__ import annotations

import os
import signal
import time

import pytest

from riskpipe.features.materialize import materialize, materialized_until
from riskpipe.features.online import OnlineStoreUnavailable, online_features
from riskpipe.features.skew import check_skew
from riskpipe.features.store import FeatureStoreError
from riskpipe.features.tables import FEATURE_TABLES
from riskpipe.settings import load_settings
from tests.features import synth
from tests.features.conftest import unique_project
from tests.features.test_embedded import assert_row_matches

D = synth.DAYS
pytestmark = pytest.mark.services


def _settings(data_dir, redis_url):
    # DuckDB offline + file registry keep this test fast; only the online store is Redis
    return load_settings(data_dir=data_dir, feast_offline_store="duckdb", feast_online_store="redis",
                         feast_registry="file", redis_url=redis_url, online_read_timeout_ms=300)


def test_redis_killed_mid_materialisation_then_rerun(tmp_path, redis_server):
    from riskpipe.features.store import get_store

    settings = _settings(tmp_path / "data", redis_server.url)
    synth.write_all(settings.features, days=D[:2])
    store = get_store(settings, project=unique_project("rp_fault"), apply=True)
    order = sorted(FEATURE_TABLES)
    first, failing = order[0], order[1]

    def kill_after_first(view: str) -> None:
        if view == first:
            redis_server.kill()

    with pytest.raises(FeatureStoreError) as info:
        materialize(D[1], settings=settings, store=store, on_view=kill_after_first)
    msg = str(info.value)
    assert f"stopped at feature view {failing}" in msg
    assert f"redis online store 127.0.0.1:{redis_server.port} failed" in msg
    assert "not recorded as materialised" in msg and f"riskpipe materialize --date {D[1]}" in msg
    # the view that was written is recorded; the one that failed and the ones after it are not
    assert materialized_until(store, first) is not None
    for view in order[1:]:
        assert materialized_until(store, view) is None, view

    # reads fail (not hang) and say why; no wall-clock bound here: tests do not time things, and a
    # loaded machine made the first read's set-up exceed one (the bound is the hang test's timeout)
    with pytest.raises(OnlineStoreUnavailable, match=f"redis at 127.0.0.1:{redis_server.port}"):
        online_features("fraud_v1", [synth.fraud_row("c1")],
                        settings=settings, store=store)

    # restart (empty: no persistence) and rerun: every view is loaded with the right values
    redis_server.start()
    result = materialize(D[1], settings=settings, store=store)
    assert result.materialized == order
    out = online_features("fraud_v1", [synth.fraud_row(c, amount=5.0) for c in synth.CUSTOMERS],
                          settings=settings, store=store)
    for i, cust in enumerate(synth.CUSTOMERS):
        row = {k: v[i] for k, v in out.items()}
        assert assert_row_matches(row, "customer_fraud_daily", cust, synth.ts(D[1], 8)) == 10
        assert assert_row_matches(row, "customer_graph_daily", cust, synth.ts(D[1], 8)) == 4
    assert check_skew("credit_pd_v1", settings=settings, store=store).ok


def test_online_read_is_bounded_when_redis_hangs(tmp_path, redis_server):
    from riskpipe.features.store import get_store

    settings = _settings(tmp_path / "data", redis_server.url)
    synth.write_all(settings.features, days=D[:1])
    store = get_store(settings, project=unique_project("rp_hang"), apply=True)
    materialize(D[0], settings=settings, store=store)
    rows = [synth.fraud_row("c2")]
    assert online_features("fraud_v1", rows, settings=settings, store=store)["txn_count_24h"] == [2000]
    os.kill(redis_server.proc.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:  # the read's own timeout ends it (a hang would never return): its error says so
        with pytest.raises(OnlineStoreUnavailable, match="exceeded 300 ms"):
            online_features("fraud_v1", rows, settings=settings, store=store)
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    time.sleep(1.0)  # let the abandoned read's retries drain
    assert online_features("fraud_v1", rows, settings=settings, store=store)["txn_count_24h"] == [2000]


def test_password_protected_redis(tmp_path):
    """The optional password (RISKPIPE_REDIS_PASSWORD) reaches Redis; a wrong one is a clear error."""
    from riskpipe.features.store import get_store
    from tests.features.conftest import RedisServer, free_port

    server = RedisServer(free_port(), tmp_path, "--requirepass", "s3cret-pw")
    server.start()
    try:
        good = load_settings(data_dir=tmp_path / "data", feast_offline_store="duckdb", feast_online_store="redis",
                             feast_registry="file", redis_url=server.url, redis_password="s3cret-pw")
        synth.write_all(good.features, days=D[:1])
        project = unique_project("rp_pw")
        store = get_store(good, project=project, apply=True)
        assert materialize(D[0], settings=good, store=store).materialized
        out = online_features("credit_pd_v1", [{"customer_id": "c4", "requested_amount": 1.0}],
                              settings=good, store=store)
        assert out["bureau_score"] == [4004]

        wrong = load_settings(data_dir=tmp_path / "data", feast_offline_store="duckdb", feast_online_store="redis",
                              feast_registry="file", redis_url=server.url, redis_password="nope")
        with pytest.raises(OnlineStoreUnavailable, match="redis at 127.0.0.1"):
            online_features("credit_pd_v1", [{"customer_id": "c4", "requested_amount": 1.0}],
                            settings=wrong, store=get_store(wrong, project=project))
    finally:
        server.kill()
