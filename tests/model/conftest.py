"""Fixtures of the model tests: a private MLflow store per module (SQLite + local artifacts).

``riskpipe_env`` is per test; training costs seconds, so the tests of one module share one store
through ``model_env`` (same isolation: a tmp data dir and a clean RISKPIPE_* environment).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from riskpipe.settings import reset_settings


@pytest.fixture(scope="module")
def model_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("model") / "data"
    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k.startswith("RISKPIPE_"):
                mp.delenv(k)
        mp.setenv("RISKPIPE_DATA_DIR", str(data))
        mp.setenv("RISKPIPE_USER", "model-tests")
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        reset_settings()
        from riskpipe.models.config import get_model_settings

        get_model_settings.cache_clear()
        yield data
        reset_settings()
        get_model_settings.cache_clear()


FAST_GBM = {"num_threads": 1}
ROUNDS = 40


@contextlib.contextmanager
def private_decisions(settings):  # noqa: ANN001 (Settings)
    """A shared world's lake with a decision log and outcomes for one test: there are none before (the
    world is shared by the session), and both are removed after."""
    from riskpipe.monitoring.outcomes import outcomes_root

    made = [p for p in (settings.decisions, outcomes_root(settings)) if not p.exists()]
    assert len(made) == 2, f"{settings.lake} holds decisions already"
    try:
        yield settings
    finally:
        for p in made:
            shutil.rmtree(p, ignore_errors=True)
