"""What the tasks of ``risk_retrain`` call: retrain a model on its feature service, then gate promotion.

The window is fixed by the run's logical date D, never the wall clock: label dates
``D - retrain_window_days .. D - 1`` with labels known by D 00:00 UTC (only rows whose performance
window had closed by then, :func:`riskpipe.models.flows.train_from_store`). So a retry or a rerun of
the same date registers nothing new (training is idempotent on its inputs), and a backfill of an
old date trains exactly what that date would have trained.

A model whose labels have not matured anywhere in the window (a new deployment: credit PD needs 365
days of history) is *skipped* with the reason, not failed: nothing is wrong, there is nothing to
learn from yet. Any other problem fails the task (and alerts through the DAG's failure callback).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from riskpipe.orchestration.daily import run_day
from riskpipe.orchestration.faults import maybe_fail

log = logging.getLogger(__name__)

#: TrainInputError messages that mean "no matured labels in the window yet" (skip, not fail)
NOT_YET = ("not matured", "no label partitions")


class NothingToTrain(Exception):
    """The window holds no matured labels for this model yet (the task is skipped with this reason)."""


def window(ds: str | dt.date) -> tuple[dt.date, dt.date, dt.datetime]:
    """First and last label date of the run's training window and the labels-known-by instant."""
    from riskpipe.orchestration.airflow_env import get_airflow_settings

    day = run_day(ds)
    days = get_airflow_settings().retrain_window_days
    return day - dt.timedelta(days=days), day - dt.timedelta(days=1), dt.datetime.combine(day, dt.time(), dt.UTC)


def train(ds: str, model: str) -> dict[str, Any]:
    """Train ``model`` for the run's window; the XCom names the versions and their OOT metrics."""
    from riskpipe.models.config import get_model_settings
    from riskpipe.models.flows import train_from_store
    from riskpipe.models.train import TrainInputError

    first, last, as_of = window(ds)
    maybe_fail(f"train_{model}")
    ms = get_model_settings()
    params = {"num_threads": ms.num_threads} if ms.num_threads else None
    try:
        r = train_from_store(model, start=first, end=last, as_of=as_of, num_boost_round=ms.num_boost_round,
                             gbm_params=params)
    except TrainInputError as err:
        if any(k in str(err) for k in NOT_YET):
            raise NothingToTrain(f"{model}: nothing to train for {first}..{last}: {err}") from err
        raise
    out = {
        "model": model, "window": [first.isoformat(), last.isoformat()], "labels_known_by": as_of.isoformat(),
        "reused": bool(r.extra.get("reused")), "n_train": r.n_train, "n_oot": r.n_oot,
        "challenger": {"kind": r.challenger_kind, "version": r.challenger_version},
        "candidates": {k: {"version": c.version, "oot_auc": round(float(c.oot_metrics["auc"]), 6)}
                       for k, c in r.candidates.items()},
        "training_set": r.extra.get("training_set"), "population": r.extra.get("population"),
    }
    log.info("trained %s on %s..%s: %s", model, first, last, out["candidates"])
    return out


def promote(ds: str, model: str) -> dict[str, Any]:
    """Gate the challenger against the champion (:func:`riskpipe.models.registry.promote`)."""
    from riskpipe.models.registry import CHALLENGER, CHAMPION, alias_version, configure_mlflow
    from riskpipe.models.registry import promote as promote_model

    maybe_fail(f"promote_{model}")
    client = configure_mlflow()
    if alias_version(client, model, CHALLENGER) is None:
        # a rerun whose (reused) training is already champion: nothing to judge
        champ = alias_version(client, model, CHAMPION)
        reason = f"no {CHALLENGER}: champion v{champ.version if champ else None} unchanged"
        log.info("promotion of %s: %s", model, reason)
        return {"model": model, "day": run_day(ds).isoformat(), "action": "noop", "promoted": False,
                "champion": champ.version if champ else None, "previous": champ.version if champ else None,
                "reasons": [reason]}
    d = promote_model(model)
    out = {"model": model, "day": run_day(ds).isoformat(), "action": d.action, "promoted": d.promoted,
           "champion": d.to_version, "previous": d.from_version, "reasons": d.reasons}
    log.info("promotion of %s: %s (%s)", model, d.action, "; ".join(d.reasons))
    return out
