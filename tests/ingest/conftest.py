"""A small generated world, ingested once per test session (every source, every day, no gate)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

START = dt.date(2026, 1, 1)
DAYS = 5  # the renamed customers column needs >= 5 days; late rows arrive up to 4 days later


@dataclass
class World:
    root: Path
    settings: object
    days: list[dt.date]
    results: dict[tuple[str, dt.date], object]
    log_file: Path


def make_settings(root: Path):
    from riskpipe.settings import load_settings

    return load_settings(data_dir=root, spark_master="local[2]", spark_shuffle_partitions=2)


def generate_world(root: Path, customers: int = 200, days: int = DAYS, seed: int = 11, late_rate: float | None = None):
    from riskpipe.sources.generator import DefectRates, generate

    s = make_settings(root)
    defects = DefectRates() if late_rate is None else DefectRates(late_arriving=late_rate)
    generate(customers=customers, days=days, start=START, seed=seed, landing=s.landing,
             ground_truth=s.ground_truth, txn_per_customer_day=0.5, installment_days=2, defects=defects)
    return s


def tree_digest(*roots: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under the given roots (the bytes a reader would see)."""
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root.parent))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, spark) -> World:
    from riskpipe.ingest.pipeline import ingest_date

    root = tmp_path_factory.mktemp("ingest-world") / "data"
    s = generate_world(root)
    log_file = root.parent / "ingest.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger("riskpipe").addHandler(handler)
    results = {}
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    try:
        for d in days:
            for r in ingest_date(d, settings=s, spark=spark):
                results[(r.dataset, d)] = r
    finally:
        logging.getLogger("riskpipe").removeHandler(handler)
        handler.close()
    return World(root, s, days, results, log_file)
