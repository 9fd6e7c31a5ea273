"""Benchmark: each model's out-of-time AUC against the best achievable AUC (the generator's ground truth).

A world is generated and run through the real pipeline with the demo's steps (generate; ingest behind
the quality gates; dbt indicators, graph features and the feature gates; Feast definitions and
materialisation), then the model is trained on its feature service by ``train_from_store``, as
``riskpipe train`` does. The anchor is measured on the same out-of-time rows in the same run: the AUC
of the generator's true probability of the label (``best_auc``), which no model beats in expectation.
Goal: ratio (model AUC / best AUC) at least 0.97 for each model. Higher is better.

Which models get a figure:
- fraud: its labels mature within days; the truth is each transaction's ``p_fraud``.
- credit_pd: its truth is the probability of 90+ DPD within 12 months (``p_default_12m``), which needs
  more than a year of world through the pipeline; ``bench_quality_credit`` measures it with credit
  time compressed (in the world and the label alike).
- early_warning: its truth is a posterior computed from the world; ``bench_quality_early_warning``
  measures it in the compressed world of ``bench_quality_credit``, where loans have a payment history
  within weeks.

Scale "small" is the demo's world (3,000 customers x 8 days); "full" 20,000 customers x 21 days.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SIZES = {"small": (3_000, 8), "full": (20_000, 21)}
GOAL = 0.97
NOT_MEASURED = {
    "credit_pd": "measured by the quality_credit benchmark (credit time compressed in the world and the label)",
    "early_warning": "measured by the quality_early_warning benchmark (in the compressed world, where "
                     "installments fall due within weeks)",
}


@contextlib.contextmanager
def pipeline_world(prefix: str, **env: str) -> Iterator[Path]:
    """An embedded riskpipe in a fresh temporary folder (``env`` on top), removed with Spark stopped after.

    With ``RISKPIPE_BENCH_KEEP`` set to a folder, the world is moved there instead of removed (its lake,
    ground truth, training sets and MLflow runs), so a figure can be examined after the run."""
    from riskpipe.settings import reset_settings

    work = Path(tempfile.mkdtemp(prefix=prefix))
    saved = dict(os.environ)
    keep = os.environ.get("RISKPIPE_BENCH_KEEP")
    try:
        os.environ.update({"RISKPIPE_DATA_DIR": str(work), "RISKPIPE_MODE": "embedded", "RISKPIPE_LOG_LEVEL": "WARNING",
                           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", **env})
        reset_settings()
        yield work
    finally:
        from pyspark.sql import SparkSession

        if (spark := SparkSession.getActiveSession()) is not None:
            spark.stop()  # its settings are this benchmark's: the next one builds its own
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            print(f"   world kept in {shutil.move(work, Path(keep) / work.name)}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(scale: str) -> list[dict]:
    from riskpipe.demo import (
        DemoConfig,
        _feature_dates,
        step_features,
        step_generate,
        step_indicators,
        step_ingest,
    )
    from riskpipe.models.config import get_model_settings
    from riskpipe.models.flows import train_from_store

    customers, days = SIZES.get(scale, SIZES["full"])
    cfg = DemoConfig(customers=customers, days=days, airflow_days=0)
    with pipeline_world("bench-quality-", RISKPIPE_FRAUD_LABEL_DAYS=str(cfg.fraud_label_days)):
        for step in (step_generate, step_ingest, step_indicators, step_features):
            t0 = time.perf_counter()
            step(cfg)
            print(f"   {step.__name__.removeprefix('step_')}: {time.perf_counter() - t0:.0f} s", flush=True)
        dates = _feature_dates(cfg)
        ms = get_model_settings()
        r = train_from_store("fraud", start=dates[0], end=dates[-1], num_boost_round=ms.num_boost_round,
                             gbm_params={"num_threads": ms.num_threads} if ms.num_threads else None)
        out = []
        for kind, c in sorted(r.candidates.items()):
            m = c.oot_metrics
            if "best_auc" not in m:
                raise RuntimeError(f"fraud {kind}: no best achievable AUC in the OOT metrics (ground truth not found)")
            out.append({
                "name": f"fraud {kind}: OOT AUC vs best achievable", "figure": round(m["auc"], 4), "unit": "AUC",
                "anchor": "generator's true p_fraud on the same OOT rows", "anchor_figure": round(m["best_auc"], 4),
                "ratio": round(m["auc_ratio_to_best"], 4), "goal": f">= {GOAL}",
                "note": f"{customers:,} customers x {days} days through the pipeline; {r.n_train:,} train + "
                        f"{r.n_oot:,} OOT rows (OOT {r.oot_window[0][:10]} to {r.oot_window[1][:10]}); "
                        "higher is better"
                        + ("; the challenger" if kind == r.challenger_kind else "")})
        for model, why in NOT_MEASURED.items():
            print(f"   {model}: not measured here ({why})", flush=True)
        return out
