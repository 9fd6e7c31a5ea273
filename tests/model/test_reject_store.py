"""The through-the-door population of credit_pd from a generated world: silver keeps the declined
applications, they get credit_pd_v1's features point in time, a null label and the generator's true
outcome (runs on ``store_world``, tests/worlds.py)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from riskpipe.models.flows import MODEL_SPECS
from riskpipe.models.reject import OUTCOME, attach_outcome, declined_training_set
from riskpipe.models.train import TrainInputError
from tests.worlds import STORE_DATES

LATER = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)  # every 12-month performance window of the world has closed


def test_declined_applications_get_service_features_null_label_and_true_outcome(store_world):
    s = store_world
    spec = MODEL_SPECS["credit_pd"]
    first, last = STORE_DATES[0], STORE_DATES[-1]
    truth = pd.read_parquet(s.ground_truth / "applications.parquet")
    days = truth["applied_at"].dt.date
    in_window = truth[(days >= first) & (days <= last)]
    declined_truth = in_window[in_window["decision"] == "declined"]
    assert 0 < len(declined_truth) < len(in_window)

    rej = declined_training_set(spec, first, last, LATER, s)
    # silver kept the declined applications (the generator's defects may quarantine a few rows, never
    # an approved one slipping in)
    assert set(rej["application_id"]) <= set(declined_truth["application_id"])
    assert len(rej) >= 0.9 * len(declined_truth) and rej["application_id"].is_unique
    assert rej["label"].isna().all()
    manifest = json.loads((s.runs / "training_sets" / f"credit_pd-{first}-{last}-declined.manifest.json").read_text())
    assert manifest["feature_service"] == "credit_pd_v1" and manifest["row_counts"]["rows_out"] == len(rej)
    service_cols = {f.split(":", 1)[1] for f in manifest["features"]}
    assert service_cols <= set(rej.columns) and "bureau_score" in service_cols

    assert attach_outcome(rej, spec.key, s.ground_truth / "applications.parquet")
    expected = rej[[spec.key]].merge(declined_truth[[spec.key, "default_12m"]], on=spec.key)
    assert rej[OUTCOME].tolist() == expected["default_12m"].astype(int).tolist()

    # the performance window applies to the declines as to the accepts' labels: none has closed yet
    assert declined_training_set(spec, first, last, dt.datetime(2026, 1, 8, tzinfo=dt.UTC), s) is None
    with pytest.raises(TrainInputError, match="application models"):
        declined_training_set(MODEL_SPECS["fraud"], first, last, LATER, s)
