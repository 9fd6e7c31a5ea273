"""Online scoring API (``riskpipe serve``): the champion of each model, fed by its Feast feature service.

One endpoint per model. A request carries the entity keys and the request-time fields; the rest of
the feature row comes from the online store through :func:`riskpipe.features.online.online_features`
(the same feature service the model was trained on), and the score from
:func:`riskpipe.models.explain.score_values` (the array form of ``score``, no DataFrame on the request
path), so an online score equals a batch score of the same row.

- The ``champion`` alias is re-read at most every ``RISKPIPE_SERVE_CHAMPION_CHECK_SECONDS`` (a cheap
  registry call); when it moved, the new version is loaded and swapped in atomically (no restart).
- A champion is scored on the feature service it was trained on (its ``feature_service`` tag, set by
  :func:`riskpipe.models.train.train_model`), which must be one the endpoint's model declares
  (:data:`riskpipe.models.config.MODEL_FEATURE_SERVICES`; e.g. credit_pd_v1 or credit_pd_v2): promoting a
  version trained on a newer service switches the endpoint to it without a restart. Any other tag is
  refused (HTTP 409): its features mean something else. A request that lacks the request-time fields
  the champion's service reads (credit_pd_v2's ``bureau_pull``) is refused with a 422 naming them.
- No champion, a champion that cannot be loaded, or an online store that does not answer within
  ``RISKPIPE_ONLINE_READ_TIMEOUT_MS``: HTTP 503 with a JSON body saying which and where.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskpipe.errors import ConfigError
from riskpipe.features.config import DEFAULT_PROJECT, feast_dir
from riskpipe.settings import OnlineStore, Settings, get_settings

log = logging.getLogger(__name__)


# ---- configuration --------------------------------------------------------------------------------
class ServeSettings(BaseSettings):
    """Field ``x`` is read from ``RISKPIPE_SERVE_X``."""

    model_config = SettingsConfigDict(env_prefix="RISKPIPE_SERVE_", extra="ignore", case_sensitive=False)

    champion_check_seconds: float = Field(
        5.0, ge=0, description="re-read the champion alias at most this often (0: on every request)")
    project: str = Field(DEFAULT_PROJECT, min_length=1, description="Feast project of the online store")
    credit_pd_model: str = Field("credit_pd", min_length=1, description="registered model behind /v1/score/credit_pd")
    fraud_model: str = Field("fraud", min_length=1, description="registered model behind /v1/score/fraud")
    early_warning_model: str = Field(
        "early_warning", min_length=1, description="registered model behind /v1/score/early_warning")
    preload: bool = Field(True, description="load the champions and warm the online store at start-up")
    decision_log: bool = Field(True, description="log every decision (riskpipe.models.decisions)")
    decision_dir: Path | None = Field(None, description="decision log folder (default <lake>/decisions)")
    decision_flush_seconds: float = Field(1.0, gt=0, description="the decision log is written at least this often")
    shadow: bool = Field(True, description="score the 'challenger' alias in shadow (logged, never returned)")
    shadow_queue: int = Field(1000, ge=1, description="shadow scorings waiting at most; beyond, skipped and counted")
    switch_interval_ms: float = Field(
        1.0, gt=0, description="`riskpipe serve` sets Python's thread switch interval to this (default 5 ms): a "
        "request waits at most this long for background work (decision log, shadow scoring) to let go of the GIL")


def load_serve_settings(**overrides: object) -> ServeSettings:
    """Serving settings from the environment plus overrides, with a readable error."""
    from riskpipe.settings import load_section

    return load_section(ServeSettings, "RISKPIPE_SERVE_", "serving", overrides)


# ---- request bodies -------------------------------------------------------------------------------
Id = Annotated[str, Field(min_length=1, max_length=200, strict=True)]
Amount = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", strict=True, description="ISO 3166-1 alpha-2, upper case")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Count = Annotated[int, Field(ge=0, strict=True)]


class BureauPull(_Body):
    """The credit bureau report pulled for the application (credit_pd_v2). A field the report does not
    carry is null; a pull that found no report is ``{}``."""

    bureau_score: Annotated[int, Field(ge=0, le=1000, strict=True)] | None = None
    open_accounts: Count | None = None
    total_balance: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    delinquencies_24m: Count | None = None
    inquiries_6m: Count | None = None
    oldest_account_months: Count | None = None


class CreditApplication(_Body):
    """A loan application to score (credit PD). ``bureau_pull``: the bureau report the lender pulled,
    required when the champion was trained on a service that reads it (credit_pd_v2), ignored otherwise."""

    application_id: Id | None = None
    customer_id: Id
    requested_amount: Amount
    bureau_pull: BureauPull | None = None

    def entity(self) -> dict[str, Any]:
        row: dict[str, Any] = {"customer_id": self.customer_id, "requested_amount": float(self.requested_amount)}
        if self.bureau_pull is not None:  # absent: the service's check names the missing fields
            row.update({f"pull_{k}": (None if v is None else float(v))
                        for k, v in self.bureau_pull.model_dump().items()})
        return row


class CardTransaction(_Body):
    """A card transaction to score (fraud). ``event_time`` defaults to now (UTC); a naive time is UTC.
    ``channel`` and ``merchant_country`` are optional for old clients: without them the model scores
    their flags as missing (listed in ``features_missing``); ``device_id`` is null for a card-present
    transaction without a device."""

    txn_id: Id | None = None
    customer_id: Id
    amount: Amount
    event_time: dt.datetime | None = None
    channel: Literal["pos", "ecom", "atm", "p2p"] | None = None
    merchant_country: Country | None = None
    device_id: Id | None = None

    def epoch_s(self) -> int:
        t = self.event_time or dt.datetime.now(dt.UTC)
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return int(t.timestamp())


class LoanRef(_Body):
    """An active loan to score (early warning)."""

    loan_id: Id
    customer_id: Id


class ScoreResponse(BaseModel):
    model_name: str
    model_version: str
    feature_service: str
    request_id: str | None = Field(None, description="application_id / txn_id / loan_id of the request")
    probability: float
    score: float
    band: str
    reason_codes: list[str]
    features_missing: list[str] = Field(description="model features with no online value (scored as missing)")
    latency_ms: float
    decision_id: str | None = Field(None, description="id in the decision log (`riskpipe replay <id>`); null when off")


@dataclass(frozen=True)
class Endpoint:
    """One scoring endpoint: which model, the feature services it may serve (the champion's tag picks
    one), how a request becomes an entity row (every field any of them may read)."""

    path: str
    model_name: str
    feature_services: tuple[str, ...]
    body: type[_Body]
    entity_row: Callable[[Any], dict[str, Any]]
    request_id: Callable[[Any], str | None]
    probe_row: dict[str, Any]


def endpoints(ss: ServeSettings) -> dict[str, Endpoint]:
    """The scoring endpoints (key -> spec); feature services as declared in ``feature_repo/``."""
    from riskpipe.models.config import MODEL_FEATURE_SERVICES as SERVICES

    nobody = "__riskpipe_ready_probe__"
    return {
        "credit_pd": Endpoint(
            "credit_pd", ss.credit_pd_model, SERVICES["credit_pd"], CreditApplication,
            CreditApplication.entity,
            lambda r: r.application_id,
            CreditApplication(customer_id=nobody, requested_amount=1.0, bureau_pull=BureauPull()).entity()),
        "fraud": Endpoint(
            "fraud", ss.fraud_model, SERVICES["fraud"], CardTransaction,
            lambda r: {"customer_id": r.customer_id, "amount": float(r.amount), "request_epoch_s": r.epoch_s(),
                       "channel": r.channel, "merchant_country": r.merchant_country, "device_id": r.device_id},
            lambda r: r.txn_id,
            {"customer_id": nobody, "amount": 1.0, "request_epoch_s": 0, "channel": "pos", "merchant_country": "DE",
             "device_id": None}),
        "early_warning": Endpoint(
            "early_warning", ss.early_warning_model, SERVICES["early_warning"], LoanRef,
            lambda r: {"loan_id": r.loan_id, "customer_id": r.customer_id},
            lambda r: r.loan_id,
            {"loan_id": nobody, "customer_id": nobody}),
    }


# ---- errors with an HTTP status -------------------------------------------------------------------
class ServeError(Exception):
    """A request cannot be scored; ``body`` is the JSON answer, ``status`` its HTTP status."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"error": error, "detail": detail, **extra}


def online_store_location(settings: Settings) -> str:
    """The online store as ``<kind> at <where>`` (no password)."""
    if settings.online_store is OnlineStore.redis:
        u = urlparse(settings.redis_url)
        return f"redis at {u.hostname or '127.0.0.1'}:{u.port or 6379}/{(u.path or '/0').lstrip('/') or '0'}"
    return f"sqlite at {feast_dir(settings) / 'online_store.db'}"


# ---- champions ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Champion:
    """The loaded champion of one model (immutable: swapped as a whole)."""

    model_name: str
    version: str
    feature_service: str
    estimator: Any
    run_id: str | None
    loaded_at: str


@dataclass(frozen=True)
class _State:
    version: str | None  # champion version seen in the registry (None: no champion)
    tag: str | None  # its feature_service tag
    champion: Champion | None  # what is served
    problem: ServeError | None  # why nothing is served


class ChampionSlot:
    """Holds the version behind one alias of a model (``champion`` by default; ``challenger`` for shadow
    scoring); re-reads the alias at most every ``check_seconds``."""

    def __init__(self, model_name: str, feature_services: tuple[str, ...], settings: Settings, check_seconds: float,
                 alias: str = "champion") -> None:
        self.model_name, self.feature_services, self.alias = model_name, feature_services, alias
        self.settings, self.check_seconds = settings, check_seconds
        self._state: _State | None = None
        self._checked = -math.inf
        self._lock = threading.Lock()
        self._client = None

    def _due(self) -> bool:
        return self._state is None or time.monotonic() - self._checked >= self.check_seconds

    def get(self) -> Champion:
        """The champion to score with, or the :class:`ServeError` that says why there is none."""
        if self._due():
            serving = self._state is not None and self._state.champion is not None
            # with a champion loaded, requests that find a refresh (maybe a model load) under way do not
            # wait for it: they score with the current champion until the new one is swapped in
            if self._lock.acquire(blocking=not serving):
                try:
                    if self._due():  # another request may have refreshed while we waited
                        self._refresh()
                finally:
                    self._lock.release()
        state = self._state  # one read: the state is replaced as a whole, never mutated
        if state.champion is None:
            raise state.problem
        return state.champion

    def _refresh(self) -> None:
        from riskpipe.models.registry import alias_version, configure_mlflow

        prev = self._state
        self._checked = time.monotonic()
        try:
            if self._client is None:
                self._client = configure_mlflow(self.settings)
            mv = alias_version(self._client, self.model_name, self.alias)
        except Exception as err:  # registry unreachable: keep serving what is loaded, if anything
            log.warning("cannot read the champion of %s: %s", self.model_name, err)
            if prev is not None and prev.champion is not None:
                return
            self._state = _State(None, None, None, ServeError(
                503, "model_registry_unavailable",
                f"cannot read the '{self.alias}' alias of {self.model_name!r} from {self.settings.tracking_uri}: "
                f"{type(err).__name__}: {err}", model_name=self.model_name))
            return
        if mv is None:
            if prev is None or prev.version is not None:
                log.log(logging.WARNING if self.alias == "champion" else logging.INFO, "model %s has no %s",
                        self.model_name, self.alias)
            self._state = _State(None, None, None, ServeError(
                503, "no_champion",
                f"registered model {self.model_name!r} has no '{self.alias}' version in {self.settings.tracking_uri} "
                f"(train it and run `riskpipe promote --model-name {self.model_name}`)",
                model_name=self.model_name))
            return
        version, tag = str(mv.version), mv.tags.get("feature_service")
        if prev is not None and (prev.version, prev.tag) == (version, tag) and prev.problem is None:
            return  # unchanged
        if tag not in self.feature_services:
            log.error("%s v%s of %s was trained on feature service %r, endpoint serves %s: refused",
                      self.alias, version, self.model_name, tag, "/".join(self.feature_services))
            self._state = _State(version, tag, None, ServeError(
                409, "feature_service_mismatch",
                f"{self.alias} v{version} of {self.model_name!r} was trained on feature service {tag!r}, but this "
                f"endpoint reads {' or '.join(map(repr, self.feature_services))}; refusing to score with it",
                model_name=self.model_name, model_version=version, model_feature_service=tag,
                feature_services=list(self.feature_services)))
            return
        try:
            est = self._load(version)
        except Exception as err:
            log.error("cannot load champion v%s of %s: %s", version, self.model_name, err)
            self._state = _State(version, tag, None, ServeError(
                503, "champion_unloadable",
                f"cannot load champion v{version} of {self.model_name!r}: {type(err).__name__}: {err}",
                model_name=self.model_name, model_version=version))
            return
        champ = Champion(self.model_name, version, tag, est, mv.run_id,
                         dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        self._state = _State(version, tag, champ, None)
        log.info("%s %s v%s (was %s)", "serving" if self.alias == "champion" else f"{self.alias} (shadow)",
                 self.model_name, version,
                 f"v{prev.champion.version}" if prev and prev.champion else "none")

    def _load(self, version: str):  # noqa: ANN202
        import mlflow.pyfunc

        from riskpipe.models.explain import resolve_estimator
        from riskpipe.models.registry import configure_mlflow

        configure_mlflow(self.settings)  # load_model resolves models:/ against the global registry URI
        return resolve_estimator(mlflow.pyfunc.load_model(f"models:/{self.model_name}/{version}"))

    def status(self) -> dict[str, Any]:
        try:
            c = self.get()
        except ServeError as err:
            return {"ok": False, **err.body}
        return {"ok": True, "model_name": c.model_name, "model_version": c.version,
                "feature_service": c.feature_service, "loaded_at": c.loaded_at}


# ---- the service ----------------------------------------------------------------------------------
class Scorer:
    """Online features + champion -> score, for every endpoint (the app's state)."""

    def __init__(self, settings: Settings, serve_settings: ServeSettings) -> None:
        self.settings, self.ss = settings, serve_settings
        self.endpoints = endpoints(serve_settings)
        self.slots = {k: ChampionSlot(e.model_name, e.feature_services, settings, serve_settings.champion_check_seconds)
                      for k, e in self.endpoints.items()}
        self._store = None
        self._store_lock = threading.Lock()
        #: service -> (its views' names, join keys, request fields): see service_inputs
        self._inputs: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
        self.where = online_store_location(settings)
        self.decisions = None
        if serve_settings.decision_log:
            from riskpipe.models.decisions import DecisionLog

            self.decisions = DecisionLog(serve_settings.decision_dir or settings.decisions,
                                         flush_seconds=serve_settings.decision_flush_seconds)
        self.shadow_slots: dict[str, ChampionSlot] = {}
        self._shadow_pool = None
        self._shadow_pending = 0
        self._shadow_lock = threading.Lock()
        self.shadow_skipped = 0
        if serve_settings.shadow and self.decisions is not None:
            import concurrent.futures as cf

            from riskpipe.models.registry import CHALLENGER

            self.shadow_slots = {k: ChampionSlot(e.model_name, e.feature_services, settings,
                                                 serve_settings.champion_check_seconds, alias=CHALLENGER)
                                 for k, e in self.endpoints.items()}
            self._shadow_pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskpipe-shadow")

    def close(self) -> None:
        """Finish shadow scorings and write the decision log (at shutdown)."""
        if self._shadow_pool is not None:
            self._shadow_pool.shutdown(wait=True)
        if self.decisions is not None:
            self.decisions.close()

    def store(self):  # noqa: ANN201
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    from riskpipe.features.store import get_store

                    self._store = get_store(self.settings, project=self.ss.project)
        return self._store

    def service_inputs(self, service_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(join keys, request fields) of a feature service, as registered; looked up again only when
        the service's views change (not on every registry cache refresh: that would put view lookups
        on the request path every few seconds)."""
        from riskpipe.features.store import feature_service, request_fields, service_views

        service = feature_service(self.store(), service_name)
        views_read = tuple(p.name for p in service.feature_view_projections)
        cached = self._inputs.get(service_name)
        if cached is None or cached[0] != views_read:
            views, odfvs = service_views(self.store(), service)
            keys = tuple(sorted({k for fv, _ in views for k in fv.join_keys}))
            cached = (views_read, keys, tuple(request_fields(odfv for odfv, _ in odfvs)))
            self._inputs[service_name] = cached
        return cached[1], cached[2]

    def entity_for(self, service: str, entity: dict[str, Any]) -> dict[str, Any]:
        """The entity row ``service`` reads (its join keys and request fields), or a 422 naming the
        request fields it needs and the request lacks."""
        from riskpipe.features.store import FeatureStoreError

        try:
            keys, fields = self.service_inputs(service)
        except (FeatureStoreError, ConfigError) as err:
            raise ServeError(503, "feature_store_error", str(err), online_store=self.where,
                             feature_service=service, project=self.ss.project) from None
        absent = [f for f in fields if f not in entity]
        if absent:
            raise ServeError(422, "missing_request_fields",
                             f"feature service {service!r} reads request field(s) {', '.join(absent)}, which this "
                             "request lacks" + (" (send bureau_pull: the bureau report pulled for the application)"
                                                if any(f.startswith("pull_") for f in absent) else ""),
                             feature_service=service, missing=absent)
        return {k: entity[k] for k in (*keys, *fields) if k in entity}

    def features(self, service: str, row: dict[str, Any]) -> dict[str, Any]:
        """The online feature vector of one entity row (first value of every column)."""
        from riskpipe.features.online import OnlineStoreUnavailable, online_features
        from riskpipe.features.store import FeatureStoreError

        try:
            out = online_features(service, [row], settings=self.settings, store=self.store(),
                                  project=self.ss.project)
        except OnlineStoreUnavailable as err:
            raise ServeError(503, "online_store_unavailable", str(err), online_store=self.where,
                             feature_service=service) from None
        except (FeatureStoreError, ConfigError) as err:
            raise ServeError(503, "feature_store_error", str(err), online_store=self.where,
                             feature_service=service, project=self.ss.project) from None
        return {k: (v[0] if v else None) for k, v in out.items()}

    def score(self, key: str, body: _Body) -> ScoreResponse:
        import numpy as np

        from riskpipe.models.explain import ScoringInputError, feature_values, score_values

        started = time.perf_counter()
        ep = self.endpoints[key]
        champ = self.slots[key].get()  # before the feature read: a refused model costs no read
        service = champ.feature_service
        given = ep.entity_row(body)
        entity = self.entity_for(service, given)
        row = {**entity, **self.features(service, entity)}
        feats = list(champ.estimator.features)
        absent = [f for f in feats if f not in row]
        if absent:
            raise ServeError(
                409, "feature_mismatch",
                f"champion v{champ.version} of {champ.model_name!r} needs feature(s) {absent} that feature service "
                f"{service!r} does not provide", model_name=champ.model_name,
                model_version=champ.version, feature_service=service)
        try:  # one row as a float array: no DataFrame on the request path (same values, same errors)
            X = feature_values([row], feats)
            scored = score_values(champ.estimator, X)[0]
        except ScoringInputError as err:
            raise ServeError(409, "feature_mismatch", f"champion v{champ.version} of {champ.model_name!r} cannot "
                             f"score the online features of {service!r}: {err}",
                             model_name=champ.model_name, model_version=champ.version,
                             feature_service=service) from None
        nan = np.isnan(X[0])
        missing = [f for f, m in zip(feats, nan, strict=True) if m]
        decision_id = None
        latency = round((time.perf_counter() - started) * 1000.0, 3)
        request_id = ep.request_id(body)
        if self.decisions is not None:
            request = body.model_dump(mode="json")  # the writer process stores it as JSON text
            decision_id = self._log_decision("champion", None, key, champ, request_id, request, row, missing,
                                             scored, latency)
            self._submit_shadow(key, champ, decision_id, given, row, request, request_id)
        return ScoreResponse(
            model_name=champ.model_name, model_version=champ.version, feature_service=service,
            request_id=request_id, probability=scored.probability, score=scored.score, band=scored.band,
            reason_codes=scored.reason_codes, features_missing=missing, latency_ms=latency, decision_id=decision_id,
        )

    def _log_decision(self, role: str, shadow_of: str | None, key: str, model: Champion, request_id: str | None,
                      request: dict[str, Any], row: dict[str, Any], missing: list[str], scored: Any,
                      latency_ms: float) -> str:
        """Append one decision record (champion or shadow) to the log; returns its id."""
        from riskpipe.models.decisions import new_decision_id

        now = dt.datetime.now(dt.UTC)
        decision_id = new_decision_id(now)
        self.decisions.append({
            "decision_id": decision_id, "decided_at": now, "role": role, "shadow_of": shadow_of, "endpoint": key,
            "model_name": model.model_name, "model_version": model.version, "model_run_id": model.run_id,
            "feature_service": model.feature_service, "request_id": request_id, "request": request,
            "features": row, "features_missing": missing, "probability": scored.probability,
            "score": scored.score, "band": scored.band, "reason_codes": list(scored.reason_codes),
            "latency_ms": latency_ms})
        return decision_id

    # ---- shadow challenger ------------------------------------------------------------------------
    def _submit_shadow(self, key: str, champion: Champion, decision_id: str, given: dict[str, Any],
                       row: dict[str, Any], request: dict[str, Any], request_id: str | None) -> None:
        if self._shadow_pool is None:
            return
        with self._shadow_lock:
            if self._shadow_pending >= self.ss.shadow_queue:
                self.shadow_skipped += 1
                return
            self._shadow_pending += 1
        try:
            self._shadow_pool.submit(self._shadow, key, champion, decision_id, given, row, request, request_id)
        except RuntimeError:  # shutting down
            with self._shadow_lock:
                self._shadow_pending -= 1

    def _shadow(self, key: str, champion: Champion, decision_id: str, given: dict[str, Any], row: dict[str, Any],
                request: dict[str, Any], request_id: str | None) -> None:
        """Score the challenger and log it (role shadow); never raises. On the champion's feature row when
        both use the same feature service, else on an online read of the challenger's own service (a
        request without the fields that service reads is not shadowed)."""
        import numpy as np

        from riskpipe.models.explain import feature_values, score_values

        try:
            started = time.perf_counter()
            try:
                ch = self.shadow_slots[key].get()
            except ServeError:
                return  # no challenger (or one that cannot serve this endpoint): nothing to shadow
            if ch.version == champion.version:
                return
            if ch.feature_service != champion.feature_service:
                try:
                    entity = self.entity_for(ch.feature_service, given)
                    row = {**entity, **self.features(ch.feature_service, entity)}
                except ServeError as err:
                    log.info("shadow %s v%s not scored: %s", ch.model_name, ch.version, err.body["detail"])
                    return
            feats = list(ch.estimator.features)
            if any(f not in row for f in feats):
                log.warning("shadow %s v%s needs features %s not served", ch.model_name, ch.version,
                            [f for f in feats if f not in row])
                return
            X = feature_values([row], feats)
            scored = score_values(ch.estimator, X)[0]
            missing = [f for f, m in zip(feats, np.isnan(X[0]), strict=True) if m]
            self._log_decision("shadow", decision_id, key, ch, request_id, request, row, missing, scored,
                               round((time.perf_counter() - started) * 1000.0, 3))
        except Exception:  # shadow scoring must never hurt serving
            log.exception("shadow scoring of %s failed", key)
        finally:
            with self._shadow_lock:
                self._shadow_pending -= 1

    def online_status(self) -> dict[str, Any]:
        """Reachability of the online store: one bounded read of an entity nobody has, per service."""
        services = {}
        for ep in self.endpoints.values():
            for service in ep.feature_services:
                if service in services:
                    continue
                try:
                    self.features(service, self.entity_for(service, dict(ep.probe_row)))
                    services[service] = {"ok": True}
                except ServeError as err:
                    services[service] = {"ok": False, **err.body}
        return {"ok": all(s["ok"] for s in services.values()), "online_store": self.where,
                "project": self.ss.project, "feature_services": services}

    def preload(self) -> None:
        for key, slot in self.slots.items():
            st = slot.status()
            log.info("champion %s: %s", key, st.get("model_version") if st["ok"] else st["detail"])
        st = self.online_status()
        if not st["ok"]:
            log.warning("online store not ready at start-up: %s", st)


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    return v


def create_app(settings: Settings | None = None, *, serve_settings: ServeSettings | None = None):  # noqa: ANN201
    """The scoring API (FastAPI). ``settings``: where MLflow and Feast live; ``serve_settings``: serving knobs."""
    from fastapi import FastAPI, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    scorer = Scorer(settings or get_settings(), serve_settings or load_serve_settings())

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        if scorer.ss.preload:
            import anyio.to_thread

            await anyio.to_thread.run_sync(scorer.preload)
        yield
        scorer.close()

    app = FastAPI(title="riskpipe scoring API", version="1",
                  description="Champion models scored on online features from their Feast feature service.",
                  lifespan=lifespan)
    app.state.scorer = scorer

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError):  # noqa: ANN202
        # FastAPI's default handler echoes the input and fails (HTTP 500) on Infinity/NaN: make it JSON-safe
        return JSONResponse(status_code=422, content={
            "error": "invalid_request", "detail": _json_safe(jsonable_encoder(err.errors()))})

    @app.exception_handler(ServeError)
    async def _serve_error(_request: Request, err: ServeError):  # noqa: ANN202
        return JSONResponse(status_code=err.status, content=err.body)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready():  # noqa: ANN202 (a JSONResponse: 200 or 503)
        """Readiness: a champion is loaded for every model and the online store answers."""
        models = {k: slot.status() for k, slot in scorer.slots.items()}
        online = scorer.online_status()
        log_status = scorer.decisions.status() if scorer.decisions is not None else {"enabled": False}
        # a decision log that cannot write is an audit gap: not ready until it writes again
        ok = online["ok"] and all(m["ok"] for m in models.values()) and not log_status.get("last_error")
        shadow = {k: slot.status() for k, slot in scorer.shadow_slots.items()}
        return JSONResponse(status_code=200 if ok else 503,
                            content={"ready": ok, "models": models, "online_store": online,
                                     "decision_log": log_status,
                                     "shadow": {"models": shadow, "skipped": scorer.shadow_skipped}})

    def _route(key: str, body_type: type[_Body]) -> Callable[..., ScoreResponse]:
        def handler(body):  # noqa: ANN001, ANN202
            return scorer.score(key, body)

        handler.__annotations__ = {"body": body_type, "return": ScoreResponse}  # real types, not strings
        handler.__name__ = f"score_{key}"
        handler.__doc__ = f"Score one request with the champion of {scorer.endpoints[key].model_name!r}."
        return handler

    for key, ep in scorer.endpoints.items():
        app.post(f"/v1/score/{ep.path}", response_model=ScoreResponse,
                 responses={409: {"description": "champion trained on another feature service"},
                            503: {"description": "no champion, or the online store/registry is unavailable"}},
                 )(_route(key, ep.body))
    return app
