"""MLflow registry: aliases ``champion``/``challenger``, evidence-based promotion, rollback, history.

Every alias move (and every refusal to move one) leaves two records: an MLflow run in the
``promotions`` experiment with the evidence as metrics, and a line in the append-only JSONL history
``<data_dir>/mlflow/alias_history.jsonl`` (who, when, from, to, evidence, reason). Rollback reads that
history, so "the previous champion" is what was actually served before, not a guess from version
numbers.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskpipe.errors import RiskpipeError
from riskpipe.models.config import ModelSettings, get_model_settings
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
PROMOTIONS_EXPERIMENT = "promotions"
EVAL_SET_ARTIFACT = "evaluation/oot.parquet"


class RegistryError(RiskpipeError):
    """A registry operation cannot be done (no such model, no challenger, nothing to roll back to)."""


# ---- set-up ---------------------------------------------------------------------------------------
def configure_mlflow(settings: Settings | None = None):
    """Point MLflow (tracking + registry) at the configured store; returns an ``MlflowClient``."""
    import mlflow
    from mlflow import MlflowClient

    s = settings or get_settings()
    uri = s.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in s.artifact_root:
        Path(s.artifact_root).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(name: str, settings: Settings | None = None) -> str:
    """The experiment id for ``name``, created with its artifacts under the configured artifact root."""
    import mlflow

    s = settings or get_settings()
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = s.artifact_root.rstrip("/")
    return mlflow.create_experiment(name, artifact_location=f"{root}/{name}")


def history_path(settings: Settings | None = None) -> Path:
    s = settings or get_settings()
    return (s.data_dir / "mlflow" / "alias_history.jsonl").resolve()


def _who() -> str:
    return os.environ.get("RISKPIPE_USER") or getpass.getuser()


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def append_history(record: dict[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """Append one alias event (stamped with who and when) to the JSONL history; never rewrites it."""
    path = history_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "who": _who(), **_clean(record)}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, sort_keys=True) + "\n")
    return rec


def read_history(model_name: str | None = None, settings: Settings | None = None) -> list[dict[str, Any]]:
    path = history_path(settings)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise RegistryError(f"{path}: line {n} is not valid JSON ({err.msg})") from None
        if model_name is None or rec.get("model_name") == model_name:
            out.append(rec)
    return out


def alias_version(client, model_name: str, alias: str) -> Any | None:
    """The ModelVersion behind ``alias`` or None when the alias is not set."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    mv._version = str(mv.version)  # some stores return an int here, others a str: one type for comparisons
    return mv


def set_alias(
    client, model_name: str, alias: str, version: str, *, action: str, reason: str,
    evidence: dict[str, Any] | None = None, settings: Settings | None = None,
) -> dict[str, Any]:
    """Move ``alias`` to ``version`` and record the move in the history."""
    prev = alias_version(client, model_name, alias)
    client.set_registered_model_alias(model_name, alias, str(version))
    return append_history(
        {"model_name": model_name, "alias": alias, "action": action, "from_version": prev.version if prev else None,
         "to_version": str(version), "reason": reason, "evidence": evidence or {}},
        settings,
    )


# ---- idempotent training ----------------------------------------------------------------------------
def find_training(model_name: str, key: str, settings: Settings | None = None):  # noqa: ANN201
    """The TrainResult of an earlier training with the same ``training_key``, rebuilt from the registry.

    Lets a retried training task converge on the versions it already registered (no duplicates).
    Returns None when that training is not (completely) registered.
    """
    import mlflow.artifacts
    import mlflow.pyfunc

    from riskpipe.models.explain import resolve_estimator
    from riskpipe.models.train import Candidate, TrainResult

    client = configure_mlflow(settings)
    hits: dict[str, Any] = {}
    for mv in client.search_model_versions(f"name='{model_name}'"):
        kind = mv.tags.get("model_kind")
        if mv.tags.get("training_key") == key and (kind not in hits or int(mv.version) > int(hits[kind].version)):
            hits[kind] = mv
    if set(hits) != {"scorecard", "lightgbm"}:
        return None
    cands = {}
    for kind, mv in hits.items():
        m = client.get_run(mv.run_id).data.metrics
        cands[kind] = Candidate(
            kind=kind,
            estimator=resolve_estimator(mlflow.pyfunc.load_model(f"models:/{model_name}/{mv.version}")),
            oot_metrics={k.removeprefix("oot_"): v for k, v in m.items() if k.startswith("oot_")},
            train_metrics={k.removeprefix("train_"): v for k, v in m.items() if k.startswith("train_")},
            psi={k.removeprefix("psi_"): v for k, v in m.items() if k.startswith("psi_")},
            run_id=mv.run_id, version=str(mv.version), model_uri=f"models:/{model_name}/{mv.version}",
            card_markdown=mlflow.artifacts.load_text(f"runs:/{mv.run_id}/model_card.md"),
        )
    best = "lightgbm" if cands["lightgbm"].oot_metrics["auc"] > cands["scorecard"].oot_metrics["auc"] else "scorecard"
    t = hits[best].tags
    r = TrainResult(
        model_name=model_name, challenger_kind=best, challenger_version=cands[best].version, candidates=cands,
        features=list(cands[best].estimator.features), train_window=(t["train_start"], t["train_end"]),
        oot_window=(t["oot_start"], t["oot_end"]), data_hash=t["data_hash"], n_train=int(t["n_train"]),
        n_oot=int(t["n_oot"]), parent_run_id=t["eval_set_uri"].split("/")[1], eval_set_uri=t["eval_set_uri"],
        extra={"training_key": key, "reused": True},
    )
    v = r.challenger_version
    ch, cp = alias_version(client, model_name, CHALLENGER), alias_version(client, model_name, CHAMPION)
    if (ch is None or ch.version != v) and (cp is None or cp.version != v):
        set_alias(client, model_name, CHALLENGER, v, action="train",
                  reason=f"re-run of training {key}: reused version {v} ({best})",
                  evidence={f"{k}_oot_auc": c.oot_metrics["auc"] for k, c in cands.items()}, settings=settings)
    log.info("training %s of %s already registered (versions %s): reused", key, model_name,
             {k: c.version for k, c in cands.items()})
    return r


# ---- evaluation set -------------------------------------------------------------------------------
def load_eval_set(client, version) -> pd.DataFrame:  # noqa: ANN001
    """The OOT rows a version was validated on (logged by training with the version's tags)."""
    import mlflow.artifacts

    uri = version.tags.get("eval_set_uri")
    if not uri:
        raise RegistryError(f"version {version.version} of {version.name} has no eval_set_uri tag")
    with tempfile.TemporaryDirectory() as d:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=d)
        return pd.read_parquet(local)


def _rescore(model_name: str, version, eval_df: pd.DataFrame, label: str) -> dict[str, float]:  # noqa: ANN001
    import mlflow.pyfunc

    from riskpipe.models.evaluate import metrics
    from riskpipe.models.explain import feature_matrix, resolve_estimator

    est = resolve_estimator(mlflow.pyfunc.load_model(f"models:/{model_name}/{version.version}"))
    missing = [f for f in est.features if f not in eval_df.columns]
    if missing:
        raise RegistryError(
            f"version {version.version} needs feature(s) {missing} absent from the evaluation set; "
            "pass --table with a table that has them"
        )
    p = est.predict_proba(feature_matrix(eval_df, est.features))
    return metrics(eval_df[label].to_numpy(dtype=float), p)


# ---- promotion ------------------------------------------------------------------------------------
@dataclass
class Decision:
    """What promotion or rollback decided, and the evidence it decided on."""

    model_name: str
    action: str  # promote | reject | rollback | noop | pending_approval
    promoted: bool
    from_version: str | None
    to_version: str | None
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


def _log_decision(d: Decision, settings: Settings | None) -> None:
    import mlflow

    exp_id = ensure_experiment(PROMOTIONS_EXPERIMENT, settings)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{d.model_name}-{d.action}") as run:
        mlflow.set_tags({
            "model_name": d.model_name, "action": d.action, "promoted": str(d.promoted),
            "from_version": str(d.from_version), "to_version": str(d.to_version), "who": _who(),
            "reason": "; ".join(d.reasons)[:5000],
        })
        nums = {k: float(v) for k, v in d.evidence.items() if isinstance(v, int | float) and not isinstance(v, bool)
                and np.isfinite(v)}
        if nums:
            mlflow.log_metrics(nums)
        mlflow.log_dict(d.as_dict(), "decision.json")
        d.run_id = run.info.run_id


def promote(
    model_name: str,
    *,
    margin: float | None = None,
    table: pd.DataFrame | None = None,
    settings: Settings | None = None,
    model_settings: ModelSettings | None = None,
) -> Decision:
    """Move ``champion`` to the ``challenger`` version only if it wins on the same OOT rows and is stable.

    Gates (all must pass; every failure is named in ``reasons``):
    - OOT AUC >= champion OOT AUC + ``margin`` (both re-scored on the challenger's OOT rows);
    - score PSI train->OOT of the challenger <= ``max_score_psi``;
    - calibration: mean predicted / observed rate within [1/x, x], and Brier not more than
      ``max_brier_increase`` worse than the champion's.
    With no champion yet, a challenger that passes the stability gates becomes champion.
    """
    ms = model_settings or get_model_settings()
    margin = ms.promote_margin if margin is None else margin
    client = configure_mlflow(settings)
    _require_model(client, model_name)
    ch = alias_version(client, model_name, CHALLENGER)
    if ch is None:
        raise RegistryError(f"model {model_name!r} has no '{CHALLENGER}' alias: train a model first")
    champ = alias_version(client, model_name, CHAMPION)
    if champ is not None and champ.version == ch.version:
        d = Decision(model_name, "noop", False, champ.version, ch.version,
                     [f"challenger version {ch.version} is already champion"])
        _log_decision(d, settings)
        append_history({"model_name": model_name, "alias": CHAMPION, "action": "noop", "from_version": champ.version,
                        "to_version": champ.version, "reason": d.reasons[0], "evidence": {}}, settings)
        return d

    label = ch.tags.get("label_column")
    if table is not None:
        eval_df = _oot_slice(table, ch)
    else:
        eval_df = load_eval_set(client, ch)
    ev: dict[str, Any] = {"margin": margin, "oot_rows": len(eval_df), "challenger_version": float(ch.version)}
    m_ch = _rescore(model_name, ch, eval_df, label)
    ev.update({f"challenger_{k}": v for k, v in m_ch.items() if k in ("auc", "ks", "brier", "calibration_ratio", "ece")})
    run = client.get_run(ch.run_id)
    score_psi = run.data.metrics.get("psi_score", float("nan"))
    ev["challenger_psi_score"] = score_psi
    reasons: list[str] = []
    if not np.isfinite(score_psi) or score_psi > ms.max_score_psi:
        reasons.append(f"unstable: score PSI train->OOT {score_psi:.4f} > {ms.max_score_psi}")
    cr = m_ch["calibration_ratio"]
    if not np.isfinite(cr) or not (1 / ms.max_calibration_ratio <= cr <= ms.max_calibration_ratio):
        reasons.append(
            f"calibration: mean predicted / observed {cr:.3f} outside [{1 / ms.max_calibration_ratio:.3f}, "
            f"{ms.max_calibration_ratio}]"
        )
    if champ is not None:
        ev["champion_version"] = float(champ.version)
        m_cp = _rescore(model_name, champ, eval_df, label)
        ev.update({f"champion_{k}": v for k, v in m_cp.items() if k in ("auc", "ks", "brier", "calibration_ratio", "ece")})
        ev["auc_gain"] = m_ch["auc"] - m_cp["auc"]
        if not m_ch["auc"] >= m_cp["auc"] + margin:
            reasons.append(
                f"not better: OOT AUC {m_ch['auc']:.4f} vs champion {m_cp['auc']:.4f} (needs +{margin})"
            )
        if m_ch["brier"] > m_cp["brier"] * (1 + ms.max_brier_increase):
            reasons.append(
                f"calibration: Brier {m_ch['brier']:.5f} > champion {m_cp['brier']:.5f} x {1 + ms.max_brier_increase}"
            )
    promoted = not reasons
    if promoted:
        why = (f"challenger v{ch.version} beats champion v{champ.version} on OOT AUC by {ev['auc_gain']:.4f} "
               f"and is stable" if champ else f"first champion: v{ch.version} passes the stability gates")
        reasons = [why]
    current = champ.version if champ else None
    if promoted and ms.promote_approval:
        # four eyes: the gate passed, a second named person moves the alias (riskpipe approve)
        d = Decision(model_name, "pending_approval", False, current, current,
                     [f"{reasons[0]}; awaiting approval by a second person "
                      f"(riskpipe approve --model-name {model_name})"], ev)
    else:
        d = Decision(model_name, "promote" if promoted else "reject", promoted, current,
                     ch.version if promoted else current, reasons, ev)
    _log_decision(d, settings)
    ev["promotion_run_id"] = d.run_id
    if promoted and ms.promote_approval:
        append_history({"model_name": model_name, "alias": CHAMPION, "action": "approval_requested",
                        "from_version": d.from_version, "to_version": d.from_version, "candidate_version": ch.version,
                        "reason": reasons[0], "evidence": ev}, settings)
    elif promoted:
        _move_champion(client, model_name, ch.version, reasons[0], ev, d.run_id, settings)
    else:
        append_history({"model_name": model_name, "alias": CHAMPION, "action": "reject",
                        "from_version": d.from_version, "to_version": d.from_version,
                        "candidate_version": ch.version, "reason": "; ".join(reasons), "evidence": ev}, settings)
    log.info("promotion of %s v%s: %s (%s)", model_name, ch.version, d.action, "; ".join(reasons))
    return d


def _move_champion(client, model_name: str, version: str, reason: str, ev: dict[str, Any], run_id: str | None,
                   settings: Settings | None) -> None:
    set_alias(client, model_name, CHAMPION, version, action="promote", reason=reason, evidence=ev, settings=settings)
    client.delete_registered_model_alias(model_name, CHALLENGER)
    append_history({"model_name": model_name, "alias": CHALLENGER, "action": "cleared", "from_version": version,
                    "to_version": None, "reason": f"v{version} is now champion",
                    "evidence": {"promotion_run_id": run_id}}, settings)


def pending_approval(model_name: str, settings: Settings | None = None) -> dict[str, Any] | None:
    """The open approval request of ``model_name`` (the last ``approval_requested`` not followed by a
    champion move, a rejection or another request), or None."""
    pending = None
    for rec in read_history(model_name, settings):
        if rec.get("alias") != CHAMPION:
            continue
        if rec.get("action") == "approval_requested":
            pending = rec
        elif rec.get("action") in ("promote", "rollback", "reject", "approval_refused"):
            pending = None
    return pending


def approve(model_name: str, *, approver: str | None = None, settings: Settings | None = None) -> Decision:
    """Second-person approval of a promotion the gate passed (``RISKPIPE_MODEL_PROMOTE_APPROVAL``).

    The approver (default ``RISKPIPE_USER`` / the OS user) must not be who requested it, and the
    challenger must still be the version the gate judged; then ``champion`` moves, and the history
    records requester, approver and the gate's evidence."""
    client = configure_mlflow(settings)
    _require_model(client, model_name)
    req = pending_approval(model_name, settings)
    if req is None:
        raise RegistryError(f"model {model_name!r} has no promotion awaiting approval (run `riskpipe promote`)")
    who = approver or _who()
    if who == req.get("who"):
        raise RegistryError(f"{who!r} requested this promotion and cannot also approve it: a second person must")
    version = str(req["candidate_version"])
    ch = alias_version(client, model_name, CHALLENGER)
    if ch is None or str(ch.version) != version:
        raise RegistryError(f"model {model_name!r}: the challenger is now "
                            f"{'v' + str(ch.version) if ch else 'unset'}, not v{version} that the gate judged; "
                            "run `riskpipe promote` again")
    ev = {**req.get("evidence", {}), "requested_by": req.get("who"), "requested_at": req.get("when"),
          "approved_by": who}
    reason = f"{req.get('reason')}; approved by {who} (requested by {req.get('who')})"
    d = Decision(model_name, "promote", True, req.get("from_version"), version, [reason], ev)
    _log_decision(d, settings)
    _move_champion(client, model_name, version, reason, ev, d.run_id, settings)
    log.info("%s", reason)
    return d


def _oot_slice(table: pd.DataFrame, version) -> pd.DataFrame:  # noqa: ANN001
    """The rows of a caller-given table inside the challenger's OOT window (same time rules as training)."""
    from riskpipe.models.train import _check_time

    tcol = version.tags.get("time_column")
    start, end = version.tags.get("oot_start"), version.tags.get("oot_end")
    t = _check_time(table, tcol, "promotion table")
    out = table[((t >= pd.Timestamp(start)) & (t <= pd.Timestamp(end))).to_numpy()].reset_index(drop=True)
    if out.empty:
        raise RegistryError(f"promotion table has no rows in the OOT window {start} .. {end} of {tcol!r}")
    return out


def _require_model(client, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model_name)
    except MlflowException:
        raise RegistryError(f"no registered model named {model_name!r} in {get_settings().tracking_uri}") from None


def champion_stack(model_name: str, settings: Settings | None = None) -> list[str]:
    """Champion versions in the order they served, as the history tells (rollbacks pop)."""
    stack: list[str] = []
    for rec in read_history(model_name, settings):
        if rec.get("alias") != CHAMPION:
            continue
        if rec.get("action") == "promote":
            stack.append(str(rec["to_version"]))
        elif rec.get("action") == "rollback" and stack:
            stack.pop()
    return stack


def rollback(model_name: str, *, settings: Settings | None = None) -> Decision:
    """Move ``champion`` back to the version that was champion before the current one."""
    client = configure_mlflow(settings)
    _require_model(client, model_name)
    current = alias_version(client, model_name, CHAMPION)
    stack = champion_stack(model_name, settings)
    if current is None:
        raise RegistryError(f"model {model_name!r} has no champion to roll back")
    if len(stack) < 2:
        raise RegistryError(
            f"model {model_name!r}: no previous champion in {history_path(settings)} (champion history {stack})"
        )
    target = stack[-2]
    reason = f"rollback: champion v{current.version} -> previous champion v{target}"
    d = Decision(model_name, "rollback", True, current.version, target, [reason], {})
    _log_decision(d, settings)
    set_alias(client, model_name, CHAMPION, target, action="rollback", reason=reason,
              evidence={"promotion_run_id": d.run_id}, settings=settings)
    log.info("%s", reason)
    return d
