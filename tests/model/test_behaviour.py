"""Behavioural tests of the fraud model with its declared risk directions (MODEL_SPECS["fraud"]).

Credit PD's "more missed payments never lowers PD" is in test_woe / test_train_flow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.explain import score_table
from riskpipe.models.flows import MODEL_SPECS
from riskpipe.models.train import train_model
from tests.model.conftest import FAST_GBM, ROUNDS
from tests.model.synth import make_fraud_table


@pytest.fixture(scope="module")
def fraud(model_env):
    table = make_fraud_table()
    r = train_model(table, "label", None, "feature_ts", "fraud", truth_column="p_fraud", feature_service="fraud_v1",
                    label_definition="label_fraud", monotone=MODEL_SPECS["fraud"].monotone, exclude=["txn_id"],
                    num_boost_round=ROUNDS, gbm_params=FAST_GBM)
    return r, table


def test_shared_device_with_fraudsters_scores_higher(fraud):
    """The same transactions from a clean device and from one shared with confirmed fraudsters."""
    r, table = fraud
    rows = table.sample(200, random_state=3).reset_index(drop=True)
    clean = rows.assign(max_customers_per_device=1.0, component_bad_share=0.0)
    shared = rows.assign(max_customers_per_device=4.0, component_bad_share=0.6)
    for c in r.candidates.values():
        p_clean = score_table(c.model_uri, clean)["probability"].to_numpy()
        p_shared = score_table(c.model_uri, shared)["probability"].to_numpy()
        assert (p_shared >= p_clean - 1e-12).all(), c.kind  # never lower: monotone in both features
        assert (p_shared > p_clean).mean() > 0.95, c.kind  # and higher for (almost) every transaction


def test_more_fraudsters_on_the_device_never_lowers_the_score(fraud):
    r, table = fraud
    rows = table.sample(100, random_state=5).reset_index(drop=True)
    for c in r.candidates.values():
        p = np.array([score_table(c.model_uri, rows.assign(component_bad_share=v))["probability"]
                      for v in np.linspace(0, 1, 6)])
        assert np.all(np.diff(p, axis=0) >= -1e-12), c.kind


def test_same_input_same_score_and_reasons(fraud):
    r, table = fraud
    rows = table.sample(50, random_state=8).reset_index(drop=True)
    for c in r.candidates.values():
        a, b = score_table(c.model_uri, rows), score_table(c.model_uri, rows.copy())
        pd.testing.assert_frame_equal(a, b)
