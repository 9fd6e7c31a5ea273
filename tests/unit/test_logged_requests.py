"""Request fields of served decisions taken from the decision log (riskpipe.features.requests), on the
real on-demand views of feature_repo/ and a real decision log on disk."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from riskpipe.features.requests import (
    PULL_COLUMNS,
    RequestFieldsError,
    logged_column,
    logged_request_fields,
)

AT = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def _odfvs(settings):  # noqa: ANN001, ANN202
    from riskpipe.features.store import load_definitions

    return [v for v in load_definitions(settings).on_demand_feature_views if v.name == "credit_pull_features"]


def _log(root, features: list[dict]) -> list[str]:  # noqa: ANN001
    from riskpipe.models.decisions import COLUMNS, write_batch

    ids = [f"{AT:%Y%m%d}-{i:032x}" for i in range(len(features))]
    rows = [{"decision_id": i, "decided_at": AT, "role": "champion", "shadow_of": None, "endpoint": "credit_pd",
             "model_name": "credit_pd", "model_version": "1", "model_run_id": "r", "feature_service": "credit_pd_v2",
             "request_id": None, "request": {"application_id": f"A{n}"}, "features": f, "features_missing": [],
             "probability": 0.1, "score": 600.0, "band": "review", "reason_codes": [], "latency_ms": 1.0}
            for n, (i, f) in enumerate(zip(ids, features, strict=True))]
    write_batch(root, [tuple(r[c] for c in COLUMNS) for r in rows])  # the writer process's call
    return ids


def test_logged_fields_are_kept_as_logged_and_marked(riskpipe_env, tmp_path) -> None:
    from riskpipe.settings import get_settings

    pull = dict(zip(PULL_COLUMNS, [700.0, 4.0, 1200.5, 0.0, 2.0, 96.0], strict=True))
    ids = _log(tmp_path / "decisions", [
        {"customer_id": "C1", **pull},                      # the pull as served
        {"customer_id": "C2", **dict.fromkeys(PULL_COLUMNS)},  # the pull found no report
        {"customer_id": "C3"},                               # served on a service without the pull
    ])
    rows = pd.DataFrame({"decision_id": ids, "customer_id": ["C1", "C2", "C3"], "feature_ts": [AT] * 3})
    out = logged_request_fields(rows, _odfvs(get_settings()), tmp_path / "decisions")
    assert out[logged_column("bureau_pull_request")].tolist() == [True, True, False]
    assert out.loc[0, list(PULL_COLUMNS)].tolist() == list(pull.values())
    assert out.loc[1:, list(PULL_COLUMNS)].isna().all().all()
    assert all(out[c].dtype == np.float64 for c in PULL_COLUMNS)
    assert rows.columns.tolist() == ["decision_id", "customer_id", "feature_ts"]  # the input is not changed


def test_a_partial_record_or_a_missing_decision_is_an_error(riskpipe_env, tmp_path) -> None:
    from riskpipe.settings import get_settings

    odfvs = _odfvs(get_settings())
    ids = _log(tmp_path / "decisions", [{"customer_id": "C1", PULL_COLUMNS[0]: 700.0}])
    rows = pd.DataFrame({"decision_id": ids, "customer_id": ["C1"], "feature_ts": [AT]})
    with pytest.raises(RequestFieldsError, match="some of the fields of bureau_pull_request"):
        logged_request_fields(rows, odfvs, tmp_path / "decisions")
    gone = rows.assign(decision_id=[f"{AT:%Y%m%d}-{'f' * 32}"])
    with pytest.raises(RequestFieldsError, match="1 served decision\\(s\\) have no record"):
        logged_request_fields(gone, odfvs, tmp_path / "decisions")
