"""Generated worlds shared by several test suites (session-scoped: generating and ingesting costs minutes).

``world``: seven landing days (2026-01-01 .. 2026-01-07) of 300 customers with 2-day loan installments,
ingested into silver with the real pipeline on the session's local Spark.

``store_world``: a copy of ``world`` with the indicators (dbt feature + label tables, graph features)
of the feature dates ``STORE_DATES`` built and validated, fraud labels maturing after
``FRAUD_LABEL_DAYS`` days (configuration, as a risk team would shorten it for a fast-moving
portfolio), Feast definitions applied: what model training and the retraining DAG read.

``loan_world``: its own seven days of 200 customers whose loans perform within the week (daily
installments, frequent applications), ingested the same way, with the feature and label tables of
``LOAN_DATES`` built under the time-compressed label definitions of ``tests/loan_world_labels.yml``
(``RISKPIPE_LABELS_FILE``): what credit_pd and early_warning train on (``world``'s loans are too few
and too young for any days past due, and their packaged windows are 365 and 30 days).

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
FRAUD_LABEL_DAYS = 2
#: feature/label dates of ``store_world``: transactions of these days have matured fraud labels by
#: the lake's horizon (the last landing day, 2026-01-07)
STORE_DATES = [START + dt.timedelta(days=i) for i in range(1, 6)]  # 2026-01-02 .. 2026-01-06


#: ``loan_world``: loans on daily installments and a customer in five applying each day, so that within
#: seven landing days payments fall due, some go past due or stay unpaid, and labels under the
#: time-compressed definitions of LOAN_LABELS_FILE mature (credit_pd: 2+ DPD within 3 days of the
#: application, 1 DPD indeterminate; early_warning: 2+ DPD within 2 days)
LOAN_WORLD = {"customers": 200, "days": 7, "installment_days": 1, "application_rate": 0.4,
              "txn_per_customer_day": 0.1}
#: feature/label dates of ``loan_world``: credit_pd labels (3-day window) of 01-02..01-04 have matured
#: by the lake's horizon (the last landing day, 2026-01-07), early-warning ones (2 days) of all four
LOAN_DATES = [START + dt.timedelta(days=i) for i in range(1, 5)]  # 2026-01-02 .. 2026-01-05
LOAN_LABELS_FILE = Path(__file__).with_name("loan_world_labels.yml")
LOAN_DBT_EXCLUDE = ["test_type:unit", "test_type:data,path:models/staging", "test_type:data,path:models/intermediate",
                    "test_type:data,path:models/marts/features"]

CACHE_ENV = "RISKPIPE_TEST_WORLD_CACHE"
WORLD_PARTS = ("landing", "ground_truth", "lake/silver")
#: fraud compressed like the loans: several % of transactions, reported 1-2 days later, so fraud
#: labels mature (FRAUD_LABEL_DAYS) and have positives inside the seven days
WORLD_FRAUD = {"fraud_level": 4.0, "chargeback_lag_days": (1, 2)}


def _world_key(params: str = f"{START}|{DAYS}|300|2|{WORLD_FRAUD}") -> str:
    import riskpipe

    root = Path(riskpipe.__file__).parent
    h = hashlib.sha256(params.encode())
    for sub in ("sources", "ingest", "transforms", "spark"):
        for f in sorted((root / sub).rglob("*")):
            if f.suffix in (".py", ".yml"):
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _copy_world(src: Path, dst: Path) -> None:
    for part in WORLD_PARTS:
        shutil.copytree(src / part, dst / part)


def _ingest_all(s, spark, days: int) -> None:  # noqa: ANN001
    from riskpipe.ingest.pipeline import ORDER, ingest_day

    for i in range(days):
        day = START + dt.timedelta(days=i)
        for source in ORDER:
            if (s.landing / source / f"dt={day.isoformat()}").is_dir():
                ingest_day(source, day, settings=s, spark=spark)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, spark):
    """Settings of a data dir whose silver holds the ingested world (see module doc)."""
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
        generate(customers=300, days=DAYS, start=START, installment_days=2, **WORLD_FRAUD,
                 landing=s.landing, ground_truth=s.ground_truth)
        _ingest_all(s, spark, DAYS)
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
            _copy_world(data, cache)
            (cache / "COMPLETE").write_text("ok")
        yield s
    reset_settings()




def _isolated_settings(mp: pytest.MonkeyPatch, data: Path, **env: str):
    """Settings of ``data`` with no RISKPIPE_* variable of the caller's environment, plus ``env``
    (set through ``mp``), on a small local Spark."""
    from riskpipe.settings import load_settings, reset_settings

    for k in list(os.environ):
        if k.startswith("RISKPIPE_"):
            mp.delenv(k)
    mp.setenv("RISKPIPE_DATA_DIR", str(data))
    for k, v in env.items():
        mp.setenv(k, v)
    reset_settings()
    return load_settings(spark_master="local[2]", spark_shuffle_partitions=2, spark_driver_memory="2g")


@pytest.fixture(scope="session")
def store_world(world, tmp_path_factory: pytest.TempPathFactory, spark):
    """Settings of a data dir with ``world``'s silver plus built, validated indicators of STORE_DATES."""
    from riskpipe.features.store import apply_definitions, get_store
    from riskpipe.indicators.build import build_indicators
    from riskpipe.indicators.graph import build_graph
    from riskpipe.quality.features import validate_features
    from riskpipe.settings import reset_settings

    data = tmp_path_factory.mktemp("store_world") / "data"
    _copy_world(world.data_dir, data)
    with pytest.MonkeyPatch.context() as mp:
        s = _isolated_settings(mp, data, RISKPIPE_FRAUD_LABEL_DAYS=str(FRAUD_LABEL_DAYS))
        for day in STORE_DATES:
            build_indicators(day, s)
            build_graph(day, settings=s, spark=spark)
            validate_features(day, settings=s, spark=spark, require=True)
        apply_definitions(get_store(s), settings=s)
    reset_settings()
    return s


@pytest.fixture(scope="session")
def loan_world(tmp_path_factory: pytest.TempPathFactory, spark):
    """Settings of a data dir with a generated, ingested world in which loans perform (see module doc):
    dbt feature and label tables of LOAN_DATES under the label definitions of LOAN_LABELS_FILE, graph
    features, Feast definitions applied. The settings carry ``labels_file``; a test that builds or
    trains through the environment sets ``RISKPIPE_LABELS_FILE`` to the same file."""
    from riskpipe.features.store import apply_definitions, get_store
    from riskpipe.indicators.build import build_indicators
    from riskpipe.indicators.graph import build_graph
    from riskpipe.settings import reset_settings
    from riskpipe.sources.generator import DefectRates, generate

    data = tmp_path_factory.mktemp("loan_world") / "data"
    cache = (Path(os.environ[CACHE_ENV]) / _world_key(f"loans|{START}|{LOAN_WORLD}")
             if os.environ.get(CACHE_ENV) else None)
    with pytest.MonkeyPatch.context() as mp:
        s = _isolated_settings(mp, data, RISKPIPE_LABELS_FILE=str(LOAN_LABELS_FILE))
        if cache is not None and (cache / "COMPLETE").is_file():
            _copy_world(cache, data)
        else:
            generate(start=START, defects=DefectRates.clean(), landing=s.landing, ground_truth=s.ground_truth,
                     **LOAN_WORLD)
            _ingest_all(s, spark, LOAN_WORLD["days"])
            if cache is not None:
                shutil.rmtree(cache, ignore_errors=True)
                _copy_world(data, cache)
                (cache / "COMPLETE").write_text("ok")
        for day in LOAN_DATES:
            # every table, and the label tables' dbt data tests (here under the file's definitions);
            # the other data tests and the unit tests are definition-independent and run on the
            # builds of store_world and of tests/indicators: repeating them would double the cost
            build_indicators(day, s, exclude=LOAN_DBT_EXCLUDE)
            build_graph(day, settings=s, spark=spark)
        apply_definitions(get_store(s), settings=s)
    reset_settings()
    return s
