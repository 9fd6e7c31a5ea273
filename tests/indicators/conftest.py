"""A small ingested world shared by the indicator tests (generating + ingesting costs minutes).

Seven landing days (2026-01-01 .. 2026-01-07) of 300 customers with 2-day loan installments, ingested
into silver with the real pipeline on the session's local Spark. Feature dates used by the tests:

* ``MID`` 2026-01-06: inside the data;
* ``LAST`` 2026-01-08: the first date that knows the last landing day;
* ``QUIET`` 2026-01-10: nothing new landed after ``LAST``, so window values can only decay.

Generating and ingesting costs minutes on a busy machine. Opt-in cache for local iteration: with
``RISKPIPE_TEST_WORLD_CACHE=<dir>`` the ingested world (landing, ground truth, silver) is kept in
``<dir>/<key>`` and reused while the key (the world's parameters and the source of the generator,
ingest, transforms and Spark I/O) is unchanged. CI leaves it unset: every run regenerates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import pytest

START = dt.date(2026, 1, 1)
DAYS = 7
MID, LAST, QUIET = dt.date(2026, 1, 6), dt.date(2026, 1, 8), dt.date(2026, 1, 10)


CACHE_ENV = "RISKPIPE_TEST_WORLD_CACHE"
WORLD_PARTS = ("landing", "ground_truth", "lake/silver")


def _world_key() -> str:
    import riskpipe

    root = Path(riskpipe.__file__).parent
    h = hashlib.sha256(f"{START}|{DAYS}|300|2".encode())
    for sub in ("sources", "ingest", "transforms", "spark"):
        for f in sorted((root / sub).rglob("*")):
            if f.suffix in (".py", ".yml"):
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _copy_world(src: Path, dst: Path) -> None:
    for part in WORLD_PARTS:
        shutil.copytree(src / part, dst / part)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, spark):
    """Settings of a data dir whose silver holds the ingested world (see module doc)."""
    from riskpipe.ingest.pipeline import ORDER, ingest_day
    from riskpipe.settings import load_settings, reset_settings
    from riskpipe.sources.generator import generate

    data = tmp_path_factory.mktemp("indicators") / "data"
    cache = Path(os.environ[CACHE_ENV]) / _world_key() if os.environ.get(CACHE_ENV) else None
    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k.startswith("RISKPIPE_"):
                mp.delenv(k)
        mp.setenv("RISKPIPE_DATA_DIR", str(data))
        reset_settings()
        s = load_settings(spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g")
        if cache is not None and (cache / "COMPLETE").is_file():
            _copy_world(cache, data)
            yield s
            reset_settings()
            return
        generate(customers=300, days=DAYS, start=START, installment_days=2,
                 landing=s.landing, ground_truth=s.ground_truth)
        for i in range(DAYS):
            day = START + dt.timedelta(days=i)
            for source in ORDER:
                if (s.landing / source / f"dt={day.isoformat()}").is_dir():
                    ingest_day(source, day, settings=s, spark=spark)
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
            _copy_world(data, cache)
            (cache / "COMPLETE").write_text("ok")
        yield s
    reset_settings()


@pytest.fixture(scope="session")
def built(world):
    """The indicators of MID, LAST and QUIET built once on the local (duckdb) target."""
    from riskpipe.indicators import build_indicators

    return {day: build_indicators(day, world) for day in (MID, LAST, QUIET)}


def read_partition(settings, table: str, day: dt.date):
    import pandas as pd

    path: Path = settings.features / table / f"dt={day.isoformat()}" / "data.parquet"
    return pd.read_parquet(path)
