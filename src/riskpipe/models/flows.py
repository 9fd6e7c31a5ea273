"""The three risk models on the feature store: label table -> Feast training set -> train -> promote.

Each model is declared once (:data:`MODEL_SPECS`): its Feast feature service, its label definition
(``labels.yml``: label table, observation key, performance window, exclusions), the generator's
ground-truth probability (synthetic worlds only; gives the ratio of the model's AUC to the best
achievable one) and its risk directions (monotone constraints, so that e.g. more missed payments can
never lower a PD).

``train_from_store`` is what ``riskpipe train --model`` and the ``risk_retrain`` DAG run: it reads
the label partitions of a window, keeps the rows its label definition calls matured by ``as_of`` and
not excluded (indeterminate, unresolved), builds the point-in-time training set through Feast (manifest, with
the label definition's name, version and hash, written and logged to MLflow with the run), and hands
it to :func:`riskpipe.models.train.train_model`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from riskpipe.atomic import write_atomic
from riskpipe.features.tables import DATA_FILE, PARTITION_KEY
from riskpipe.models.config import MODEL_FEATURE_SERVICES, MODEL_NAMES
from riskpipe.models.labels import (
    LabelConfigError,
    LabelDefinition,
    check_built,
    definitions_file,
    label_definition,
    training_rows,
)
from riskpipe.models.train import TrainInputError, TrainResult, train_model
from riskpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """One risk model: where its features and labels come from and how risk moves with them."""

    name: str
    label: str  # its definition in riskpipe/models/labels.yml
    truth_file: str | None = None  # under <ground_truth>/, a file or a dt=*/ tree
    truth_column: str | None = None
    #: a truth no file holds per row, computed for the rows (key, feature_ts) under the label
    #: definition from the ground truth directory (raises TruthUnavailable when it cannot be)
    truth_compute: Callable[[pd.DataFrame, LabelDefinition, Path], np.ndarray] | None = None
    monotone: dict[str, int] = field(default_factory=dict)
    #: the service's request_epoch_s is the event's time (a card transaction's), which training derives
    #: from the row's point in time unless the row carries it (see served_rows)
    event_epoch_request: bool = False
    #: for a dpd label: the (min_dpd, performance_days) the generator's truth is the probability of when
    #: the truth file does not record it (its columns default_min_dpd, default_window_days, written since
    #: the generator took them as parameters); under another definition the truth is not the label's
    #: best achievable predictor, so no ratio is reported
    truth_dpd: tuple[int, int] | None = None

    def truth_dpd_in(self, settings: Settings) -> tuple[int, int] | None:
        """The (min_dpd, performance_days) of the generator's truth in ``settings``' ground truth."""
        path = settings.ground_truth / self.truth_file if self.truth_file else None
        if self.truth_dpd is None or path is None or not path.is_file():
            return self.truth_dpd
        cols = ("default_min_dpd", "default_window_days")
        if not set(cols) <= set(pq.read_schema(path).names):
            return self.truth_dpd
        recorded = pq.read_table(path, columns=list(cols)).to_pandas().drop_duplicates()
        if len(recorded) != 1:  # one world, one definition; several: no single truth to compare with
            return None
        return int(recorded.iloc[0, 0]), int(recorded.iloc[0, 1])

    def truth_applies(self, definition: LabelDefinition, settings: Settings | None = None) -> bool:
        """Whether :attr:`truth_column` is the true probability of ``definition``'s label."""
        if not self.truth_column:
            return False
        if self.truth_dpd is None:
            return True
        bad = getattr(definition.bad, "min_dpd", None)
        return (bad, definition.performance_days) == self.truth_dpd_in(settings or get_settings())

    @property
    def feature_services(self) -> tuple[str, ...]:
        """The feature services this model may train and score on (:data:`MODEL_FEATURE_SERVICES`)."""
        return MODEL_FEATURE_SERVICES[self.name]

    @property
    def feature_service(self) -> str:
        """The service new versions train on: ``RISKPIPE_MODEL_FEATURE_SERVICES``, else the first declared."""
        from riskpipe.models.config import get_model_settings

        return get_model_settings().feature_services.get(self.name, self.feature_services[0])

    def training_set_name(self, service: str, first: dt.date, last: dt.date, kind: str = "") -> str:
        """File stem of a training set under ``<runs>/training_sets``: ``<model>-<first>-<last>``, then
        ``-<service>`` unless it is the model's first service (one set per service: a v2 training must
        not overwrite the file a v1 version's manifest points to), then ``-<kind>`` (declined, served)."""
        parts = [self.name, str(first), str(last), *([service] if service != self.feature_services[0] else []),
                 *([kind] if kind else [])]
        return "-".join(parts)

    def check_service(self, service: str) -> str:
        """``service`` if this model may use it, else an error naming the ones it may."""
        if service not in self.feature_services:
            raise TrainInputError(f"{self.name} trains and scores on feature service(s) "
                                  f"{', '.join(self.feature_services)}, not {service!r}")
        return service

    def definition(self, settings: Settings | None = None) -> LabelDefinition:
        """The label definition in force (performance window, exclusions, table, key)."""
        return label_definition(self.label, settings)

    @property
    def label_table(self) -> str:
        return self.definition().table

    @property
    def key(self) -> str:
        """The observation key of the label table."""
        return self.definition().entity_key


def _early_warning_truth(rows: pd.DataFrame, definition: LabelDefinition, gt: Path) -> np.ndarray:
    from riskpipe.sources.truth import TruthUnavailable, early_warning_probability

    min_dpd = getattr(definition.bad, "min_dpd", None)
    if min_dpd is None:
        raise TruthUnavailable(f"{definition.ref}: not a days-past-due label")
    return early_warning_probability(rows, gt, int(min_dpd), int(definition.performance_days))


MODEL_SPECS: dict[str, ModelSpec] = {
    "credit_pd": ModelSpec(
        "credit_pd", "credit_pd",
        truth_file="applications.parquet", truth_column="p_default_12m", truth_dpd=(90, 365),
        monotone={"missed_payments_3m": 1, "missed_payments_6m": 1, "missed_payments_12m": 1,
                  "dpd_current": 1, "dpd_max_12m": 1, "bureau_delinquencies_24m": 1, "bureau_score": -1,
                  "on_time_ratio_3m": -1, "on_time_ratio_6m": -1, "on_time_ratio_12m": -1,
                  "component_bad_share": 1,
                  # credit_pd_v2: the report pulled at application
                  "bureau_score_at_application": -1, "delinquencies_24m_at_application": 1},
    ),
    "fraud": ModelSpec(
        "fraud", "fraud",
        truth_file="transactions", truth_column="p_fraud",
        monotone={"component_bad_share": 1, "max_customers_per_device": 1},
        event_epoch_request=True,
    ),
    "early_warning": ModelSpec(
        "early_warning", "early_warning",
        truth_file="installments.parquet", truth_column="p_early_warning", truth_compute=_early_warning_truth,
        monotone={"dpd_current": 1, "missed_payments_3m": 1, "paid_ratio": -1, "on_time_ratio_3m": -1},
    ),
}
if tuple(MODEL_SPECS) != MODEL_NAMES or set(MODEL_FEATURE_SERVICES) != set(MODEL_NAMES):
    raise RuntimeError("riskpipe.models.config.MODEL_NAMES and MODEL_FEATURE_SERVICES must list the models of "
                       "MODEL_SPECS")
TRUTH = "truth_probability"


def model_spec(name: str) -> ModelSpec:
    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise TrainInputError(f"unknown model {name!r}; known: {', '.join(MODEL_SPECS)}") from None


def _day(v: dt.date | str) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


def read_labels(spec: ModelSpec, start: dt.date, end: dt.date, settings: Settings) -> tuple[pd.DataFrame, list[str]]:
    """Label rows of the partitions ``start..end`` (inclusive) and the partitions read."""
    root = settings.features / spec.label_table
    frames, parts = [], []
    for f in sorted(root.glob(f"{PARTITION_KEY}=*/{DATA_FILE}")):
        try:
            day = dt.date.fromisoformat(f.parent.name.split("=", 1)[1])
        except ValueError:
            continue
        if start <= day <= end:
            frames.append(pd.read_parquet(f))
            parts.append(f.parent.name)
    if not frames:
        raise TrainInputError(f"{spec.label_table}: no label partitions between {start} and {end} under {root}")
    return pd.concat(frames, ignore_index=True), parts


def attach_truth(df: pd.DataFrame, spec: ModelSpec, settings: Settings,
                 definition: LabelDefinition | None = None) -> bool:
    """Add the generator's true probability as ``truth_probability`` when the world is synthetic."""
    if not spec.truth_file:
        return False
    path = settings.ground_truth / spec.truth_file
    if spec.truth_compute is not None:
        if not path.is_file():
            return False
        from riskpipe.sources.truth import TruthUnavailable

        try:
            df[TRUTH] = spec.truth_compute(df[[spec.key, "feature_ts"]], definition or spec.definition(settings),
                                           settings.ground_truth)
        except TruthUnavailable as e:
            log.warning("%s: no ground truth (%s); not reporting the AUC ratio", spec.name, e)
            return False
        return True
    files = [path] if path.is_file() else sorted(path.glob("dt=*/*.parquet")) if path.is_dir() else []
    if not files:
        return False
    truth = pd.concat([pd.read_parquet(f, columns=[spec.key, spec.truth_column]) for f in files], ignore_index=True)
    truth = truth.drop_duplicates(spec.key).rename(columns={spec.truth_column: TRUTH})
    merged = df[[spec.key]].merge(truth, on=spec.key, how="left")
    if merged[TRUTH].isna().any():
        log.warning("%s: %d rows have no ground truth; not reporting the AUC ratio",
                    spec.name, int(merged[TRUTH].isna().sum()))
        return False
    df[TRUTH] = merged[TRUTH].to_numpy()
    return True


TRAIN_POPULATIONS = ("labelled", "served")


def served_rows(spec: ModelSpec, labels: pd.DataFrame, settings: Settings, max_lag: dt.timedelta,
                as_of: dt.datetime | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The label rows a champion decision served, each at the time of that decision.

    The decisions come from the outcomes partitions (``riskpipe outcomes``, the risk_monitoring DAG):
    champion decisions with the entity id their request carried, whatever their status when joined
    (the label itself is the label table's row, matured by the label definition). An observation's
    decision is its earliest one made at or after the label's observation time and at most ``max_lag``
    after it (for daily labels, on the label's day); its ``decided_at`` replaces the label row's
    ``feature_ts``, so features come as of the moment the model scored, and every other column
    stays the label row's; fraud's ``request_epoch_s`` (a request field otherwise derived from the
    point in time) is set from the label's event time, as serving takes it from the transaction.
    One row per observation, never two: the served population replaces, it does not add. Label rows
    without such a decision are left out and counted (``not_served``; of them ``decision_outside_window``
    had a decision too early or too late to be the one the label observes). With ``as_of``, only
    decisions made by then count, so a training as of a past time is the same whenever it is rerun.
    """
    from riskpipe.monitoring.outcomes import PER_DAY_LABELS, read_outcomes

    out = read_outcomes(settings, model=spec.name)
    out = out[out["entity_id"].notna()]
    if as_of is not None:
        out = out[pd.to_datetime(out["decided_at"], utc=True) <= pd.Timestamp(as_of)]
    counts = {"label_rows": len(labels), "served": 0, "not_served": 0, "decision_outside_window": 0,
              "decisions_read": len(out)}
    lab = labels.reset_index(drop=True).assign(_row=lambda d: range(len(d)),
                                               _id=lambda d: d[spec.key].astype(str),
                                               _t=lambda d: pd.to_datetime(d["feature_ts"], utc=True))
    dec = pd.DataFrame({"_id": out["entity_id"].astype(str), "decision_id": out["decision_id"].astype(str),
                        "_at": pd.to_datetime(out["decided_at"], utc=True)})
    pairs = lab[["_row", "_id", "_t"]].merge(dec, on="_id", how="inner")
    if spec.label_table in PER_DAY_LABELS:  # one observation per entity and day: that day's decisions
        pairs = pairs[pairs["_at"].dt.date == pairs["_t"].dt.date]
    inside = (pairs["_at"] >= pairs["_t"]) & (pairs["_at"] <= pairs["_t"] + max_lag)
    first = (pairs[inside].sort_values(["_row", "_at", "decision_id"], kind="stable")
             .drop_duplicates("_row").set_index("_row"))
    served = lab.loc[lab["_row"].isin(first.index)].copy()
    if spec.event_epoch_request and "request_epoch_s" not in served.columns:
        served["request_epoch_s"] = ((served["_t"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype("int64")
    served["feature_ts"] = first.loc[served["_row"], "_at"].to_numpy()
    served["decision_id"] = first.loc[served["_row"], "decision_id"].to_numpy()
    counts["served"] = len(served)
    counts["not_served"] = len(lab) - len(served)
    counts["decision_outside_window"] = int(pairs.loc[~pairs["_row"].isin(first.index), "_row"].nunique())
    return served.drop(columns=["_row", "_id", "_t"]).reset_index(drop=True), counts


def not_features(columns: Iterable[str], spec: ModelSpec, request_fields: Iterable[str]) -> list[str]:
    """The training set's columns that are not model inputs: label bookkeeping, the row key, the decision
    id and the request fields (those reach the model through the service's on-demand features only;
    serving reads the same service, so training must too)."""
    skip = {"label_known_at", "label_status", "created_ts", "decision_id", spec.key, *request_fields}
    return [c for c in columns if c in skip]


def train_from_store(
    model: str,
    *,
    start: dt.date | str,
    end: dt.date | str,
    as_of: dt.datetime | None = None,
    oot_from: str | None = None,
    num_boost_round: int = 200,
    gbm_params: dict[str, Any] | None = None,
    force: bool = False,
    settings: Settings | None = None,
    reject_inference: str = "none",
    population: str | None = None,
    feature_service: str | None = None,
) -> TrainResult:
    """Train ``model`` on a feature service's point-in-time training set for labels of ``start..end``.

    Only labels matured by ``as_of`` (default: the end of ``end``) under the model's label definition
    and not excluded by it are used; the training set manifest and the MLflow run and versions record
    the definition (name, version, content hash). Idempotent like :func:`train_model`: the same window
    on the same data and definition finds the versions registered before.
    For an application model (credit_pd), the declined applications of the window join as the rest
    of the through-the-door population when ``reject_inference`` asks for them or the world is
    synthetic (their true outcomes then give the through-the-door AUC): see :mod:`riskpipe.models.reject`.
    ``population`` (default ``RISKPIPE_MODEL_TRAIN_POPULATION``): ``labelled`` trains on every usable
    label row; ``served`` only on the observations a champion decision served, at the decision's time
    (:func:`served_rows`: outcomes feed retraining), recorded in the manifest and as the version tag
    ``training_population``. ``feature_service`` (default :attr:`ModelSpec.feature_service`) must be one
    the model declares; fields of its request sources the label table lacks (the bureau pull of
    credit_pd_v2) are rebuilt from the lake as known by ``as_of`` (:mod:`riskpipe.features.requests`);
    on the served population they are the fields each decision logged, rebuilt only for decisions
    served on a service without them.
    """
    from riskpipe.features.training import build_training_set
    from riskpipe.models import reject

    s = settings or get_settings()
    spec = model_spec(model)
    service = spec.check_service(feature_service or spec.feature_service)
    first, last = _day(start), _day(end)
    if last < first:
        raise TrainInputError(f"training window ends ({last}) before it starts ({first})")
    as_of = as_of or dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    defn = spec.definition(s)
    labels, parts = read_labels(spec, first, last, s)
    try:
        check_built(defn, [dt.date.fromisoformat(p.split("=", 1)[1]) for p in parts], s)
        labels, counts = training_rows(defn, labels, as_of)
    except LabelConfigError as err:
        raise TrainInputError(str(err)) from None
    if labels.empty:
        raise TrainInputError(f"{spec.label_table}: none of the {counts['rows']} labels of {first}..{last} "
                              f"can train by {as_of.isoformat()} under {defn.ref}: {counts['not_matured']} "
                              f"not matured yet ({defn.performance_days}-day performance window), "
                              f"{counts['excluded_indeterminate']} indeterminate, "
                              f"{counts['excluded_unresolved']} unresolved (a payment in quarantine)")
    if counts["used"] < counts["rows"]:
        log.info("%s: of %d labels of %s..%s, %d not matured by %s, %d indeterminate and %d unresolved (%s); "
                 "training on %d", spec.name, counts["rows"], first, last, counts["not_matured"], as_of.isoformat(),
                 counts["excluded_indeterminate"], counts["excluded_unresolved"], defn.ref, counts["used"])
    from riskpipe.models.config import get_model_settings

    mset = get_model_settings()
    population = population or mset.train_population
    if population not in TRAIN_POPULATIONS:
        raise TrainInputError(f"unknown training population {population!r}; one of {', '.join(TRAIN_POPULATIONS)}")
    label_facts: dict[str, Any] = {**defn.manifest(), "file": definitions_file(s), "label_rows": counts,
                                   "population": population}
    kind = ""
    if population == "served":
        labels, served = served_rows(spec, labels, s, dt.timedelta(hours=mset.served_max_lag_hours), as_of)
        label_facts["served_rows"] = served
        if labels.empty:
            raise TrainInputError(f"{spec.name}: none of the {served['label_rows']} usable labels of {first}..{last} "
                                  f"was served by a logged champion decision ({served['decisions_read']} decisions "
                                  f"in the outcomes partitions; run riskpipe outcomes first); "
                                  f"{served['decision_outside_window']} had a decision outside the "
                                  f"{mset.served_max_lag_hours:g} h after the observation")
        log.info("%s: served population: %d of %d usable labels had a champion decision (%d outside the window)",
                 spec.name, served["served"], served["label_rows"], served["decision_outside_window"])
        kind = "served"
    out = s.runs / "training_sets" / f"{spec.training_set_name(service, first, last, kind)}.parquet"
    ts = build_training_set(service, labels, settings=s, labels_known_by=as_of, out=out,
                            label_definition=label_facts, logged_requests=population == "served")
    df = ts.frame
    applies = spec.truth_applies(defn, s)
    has_truth = applies and attach_truth(df, spec, s, defn)
    if spec.truth_column and not applies:
        log.info("%s: the generator's %s is the probability of (min DPD, days) %s, not of %s: no ratio to "
                 "the best achievable AUC", spec.name, spec.truth_column, spec.truth_dpd_in(s), defn.ref)
    reject.check_method(reject_inference)
    truth_path = s.ground_truth / spec.truth_file if spec.truth_file else None
    rejects, outcome = None, None
    if reject_inference != "none" or (spec.name in reject.TTD_MODELS and truth_path and truth_path.is_file()):
        rejects = reject.declined_training_set(spec, first, last, as_of, s, service=service)
        if rejects is None and reject_inference != "none":
            raise TrainInputError(f"{spec.name}: no declined application of {first}..{last} had matured by "
                                  f"{as_of.isoformat()}: nothing to infer from")
        # the declines first: the accepts get the outcome column only when both have it
        if rejects is not None and truth_path and reject.attach_outcome(rejects, spec.key, truth_path) and \
                reject.attach_outcome(df, spec.key, truth_path):
            outcome = reject.OUTCOME
    exclude = not_features(df.columns, spec, ts.manifest["request_fields"])
    feats_present = set(df.columns)
    monotone = {f: d for f, d in spec.monotone.items() if f in feats_present}
    r = train_model(
        df, label="label", features=None, time_column="feature_ts", model_name=spec.name,
        oot_from=oot_from, truth_column=TRUTH if has_truth else None, feature_service=service,
        label_definition=defn.name, monotone=monotone, exclude=exclude, num_boost_round=num_boost_round,
        gbm_params=gbm_params, force=force, source=str(out), settings=s, rejects=rejects,
        reject_inference=reject_inference, outcome_column=outcome,
    )
    r.extra.update({"training_set": str(out), "manifest": str(ts.manifest_path), "label_partitions": parts,
                    "labels_known_by": as_of.isoformat(), "population": population})
    if r.parent_run_id:  # a fresh training (not a reuse): keep the manifest with the run
        from riskpipe.models.registry import configure_mlflow

        client = configure_mlflow(s)
        client.log_artifact(r.parent_run_id, str(ts.manifest_path), "training_set")
        # what the label definition left out, queryable without opening the manifest
        row_tags = {f"label_rows_{k}": str(v) for k, v in counts.items()}
        for run_id in (r.parent_run_id, *(c.run_id for c in r.candidates.values() if c.run_id)):
            for k, v in row_tags.items():
                client.set_tag(run_id, k, v)
        for c in r.candidates.values():
            if c.version:
                for k, v in row_tags.items():
                    client.set_model_version_tag(spec.name, c.version, k, v)
                client.set_model_version_tag(spec.name, c.version, "labels_known_by", as_of.isoformat())
                client.set_model_version_tag(spec.name, c.version, "training_population", population)
                client.set_model_version_tag(spec.name, c.version, "training_set_manifest",
                                             f"runs:/{r.parent_run_id}/training_set/{Path(ts.manifest_path).name}")
    return r


# ---- batch scoring of a date's population -----------------------------------------------------------
#: per model: where the population of date D lives (a silver dataset partitioned by event date, or a
#: feature table) and its event time column; the request-time fields come from the feature service
POPULATIONS: dict[str, tuple[str, str, str]] = {
    "credit_pd": ("silver", "applications", "applied_at"),  # through the door
    "fraud": ("silver", "transactions", "event_ts"),
    "early_warning": ("features", "loan_early_warning_daily", "feature_ts"),  # loans active at D
}


def population(model: str, day: dt.date | str, settings: Settings | None = None, *, store=None,  # noqa: ANN001
               service: str | None = None) -> pd.DataFrame:
    """The entities to score for ``day``: key, customer, ``feature_ts`` (the decision time) and the
    request-time fields of ``service`` (default the model's) that the population's dataset holds, the
    columns of the model's label table (without the label); the training set rebuilds the others."""
    from riskpipe.features.store import feature_service, get_store, request_fields, service_views
    from riskpipe.features.training import DERIVED_REQUEST_FIELDS

    s = settings or get_settings()
    spec, day = model_spec(model), _day(day)
    store = store or get_store(s)
    _, odfvs = service_views(store, feature_service(store, spec.check_service(service or spec.feature_service)))
    layer, name, ts_col = POPULATIONS[model]
    root = (s.silver if layer == "silver" else s.features) / name / f"{PARTITION_KEY}={day.isoformat()}"
    files = sorted(root.glob("*.parquet"))
    if not files:
        raise TrainInputError(f"{model}: no {layer} partition {root} to score")
    held = set(pq.read_schema(files[0]).names)
    request = [f for f in request_fields(odfv for odfv, _ in odfvs) if f not in DERIVED_REQUEST_FIELDS and f in held]
    cols = [spec.key, "customer_id", ts_col, *request]
    df = pd.concat([pd.read_parquet(f, columns=cols) for f in files], ignore_index=True)
    return df.rename(columns={ts_col: "feature_ts"}).sort_values(["feature_ts", spec.key], kind="stable",
                                                                    ignore_index=True)


def score_date(model: str, day: dt.date | str, *, alias: str = "champion", out: Path | None = None,
               settings: Settings | None = None) -> tuple[Path, pd.DataFrame]:
    """Batch-score the population of ``day`` with ``models:/<model>@<alias>`` on the feature service it
    was trained on (its ``feature_service`` tag, one the model declares).

    Features come from the same Feast point-in-time retrieval as training (as of each row's
    ``feature_ts``), so a batch score equals the score of the same row in a training set. Output
    (default ``<lake>/scores/<model>/dt=D/data.parquet``, written atomically; a rerun replaces it with
    the same rows): key, customer_id, feature_ts, model version, probability, score, band, reasons.
    """

    from riskpipe.features.store import get_store
    from riskpipe.features.training import build_training_set
    from riskpipe.models.explain import score_table
    from riskpipe.models.registry import alias_version, configure_mlflow

    s = settings or get_settings()
    spec, day = model_spec(model), _day(day)
    client = configure_mlflow(s)
    mv = alias_version(client, model, alias)
    if mv is None:
        raise TrainInputError(f"model {model!r} has no {alias!r} alias to score with")
    service = mv.tags.get("feature_service")
    if service not in spec.feature_services:
        raise TrainInputError(f"{model} v{mv.version} was trained on feature service {service!r}, not one of "
                              f"{model}'s ({', '.join(spec.feature_services)}): refusing to score")
    store = get_store(s)
    ents = population(model, day, s, store=store, service=service)
    path = Path(out) if out else s.lake / "scores" / model / f"{PARTITION_KEY}={day.isoformat()}" / DATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = build_training_set(service, ents, settings=s, store=store,
                            manifest_path=path.parent / f"{path.stem}.manifest.json")
    scored = score_table(f"models:/{model}/{mv.version}", ts.frame)
    res = pd.concat([ts.frame[[spec.key, "customer_id", "feature_ts"]].reset_index(drop=True),
                     scored.reset_index(drop=True)], axis=1)
    res.insert(3, "model_version", str(mv.version))
    write_atomic(path, lambda tmp: res.to_parquet(tmp, index=False))
    log.info("scored %d %s rows of %s with v%s -> %s", len(res), model, day, mv.version, path)
    return path, res
