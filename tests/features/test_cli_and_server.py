"""The command line and the HTTP feature server, as an operator uses them.

``riskpipe feast-config`` writes feature_store.yaml from settings, ``feast plan``/``feast apply`` run
on it from the command line, the ``riskpipe`` commands materialise / build a training set / check
skew, and ``feast serve`` answers POST /get-online-features over HTTP.
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from riskpipe.settings import reset_settings
from tests.features import synth
from tests.features.conftest import FEAST, copy_repo, free_port, riskpipe_env, unique_project, wait_healthy

D = synth.DAYS


@pytest.fixture(scope="module")
def cli_repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data_dir = root / "data"
    env = {"RISKPIPE_DATA_DIR": str(data_dir), "RISKPIPE_MODE": "embedded"}
    repo = copy_repo(root / "feature_repo")
    project = unique_project("rp_cli")
    from riskpipe.settings import load_settings

    synth.write_all(load_settings(data_dir=data_dir).features, days=D[:3])
    return repo, env, project, data_dir


def _invoke(monkeypatch, env: dict[str, str], args: list[str]):
    from riskpipe.cli import app

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    try:
        return CliRunner().invoke(app, args, catch_exceptions=False)
    finally:
        reset_settings()


@pytest.mark.slow
def test_feast_cli_plan_and_apply_from_generated_yaml(cli_repo, monkeypatch):
    repo, env, project, data_dir = cli_repo
    res = _invoke(monkeypatch, env, ["feast-config", "--project", project, "--repo", str(repo)])
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load((repo / "feature_store.yaml").read_text())
    assert cfg["project"] == project and cfg["offline_store"]["type"] == "duckdb"
    assert cfg["registry"]["path"] == str(data_dir.resolve() / "feast" / "registry.db")
    proc = subprocess.run(
        ["bash", "-c", f"{FEAST} -c {repo} plan && {FEAST} -c {repo} apply"],
        env=riskpipe_env(env), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "credit_pd_v1" in proc.stdout and "customer_fraud_daily" in proc.stdout
    from riskpipe.features.store import get_store
    from riskpipe.settings import load_settings

    store = get_store(load_settings(data_dir=data_dir), project=project)
    assert {s.name for s in store.list_feature_services()} == {"credit_pd_v1", "credit_pd_v2", "fraud_v1", "early_warning_v1"}


@pytest.mark.slow
def test_riskpipe_commands_and_feast_serve(cli_repo, monkeypatch, tmp_path):
    repo, env, project, data_dir = cli_repo
    res = _invoke(monkeypatch, env, ["feast-apply", "--project", project, "--repo", str(repo)])
    assert res.exit_code == 0, res.output
    res = _invoke(monkeypatch, env, ["materialize", "--date", D[2].isoformat(), "--project", project])
    assert res.exit_code == 0, res.output
    assert "materialized customer_fraud_daily: 5 rows" in res.output
    res = _invoke(monkeypatch, env, ["check-skew", "--feature-service", "fraud_v1", "--project", project, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output[res.output.index("{"):])
    assert report["ok"] and report["entities"] == 5

    ents = tmp_path / "ents.parquet"
    pd.DataFrame({"customer_id": ["c1", "c2"], "event_timestamp": pd.to_datetime([synth.ts(D[1], 9), synth.ts(D[2], 9)], utc=True),
                  "amount": [10.0, 20.0], "channel": ["pos", "ecom"], "merchant_country": ["DE", "FR"],
                  "device_id": [None, "d-new"]}).to_parquet(ents)
    out = tmp_path / "fraud_ts.parquet"
    res = _invoke(monkeypatch, env, ["training-set", "--feature-service", "fraud_v1", "--entities", str(ents),
                                     "--out", str(out), "--project", project])
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out)
    assert list(frame["txn_count_24h"]) == [1010, 2020]
    assert list(frame["is_ecom"]) == [0, 1] and list(frame["is_new_device"]) == [0, 1]
    assert json.loads((tmp_path / "fraud_ts.manifest.json").read_text())["row_counts"]["rows_out"] == 2
    from riskpipe.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown feature service 'fraud_v9'"):
        _invoke(monkeypatch, env, ["training-set", "--feature-service", "fraud_v9", "--entities", str(ents),
                                   "--out", str(out), "--project", project])

    # the HTTP feature server over the same registry and online store
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([FEAST, "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port), "--no-access-log"],
                              env=riskpipe_env(env), stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(server, base, tmp_path / "serve.log", "feast serve")
        body = {"feature_service": "fraud_v1",
                "entities": {"customer_id": ["c1", "nobody"], "amount": [2000.0, 5.0],
                             "request_epoch_s": [1767589200, 1767589200], "channel": ["ecom", "pos"],
                             "merchant_country": ["FR", "DE"], "device_id": ["d-new", None]}}
        r = httpx.post(f"{base}/get-online-features", json=body, timeout=30)
        assert r.status_code == 200, r.text
        payload = r.json()
        names = payload["metadata"]["feature_names"]
        vec = {n: res["values"] for n, res in zip(names, payload["results"], strict=True)}
        assert vec["customer_id"] == ["c1", "nobody"]
        assert vec["txn_count_24h"] == [synth.value("customer_fraud_daily", 0, "long", "c1", D[2]), None]
        assert vec["amount_mean_30d"] == [synth.value("customer_fraud_daily", 4, "double", "c1", D[2]), None]
        assert vec["amount_to_mean_30d"][0] == 2000.0 / synth.value("customer_fraud_daily", 4, "double", "c1", D[2])
        assert vec["component_size"][1] is None
        # the transaction's context through the on-demand view over HTTP: c1's home country is the
        # synthetic table's string, so any real country is cross-border; an unknown device is new
        assert (vec["is_ecom"], vec["is_cross_border"], vec["is_new_device"]) == ([1, 0], [1, None], [1, 0])
        # malformed requests are client errors, not 5xx
        bad = httpx.post(f"{base}/get-online-features", content=b"{not json", timeout=30,
                         headers={"content-type": "application/json"})
        assert 400 <= bad.status_code < 500, bad.text
        missing = httpx.post(f"{base}/get-online-features", json={"feature_service": "fraud_v1"}, timeout=30)
        assert 400 <= missing.status_code < 500, missing.text
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_feature_server_command_carries_the_production_options(tmp_path):
    from riskpipe.features.server import feature_server_command
    from riskpipe.settings import load_settings

    argv, env = feature_server_command(load_settings(data_dir=tmp_path), host="127.0.0.1", port=7001,
                                       repo_path=tmp_path / "repo", environ={"PATH": "/bin"})
    assert argv[0].endswith("feast") and argv[1:4] == ["-c", str(tmp_path / "repo"), "serve"]
    opts = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert opts["--max-requests"] == "0" and opts["--workers"] == "1" and opts["--registry_ttl_sec"] == "60"
    assert "--no-access-log" in argv and env == {"PATH": "/bin", "PYTHONOPTIMIZE": "1"}
    argv, env = feature_server_command(
        load_settings(data_dir=tmp_path, feature_server_access_log=True, feature_server_optimize=False,
                      feature_server_workers=3, feature_server_max_requests=5000),
        host="0.0.0.0", port=7002, environ={"PYTHONOPTIMIZE": "2"})
    opts = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert (opts["-h"], opts["-p"], opts["--workers"], opts["--max-requests"]) == ("0.0.0.0", "7002", "3", "5000")
    assert "--no-access-log" not in argv and "PYTHONOPTIMIZE" not in env


def _children(pid: int) -> set[int]:
    return {int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()}


@pytest.mark.slow
@pytest.mark.services
def test_riskpipe_feature_server_on_redis(tmp_path, redis_available):
    """`riskpipe feature-server` is Feast's server on Redis, started with the production options applied."""
    import http.client

    from riskpipe.features.materialize import materialize
    from riskpipe.features.store import drop_project, get_store
    from riskpipe.settings import load_settings
    from tests.features.conftest import REDIS_TEST_DB

    redis_url = redis_available.rsplit("/", 1)[0] + f"/{REDIS_TEST_DB}"
    env = {"RISKPIPE_DATA_DIR": str(tmp_path / "data"), "RISKPIPE_MODE": "embedded",
           "RISKPIPE_FEAST_ONLINE_STORE": "redis", "RISKPIPE_REDIS_URL": redis_url,
           "RISKPIPE_ONLINE_READ_TIMEOUT_MS": "5000"}
    settings = load_settings(data_dir=tmp_path / "data", feast_online_store="redis", redis_url=redis_url,
                             online_read_timeout_ms=5000)
    synth.write_all(settings.features, days=D[:3])
    project = unique_project("rp_fsrv")
    store = get_store(settings, project=project, apply=True)
    repo = copy_repo(tmp_path / "feature_repo")
    port = free_port()
    log_path = tmp_path / "feature-server.log"
    log = log_path.open("w")
    server = None
    try:
        assert "customer_credit_daily" in materialize(D[2], settings=settings, store=store).materialized
        riskpipe = str(FEAST).removesuffix("feast") + "riskpipe"
        # bytecode caches go to a private directory: which files the server writes there shows whether
        # Feast's code ran optimised (*.opt-1.pyc; typeguard's @typechecked is then a no-op)
        pycache = tmp_path / "pycache"
        server_env = {**riskpipe_env(env), "PYTHONPYCACHEPREFIX": str(pycache)}
        server_env.pop("PYTHONDONTWRITEBYTECODE", None)
        server = subprocess.Popen([riskpipe, "feature-server", "--host", "127.0.0.1", "--port", str(port),
                                   "--project", project, "--repo", str(repo)],
                                  env=server_env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_healthy(server, base, log_path, "riskpipe feature-server")
        # the command became feast serve's gunicorn master (same pid), with one worker, running optimised
        assert open(f"/proc/{server.pid}/cmdline").read().startswith("gunicorn: master")
        workers = _children(server.pid)
        assert len(workers) == 1
        compiled = {p.name for p in pycache.rglob("feature_server.*.pyc") if p.parent.name == "feast"}
        assert compiled and all(".opt-1." in name for name in compiled), compiled

        # values from Redis, unknown entity null, request field used by the on-demand view
        body = {"feature_service": "credit_pd_v1",
                "entities": {"customer_id": ["c2", "nobody"], "requested_amount": [5000.0, 10.0]}}
        r = httpx.post(f"{base}/get-online-features", json=body, timeout=30)
        assert r.status_code == 200, r.text
        payload = r.json()
        vec = {n: res["values"] for n, res in zip(payload["metadata"]["feature_names"], payload["results"],
                                                   strict=True)}
        income = synth.value("customer_credit_daily", 1, "double", "c2", D[2])
        assert vec["bureau_score"] == [synth.value("customer_credit_daily", 4, "int", "c2", D[2]), None]
        assert vec["annual_income"] == [income, None]
        assert vec["requested_to_income"] == [5000.0 / income, None]
        # malformed requests are still client errors with the server optimised (no asserts, no typeguard)
        bad = httpx.post(f"{base}/get-online-features", content=b"{not json", timeout=30,
                         headers={"content-type": "application/json"})
        assert 400 <= bad.status_code < 500, bad.text
        missing = httpx.post(f"{base}/get-online-features", json={"feature_service": "credit_pd_v1"}, timeout=30)
        assert 400 <= missing.status_code < 500, missing.text

        # no worker recycling: Feast's default (--max-requests 1000) closes this connection mid-stream
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        one = json.dumps({"feature_service": "credit_pd_v1",
                          "entities": {"customer_id": ["c1"], "requested_amount": [100.0]}})
        try:
            for i in range(1100):
                conn.request("POST", "/get-online-features", body=one, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                assert resp.status == 200, (i, resp.read()[:300])
                resp.read()
        finally:
            conn.close()
        assert _children(server.pid) == workers
        assert "/get-online-features" not in log_path.read_text()  # access log off
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
        drop_project(store)
