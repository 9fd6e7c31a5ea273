"""Real processes: a job killed mid-write leaves the last good silver readable; a rerun completes.
And the same job runs through ``spark-submit`` on a real standalone cluster started here."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyspark
from pydantic import SecretStr

from tests.ingest.conftest import START, generate_world, make_settings, tree_digest

REPO = Path(__file__).resolve().parents[2]
SPARK_HOME = Path(pyspark.__file__).resolve().parent


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKPIPE_")}
    env.update(RISKPIPE_DATA_DIR=str(root), RISKPIPE_SPARK_MASTER="local[1]", RISKPIPE_SPARK_SHUFFLE_PARTITIONS="2",
               RISKPIPE_SPARK_DRIVER_MEMORY="1g", PYSPARK_PYTHON=sys.executable, **extra)
    return env


def _job(source: str, day: dt.date, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, str(REPO / "jobs" / f"ingest_{source}.py"), "--date", day.isoformat(), "--no-gate"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_at(source: str, day: dt.date, env: dict[str, str], lake: Path, point: str) -> None:
    marker = lake / f"_paused-{point}"
    marker.unlink(missing_ok=True)
    proc = _job(source, day, {**env, "RISKPIPE_TEST_PAUSE_AT": point})
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"job ended before reaching {point}: {proc.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"job never reached {point}"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    marker.unlink()


def _late_day(root: Path) -> tuple[dt.date, dt.date]:
    recs = [json.loads(x) for x in (root / "landing" / "_manifest" / "defects.jsonl").read_text().splitlines()]
    late = next(r for r in recs if r["kind"] == "late_arriving" and r["source"] == "transactions")
    return dt.date.fromisoformat(late["event_date"]), dt.date.fromisoformat(late["landing_date"])


def test_killed_job_leaves_last_good_partition_and_rerun_completes(tmp_path: Path, spark) -> None:
    from riskpipe.ingest.pipeline import ingest_day
    from riskpipe.pii import token

    root = tmp_path / "data"
    generate_world(root, customers=120, seed=5, late_rate=0.05)
    event_day, landing_day = _late_day(root)
    key_a, key_b = "key-a-" + "x" * 20, "key-b-" + "y" * 20
    s_a = make_settings(root).model_copy(update={"pii_key": SecretStr(key_a)})
    for d in sorted({event_day, landing_day}):
        ingest_day("transactions", d, settings=s_a, spark=spark)
    silver = s_a.silver / "transactions"
    good = tree_digest(silver)
    assert {f"dt={event_day}", f"dt={landing_day}"} <= {p.name for p in silver.iterdir()}

    env = _env(root, RISKPIPE_PII_KEY=key_b)
    # 1. killed after staging, before publication: silver is exactly the last good state
    _kill_at("transactions", landing_day, env, s_a.lake, "staged")
    assert tree_digest(silver) == good
    assert len(pd.read_parquet(silver)) > 0

    # 2. killed between two partition swaps: every partition is whole (old or new), a journal remains
    _kill_at("transactions", landing_day, env, s_a.lake, "mid_swap")
    assert list((s_a.lake / "_journal").glob("transactions__*.json")), "the journal records the publication"
    for part in silver.iterdir():
        assert len(pd.read_parquet(part)) > 0, part
    assert tree_digest(silver) != good  # one partition was already swapped

    # 3. a rerun repairs and completes: landing day's rows carry key B's tokens, others key A's
    done = _job("transactions", landing_day, env)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["rows_read"] == summary["rows_written"] + summary["rows_quarantined"] + summary["duplicates_dropped"]
    assert not list((s_a.lake / "_journal").glob("*.json"))
    df = pd.read_parquet(silver)
    landing = pd.read_parquet(root / "landing" / "transactions" / f"dt={landing_day}")
    truth = {r.txn_id: r.card_number for r in landing.itertuples() if r.card_number}
    mine = df[df["_landing_dt"].astype(str) == landing_day.isoformat()]
    assert len(mine) > 0
    for r in mine.itertuples():
        assert r.card_token == token("card_number", truth[r.txn_id], key_b.encode())
    assert (mine["dt"].astype(str) == event_day.isoformat()).any(), "the late row was merged into its day"
    before = pd.read_parquet(root / "landing" / "transactions" / f"dt={event_day}")
    first = {r.txn_id: r.card_number for r in before.itertuples() if r.card_number}
    other = df[df["_landing_dt"].astype(str) == event_day.isoformat()]
    assert len(other) > 0
    for r in other.itertuples():
        assert r.card_token == token("card_number", first[r.txn_id], key_a.encode())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {proc.stdout.read()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not listen on {port}")


def test_spark_submit_on_a_standalone_cluster(tmp_path: Path) -> None:
    root = tmp_path / "data"
    generate_world(root, customers=60, seed=3)
    env = _env(root, SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=str(tmp_path / "logs"),
               SPARK_WORKER_DIR=str(tmp_path / "work"))
    port, ui, wui = _free_port(), _free_port(), _free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(ui)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    worker = None
    try:
        _wait_port(port, master, "spark master")
        worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                                   "--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", str(wui)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _wait_port(wui, worker, "spark worker")
        day = START
        submit = subprocess.run(
            [str(SPARK_HOME / "bin" / "spark-submit"), "--master", f"spark://127.0.0.1:{port}",
             "--conf", "spark.executor.memory=768m", "--conf", "spark.sql.session.timeZone=UTC",
             str(REPO / "jobs" / "ingest_customers.py"), "--date", day.isoformat(), "--no-gate"],
            env=env, capture_output=True, text=True, timeout=600)
        assert submit.returncode == 0, submit.stderr[-4000:]
        summary = json.loads(submit.stdout.strip().splitlines()[-1])
        assert summary["published"] and summary["rows_written"] > 0
        meta = json.loads((root / "lake" / "_runs" / "ingest" / "customers" / f"dt={day}" / "latest.json").read_text())
        assert meta["spark_master"] == f"spark://127.0.0.1:{port}"
        silver = pd.read_parquet(root / "lake" / "silver" / "customers")
        assert len(silver) == summary["rows_written"]
    finally:
        for p in (worker, master):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
