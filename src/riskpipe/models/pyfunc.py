"""The MLflow pyfunc wrapper: every registered version scores the same way as :func:`score_table`.

Loading a version needs the ``riskpipe`` package importable (the wrapper pickles a reference to these
classes, not their code); the serving image is riskpipe's own environment.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

from riskpipe.models.explain import RiskEstimator, score_frame


class RiskPyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc ``predict`` -> probability, score, band, reason_codes (list of feature names)."""

    def __init__(self, estimator: RiskEstimator) -> None:
        self.estimator = estimator

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None):  # noqa: ANN001
        df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return score_frame(self.estimator, df).reset_index(drop=True)
