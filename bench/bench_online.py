"""Online reads and the scoring API, on the production online store (Redis on 127.0.0.1:6379).

Set-up (not timed): one day of every feature table for N customers (random values in the contract's
schema), materialised by Feast into Redis db 13 (flushed before and after), a credit_pd model trained
on the credit_pd_v1 feature names and made champion in a private MLflow, and ``riskpipe serve`` /
``riskpipe feature-server`` (Feast's ``feast serve`` with our production options) started as their own
processes (so the load generator does not share their GIL).

Figures, each beside an anchor measured in the same run (latencies after warm-up, random customers):
- Feast online read of the ``credit_pd_v1`` vector, in-process: p50/p99 vs a raw redis-py round trip
  (one pipelined HGETALL of the same entity keys). Goal (#6): p99 < 2 ms.
- the same vector over HTTP from Feast's feature server: p99 vs the raw round trip. Goal (#6): p99 < 5 ms.
- scoring API (``POST /v1/score/credit_pd``: online features + model + reason codes + decision log),
  one client, 10,000 requests: p99 vs the in-process feature read alone. Goal (#7): p99 < 10 ms.
- scoring API throughput with 4 and 16 concurrent clients vs one client (requests/s).
- the scoring API with a champion on ``credit_pd_v2`` (the bureau pull in every request, two on-demand
  views): p99 vs the in-process read of the v2 vector alone. Goal (#7): p99 < 10 ms.
The decision log's overhead on the API (#10) is bench_decisionlog, on the same set-up (``served_world``).
Lower is better for latencies and their ratios; higher for throughput. Scales: small 20k customers
and 3,000 timed requests per figure; full 1M customers and 10,000 requests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

DAY = dt.date(2026, 1, 5)
REDIS_DB = 13
REPO = Path(__file__).resolve().parents[1]
SCORING_REQUESTS = 10_000  # timed scoring API requests (1 client), at every scale


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(lat: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(lat) * 1000.0, q))


def _write_tables(features: Path, n: int, rng: np.random.Generator) -> list[str]:
    """One validated partition per feature table, ``n`` customers (and n/2 loans); returns the ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from riskpipe.features.tables import DATA_FILE, FEATURE_TABLES, VALIDATED_MARKER, arrow_schema

    customers = np.array([f"C{i:08d}" for i in range(1, n + 1)], dtype=object)
    ts = dt.datetime(DAY.year, DAY.month, DAY.day)
    for t in FEATURE_TABLES.values():
        if t.keys == ("loan_id",):
            m = max(1, n // 2)
            cols = {"loan_id": np.array([f"L{i:08d}" for i in range(1, m + 1)], dtype=object),
                    "customer_id": customers[:m]}
        else:
            m, cols = n, {"customer_id": customers}
        cols["feature_ts"] = [ts] * m
        cols["created_ts"] = [ts] * m
        for name, kind in t.features:
            if kind == "double":
                cols[name] = rng.uniform(0, 1000, m)
            elif kind in ("int", "long"):
                cols[name] = rng.integers(0, 100, m)
            elif kind == "string":
                cols[name] = np.array([f"v{x}" for x in rng.integers(0, 5, m)], dtype=object)
            else:
                cols[name] = [ts - dt.timedelta(minutes=int(x)) for x in rng.integers(0, 600, m)]
        part = t.partition(features, DAY)
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols, schema=arrow_schema(t)), part / DATA_FILE)
        (part / VALIDATED_MARKER).write_text("bench\n")
    return list(customers)


def _env(work: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKPIPE_")}
    env.update({"RISKPIPE_DATA_DIR": str(work), "RISKPIPE_MODE": "embedded", "RISKPIPE_FEAST_OFFLINE_STORE": "duckdb",
                "RISKPIPE_FEAST_ONLINE_STORE": "redis", "RISKPIPE_FEAST_REGISTRY": "file",
                "RISKPIPE_REDIS_URL": redis_url, "RISKPIPE_ONLINE_READ_TIMEOUT_MS": "5000",
                "RISKPIPE_LOG_LEVEL": "WARNING", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", **extra})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@contextlib.contextmanager
def _process(cmd: list[str], env: dict[str, str], ready_url: str, log: Path):
    import httpx

    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(ready_url, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(cmd)} not ready: {log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _timed(fn, args: list, warmup: int) -> list[float]:
    for a in args[:warmup]:
        fn(a)
    out = []
    for a in args[warmup:]:
        t0 = time.perf_counter()
        fn(a)
        out.append(time.perf_counter() - t0)
    return out


def _http_load(url: str, bodies: list[dict], clients: int) -> tuple[list[float], float]:
    """``clients`` threads, each with its own keep-alive connection, share ``bodies``; (latencies, req/s).

    The client is the standard library's ``http.client`` (one persistent connection per thread, JSON
    encoded per request inside the timed span): it costs ~0.3 ms of CPU per request where httpx costs
    ~1 ms, and on this 2-core machine that CPU is taken from the server being measured. Every request
    must answer 200 on its connection: a dropped connection (a server recycling its worker) fails the
    run instead of silently shortening the sample.
    """
    import http.client
    import json
    from urllib.parse import urlsplit

    u = urlsplit(url)
    chunks = [bodies[i::clients] for i in range(clients)]
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    start = threading.Barrier(clients + 1)
    headers = {"Content-Type": "application/json"}

    def post(conn: http.client.HTTPConnection, body: dict) -> tuple[int, bytes]:
        conn.request("POST", u.path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            post(conn, chunks[i][0])  # connect
            start.wait()
            for b in chunks[i]:
                t0 = time.perf_counter()
                status, data = post(conn, b)
                lat[i].append(time.perf_counter() - t0)
                if status != 200:
                    errors.append(f"{status} {data[:300]!r}")
        except Exception as err:  # noqa: BLE001 - reported below, with the count of requests answered
            errors.append(f"{type(err).__name__}: {err} after {len(lat[i])} requests")
            start.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    flat = [x for xs in lat for x in xs]
    if errors or len(flat) != len(bodies):
        raise RuntimeError(f"{len(errors)} failed requests, {len(flat)} of {len(bodies)} answered, "
                           f"e.g. {errors[0] if errors else '?'}")
    return flat, len(flat) / wall


def _pull(rng: np.random.Generator) -> dict[str, Any]:
    """A bureau report as a lender's pull returns it (``bureau_pull`` of a credit_pd_v2 request)."""
    return {"bureau_score": int(rng.integers(300, 851)), "open_accounts": int(rng.integers(0, 20)),
            "total_balance": round(float(rng.uniform(0, 50_000)), 2), "delinquencies_24m": int(rng.integers(0, 4)),
            "inquiries_6m": int(rng.integers(0, 6)), "oldest_account_months": int(rng.integers(1, 400))}


def _pull_fields(pull: dict[str, Any]) -> dict[str, float]:
    """The request fields of a pull (serving's ``CreditApplication.entity``)."""
    return {f"pull_{k}": float(v) for k, v in pull.items()}


def _train_champion(s, store, customers: list[str], rng: np.random.Generator,
                    service: str = "credit_pd_v1") -> list[str]:
    """A credit_pd model on the numeric features of ``service``'s online vector, made champion."""
    import pandas as pd

    from riskpipe.features.online import online_features
    from riskpipe.models.registry import CHAMPION, configure_mlflow, set_alias
    from riskpipe.models.train import train_model

    row = {"customer_id": customers[0], "requested_amount": 1000.0}
    if service != "credit_pd_v1":
        row.update(_pull_fields(_pull(rng)))
    vec = online_features(service, [row], settings=s, store=store)
    feats = [k for k, v in vec.items() if k not in row and isinstance(v[0], int | float) and v[0] is not None]
    n = 4000
    df = pd.DataFrame({f: rng.uniform(0, 1000, n) for f in feats})
    df["application_date"] = pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 180, n), "D")
    z = (df[feats[0]] - 500) / 300 - (df[feats[1]] - 500) / 300
    df["label"] = (rng.random(n) < 1 / (1 + np.exp(2 - z))).astype(int)
    r = train_model(df, "label", feats, "application_date", "credit_pd", feature_service=service,
                    num_boost_round=100, settings=s)
    set_alias(configure_mlflow(s), "credit_pd", CHAMPION, r.challenger_version, action="promote",
              reason="benchmark", settings=s)
    return feats


@dataclasses.dataclass
class World:
    """What :func:`served_world` set up: settings, store, requests (``warm`` + ``n_req`` picks)."""

    s: Any
    store: Any
    redis: Any
    work: Path
    env: dict[str, str]
    customers: list[str]
    picks: list[str]
    amounts: np.ndarray
    warm: int
    n_req: int
    n_customers: int
    rng: np.random.Generator
    riskpipe_exe: str = str(Path(sys.executable).with_name("riskpipe"))

    def score_bodies(self, n: int) -> list[dict]:
        """``warm`` + at least ``n`` scoring requests: the picks first, then more random customers."""
        extra = self.rng.integers(0, len(self.customers), max(0, n - self.n_req))
        bodies = [{"customer_id": c, "requested_amount": float(a)} for c, a in zip(self.picks, self.amounts, strict=True)]
        return bodies + [{"customer_id": self.customers[j], "requested_amount": float(a)}
                         for j, a in zip(extra, self.rng.uniform(100, 20_000, len(extra)).round(2), strict=True)]

    @contextlib.contextmanager
    def scoring_api(self, name: str, **env: str):
        """``riskpipe serve`` as its own process; yields its credit_pd scoring URL."""
        port = _free_port()
        common = {"RISKPIPE_SERVE_SHADOW": "false", "RISKPIPE_SERVE_CHAMPION_CHECK_SECONDS": "60", **env}
        with _process([self.riskpipe_exe, "serve", "--host", "127.0.0.1", "--port", str(port)], {**self.env, **common},
                      f"http://127.0.0.1:{port}/health", self.work / f"serve-{name}.log"):  # only credit_pd has a champion: /ready is 503
            yield f"http://127.0.0.1:{port}/v1/score/credit_pd"


@contextlib.contextmanager
def served_world(scale: str, prefix: str):
    """One day of every feature table materialised into Redis db 13 (flushed before and after) and a
    credit_pd champion in a private MLflow, under a temporary folder (removed after)."""
    import redis

    from riskpipe.features.materialize import materialize
    from riskpipe.features.store import get_store
    from riskpipe.settings import load_settings, reset_settings

    n_customers, n_req = {"small": (20_000, 3_000), "full": (1_000_000, 10_000)}.get(scale, (1_000_000, 10_000))
    warm = 300
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    r = redis.Redis.from_url(redis_url)
    r.ping()  # fails clearly when Redis is not running
    r.flushdb()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    rng = np.random.default_rng(11)
    saved = dict(os.environ)
    try:
        env_base = _env(work, redis_url)
        os.environ.update({k: v for k, v in env_base.items() if k.startswith(("RISKPIPE_", "MLFLOW_"))})
        reset_settings()
        s = load_settings()
        customers = _write_tables(s.features, n_customers, rng)
        store = get_store(s, apply=True)
        done = materialize(DAY, settings=s, store=store)
        assert done.materialized, done.skipped
        _train_champion(s, store, customers, rng)
        picks = [customers[i] for i in rng.integers(0, len(customers), warm + n_req)]
        amounts = rng.uniform(100, 20_000, warm + n_req).round(2)
        yield World(s, store, r, work, env_base, customers, picks, amounts, warm, n_req, n_customers, rng)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        with contextlib.suppress(Exception):
            r.flushdb()
        shutil.rmtree(work, ignore_errors=True)


def run(scale: str) -> list[dict]:
    with served_world(scale, "bench-online-") as w:
        s, store, r, picks, amounts, warm, n_req = w.s, w.store, w.redis, w.picks, w.amounts, w.warm, w.n_req
        out: list[dict] = []
        # ---- Feast in-process vs raw Redis ------------------------------------------------------
        from feast.infra.online_stores.helpers import _redis_key
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        from riskpipe.features.online import online_features

        def feast_read(i: int) -> None:
            online_features("credit_pd_v1", [{"customer_id": picks[i], "requested_amount": float(amounts[i])}],
                            settings=s, store=store)

        version = store.config.entity_key_serialization_version
        keys = [_redis_key(store.project, EntityKey(join_keys=["customer_id"], entity_values=[Value(string_val=c)]),
                           entity_key_serialization_version=version) for c in picks]
        assert r.exists(keys[0]), "materialised entity key not found in Redis"

        def raw_read(i: int) -> None:
            p = r.pipeline(transaction=False)
            p.hgetall(keys[i])
            p.execute()

        idx = list(range(warm + n_req))
        t_feast = _timed(feast_read, idx, warm)
        t_raw = _timed(raw_read, idx, warm)
        raw99 = _pct(t_raw, 99)
        out.append({"name": "Feast online read credit_pd_v1, in-process, p99", "figure": round(_pct(t_feast, 99), 3),
                    "unit": "ms", "anchor": "raw redis-py HGETALL round trip, p99", "anchor_figure": round(raw99, 3),
                    "ratio": round(_pct(t_feast, 99) / raw99, 2), "goal": "p99 < 2 ms",
                    "note": f"p50 {_pct(t_feast, 50):.3f} ms vs raw p50 {_pct(t_raw, 50):.3f} ms; {w.n_customers:,} "
                            f"customers in Redis, {n_req:,} requests"})

        # ---- feast serve over HTTP --------------------------------------------------------------
        repo = w.work / "feature_repo"  # the command writes feature_store.yaml into it from the settings
        shutil.copytree(REPO / "feature_repo", repo, ignore=shutil.ignore_patterns("feature_store.yaml", "__pycache__"))
        port = _free_port()
        # `riskpipe feature-server` execs `feast serve` with the production options (no worker
        # recycling, no access log, PYTHONOPTIMIZE=1 so typeguard's checks inside Feast are off)
        with _process([w.riskpipe_exe, "feature-server", "--host", "127.0.0.1", "--port", str(port), "--repo", str(repo)],
                      w.env, f"http://127.0.0.1:{port}/health", w.work / "feast-serve.log"):
            bodies = [{"feature_service": "credit_pd_v1",
                       "entities": {"customer_id": [picks[i]], "requested_amount": [float(amounts[i])]}}
                      for i in idx]
            _http_load(f"http://127.0.0.1:{port}/get-online-features", bodies[:warm], 1)
            t_http, _ = _http_load(f"http://127.0.0.1:{port}/get-online-features", bodies[warm:], 1)
        out.append({"name": "Feast online read credit_pd_v1, feast serve HTTP, p99", "figure": round(_pct(t_http, 99), 3),
                    "unit": "ms", "anchor": "raw redis-py HGETALL round trip, p99", "anchor_figure": round(raw99, 3),
                    "ratio": round(_pct(t_http, 99) / raw99, 2), "goal": "p99 < 5 ms",
                    "note": f"p50 {_pct(t_http, 50):.3f} ms; one keep-alive client (http.client); server: "
                            "riskpipe feature-server (feast serve, PYTHONOPTIMIZE=1, no worker recycling)"})

        # ---- the scoring API, decision log on (as in production) ---------------------------------
        score_bodies = w.score_bodies(SCORING_REQUESTS)
        with w.scoring_api("on") as url:
            _http_load(url, score_bodies[:warm], 1)
            timed = score_bodies[warm:]
            lat, thr1 = _http_load(url, timed, 1)
            thr = {1: thr1}
            for c in (4, 16):
                thr[c] = _http_load(url, timed[:n_req], c)[1]
        logged = sum(1 for _ in (w.work / "lake" / "decisions").rglob("*.parquet"))
        api99, feat99 = _pct(lat, 99), _pct(t_feast, 99)
        out.append({"name": "scoring API credit_pd (features + model + reasons + log), 1 client, p99",
                    "figure": round(api99, 3), "unit": "ms", "anchor": "in-process Feast feature read alone, p99",
                    "anchor_figure": round(feat99, 3), "ratio": round(api99 / feat99, 2), "goal": "p99 < 10 ms",
                    "note": f"p50 {_pct(lat, 50):.3f} ms; {len(lat):,} requests over HTTP; "
                            f"{logged} decision files written"})
        for c in (4, 16):
            out.append({"name": f"scoring API throughput, {c} concurrent clients", "figure": round(thr[c], 1),
                        "unit": "req/s", "anchor": "1 client", "anchor_figure": round(thr[1], 1),
                        "ratio": round(thr[c] / thr[1], 2), "goal": "reported",
                        "note": "higher is better; clients are threads of one Python process on the same 2 cores"})
        out.append(_scoring_v2(w, score_bodies))
        return out


def _scoring_v2(w: World, score_bodies: list[dict]) -> dict:
    """The scoring API with a champion on credit_pd_v2: every request carries the bureau pull, and the
    vector adds the two on-demand views (the pulled fields, the profile flags) to v1's online read.
    Anchor: the in-process Feast read of the same credit_pd_v2 vector (the on-demand views included)."""
    import httpx

    from riskpipe.features.online import online_features

    s, store, warm = w.s, w.store, w.warm
    feats = _train_champion(s, store, w.customers, w.rng, service="credit_pd_v2")
    pulls = [_pull(w.rng) for _ in score_bodies]
    rows = [{"customer_id": b["customer_id"], "requested_amount": b["requested_amount"], **_pull_fields(p)}
            for b, p in zip(score_bodies, pulls, strict=True)]
    t_feast = _timed(lambda i: online_features("credit_pd_v2", [rows[i]], settings=s, store=store),
                     list(range(warm + w.n_req)), warm)
    bodies = [{**b, "bureau_pull": p} for b, p in zip(score_bodies, pulls, strict=True)]
    with w.scoring_api("v2") as url:
        first = httpx.post(url, json=bodies[0], timeout=30).json()  # (a check, not timed)
        if first.get("feature_service") != "credit_pd_v2":
            raise RuntimeError(f"the v2 champion was not served on credit_pd_v2: {first}")
        _http_load(url, bodies[:warm], 1)
        lat, _ = _http_load(url, bodies[warm:], 1)
    api99, feat99 = _pct(lat, 99), _pct(t_feast, 99)
    return {"name": "scoring API credit_pd on credit_pd_v2 (bureau pull in the request), 1 client, p99",
            "figure": round(api99, 3), "unit": "ms", "anchor": "in-process Feast read of the credit_pd_v2 vector, p99",
            "anchor_figure": round(feat99, 3), "ratio": round(api99 / feat99, 2), "goal": "p99 < 10 ms",
            "note": f"p50 {_pct(lat, 50):.3f} ms (feature read p50 {_pct(t_feast, 50):.3f} ms); {len(lat):,} "
                    f"requests over HTTP; a LightGBM/scorecard champion on the {len(feats)} numeric features of "
                    "the v2 vector (v1's, the pulled fields, bureau_score_change, the profile flags)"}
