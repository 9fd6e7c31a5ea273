"""A small real world for the report: the ingest tests' world (generated + ingested once per session),
copied so nothing here changes it, then indicators for two feature dates, the graph, one GX validation
and a scores file. Also the artifacts folder (``RISKPIPE_TEST_ARTIFACTS``, default ``<pytest tmp>/artifacts``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.ingest.conftest import START, make_settings, world  # noqa: F401 - the shared ingested world

REF_DAY = START + dt.timedelta(days=3)  # 2026-01-04: a feature date inside the data (drift reference)
REPORT_DAY = START + dt.timedelta(days=5)  # 2026-01-06: the first feature date knowing every landing day


@dataclass
class ReportWorld:
    settings: object
    ingest: object  # tests.ingest.conftest.World (its results are the ingest counts)
    scores: Path
    validated: list[tuple[str, dt.date]]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("RISKPIPE_TEST_ARTIFACTS")
    path = Path(env) if env else tmp_path_factory.getbasetemp() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def report_world(world, tmp_path_factory: pytest.TempPathFactory, spark) -> ReportWorld:  # noqa: F811
    from riskpipe.indicators.build import build_indicators
    from riskpipe.indicators.graph import build_graph
    from riskpipe.quality.validate import validate_dataset

    root = tmp_path_factory.mktemp("monitoring-world") / "data"
    shutil.copytree(world.root, root)
    s = make_settings(root)
    for day in (REF_DAY, REPORT_DAY):
        build_indicators(day, s)
    build_graph(REPORT_DAY, s, spark)
    validated = []
    for dataset in ("applications",):
        parts = sorted(p.name.split("=", 1)[1] for p in (s.silver / dataset).glob("dt=*"))
        day = dt.date.fromisoformat(parts[len(parts) // 2])
        validate_dataset(dataset, day, s, spark)
        validated.append((dataset, day))
    # batch scores in the layout `riskpipe score --out` writes (keys + probability, score, band), for
    # the labelled transactions when there are any: informative but imperfect probabilities
    from riskpipe.monitoring.metrics import read_labels

    labels = read_labels(s, REPORT_DAY).get("label_fraud")
    rng = np.random.default_rng(3)
    if labels is not None and len(labels):
        ids = labels[["txn_id", "customer_id"]].drop_duplicates("txn_id")
        y = labels.drop_duplicates("txn_id")["label"].to_numpy(dtype=float)
    else:
        tx = pd.read_parquet(s.silver / "transactions", columns=["txn_id", "customer_id"])
        ids, y = tx, np.zeros(len(tx))
    p = np.clip(0.03 + 0.5 * y * rng.random(len(y)) + 0.15 * rng.random(len(y)), 0.001, 0.999)
    scores = ids.reset_index(drop=True).assign(
        probability=p, score=600 + 20 / np.log(2) * np.log((1 - p) / p / 50),
        band=np.where(p < 0.05, "approve", np.where(p >= 0.2, "decline", "refer")))
    path = root / "scores" / "fraud_scores.parquet"
    path.parent.mkdir(parents=True)
    scores.to_parquet(path, index=False)
    return ReportWorld(settings=s, ingest=world, scores=path, validated=validated)
