"""A small real lake for the quality tests: generated landing data ingested into silver, once per run.

300 customers x 4 landing days (2026-01-01 .. 04) of every source; the last day is ingested through
the real Great Expectations gate, so the fixture itself proves that valid data passes and is
published. Day 4 has three partitions of history, so distribution checks apply to it.
Settings are passed explicitly; the environment points at this lake only while the gate runs
(the gate reads settings like the CLI does) and in tests that ask for ``lake_env``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

START = dt.date(2026, 1, 1)
DAYS = 4
LAST = START + dt.timedelta(days=DAYS - 1)
#: chargebacks arrive 7-60 days after the transaction: none land in four days (see fixtures below)
INGESTED = ["customers", "applications", "repayments", "transactions", "device_events", "bureau"]


@dataclasses.dataclass
class Lake:
    data_dir: Path
    settings: object
    gate_results: dict  # source -> ValidationResult of the gate on the last day


def _settings(data_dir: Path):
    from riskpipe.settings import load_settings

    return load_settings(data_dir=data_dir, spark_master="local[2]", spark_shuffle_partitions=2,
                         spark_driver_memory="2g")


def point_env_at(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    import os

    from riskpipe.settings import reset_settings

    for k in list(os.environ):
        if k.startswith("RISKPIPE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(data_dir))
    reset_settings()


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory, spark) -> Lake:
    from riskpipe.ingest.pipeline import ORDER, ingest_day
    from riskpipe.quality import gate
    from riskpipe.settings import reset_settings
    from riskpipe.sources.generator import generate

    data_dir = tmp_path_factory.mktemp("quality") / "data"
    s = _settings(data_dir)
    generate(customers=300, days=DAYS, start=START, landing=s.landing, ground_truth=s.ground_truth)
    results: dict = {}

    def recording_gate(source, day, df):
        r = gate(source, day, df)
        results[source] = r
        return r

    mp = pytest.MonkeyPatch()
    try:
        point_env_at(mp, data_dir)
        for i in range(DAYS):
            day = START + dt.timedelta(days=i)
            for source in [x for x in ORDER if x in INGESTED]:
                ingest_day(source, day, settings=s, spark=spark, gate=recording_gate if day == LAST else None)
    finally:
        mp.undo()
        reset_settings()
    return Lake(data_dir=data_dir, settings=s, gate_results=results)


@pytest.fixture
def lake_env(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """The environment (RISKPIPE_DATA_DIR) pointing at the shared lake for one test."""
    from riskpipe.settings import reset_settings

    point_env_at(monkeypatch, lake.data_dir)
    yield lake
    reset_settings()


def read_partition(spark, lake: Lake, dataset: str, day: dt.date = LAST):
    root = lake.settings.silver / dataset
    return spark.read.option("basePath", str(root)).parquet(str(root / f"dt={day.isoformat()}"))
