"""Model-layer configuration: score scaling, decision bands, promotion gates.

Read from ``RISKPIPE_MODEL_*`` environment variables (same twelve-factor habit as
:mod:`riskpipe.settings`) so that a deployment changes cut-offs without a code change. The values in
force at training time are baked into each model version, so re-scoring an old version gives the
same band it gave when it was trained.
"""

from __future__ import annotations

import functools

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the risk models riskpipe trains from the feature store (riskpipe.models.flows.MODEL_SPECS declares
#: each); here so that DAG parsing and settings can name them without importing the training stack
MODEL_NAMES: tuple[str, ...] = ("credit_pd", "fraud", "early_warning")
#: the Feast feature services (feature_repo/feature_services.py) each model may be trained and served on,
#: oldest first; the first is the default (RISKPIPE_MODEL_FEATURE_SERVICES picks another). A model
#: version records the one it was trained on (its feature_service tag) and is scored on that one.
MODEL_FEATURE_SERVICES: dict[str, tuple[str, ...]] = {
    "credit_pd": ("credit_pd_v1", "credit_pd_v2"),
    "fraud": ("fraud_v1",),
    "early_warning": ("early_warning_v1",),
}


class ModelSettings(BaseSettings):
    """Field ``x`` is read from ``RISKPIPE_MODEL_X``."""

    model_config = SettingsConfigDict(env_prefix="RISKPIPE_MODEL_", extra="ignore", case_sensitive=False)

    # points scale: score = offset + factor * ln(odds good:bad), factor = pdo / ln 2
    pdo: float = Field(20.0, gt=0, description="points to double the odds")
    base_score: float = Field(600.0, description="score at base_odds")
    base_odds: float = Field(50.0, gt=0, description="good:bad odds at base_score")

    # decision bands on the probability of the bad outcome
    approve_max_pd: float = Field(0.05, gt=0, lt=1, description="PD below this: approve")
    decline_min_pd: float = Field(0.20, gt=0, lt=1, description="PD at or above this: decline; between: refer")

    reason_codes: int = Field(4, ge=1, le=20, description="reason codes returned per score")

    # retraining (riskpipe train --model, the risk_retrain DAG)
    num_boost_round: int = Field(200, ge=1, le=10_000, description="LightGBM boosting rounds")
    num_threads: int = Field(0, ge=0, description="LightGBM threads (0: LightGBM's default)")
    reject_weight: float = Field(
        1.0, gt=0, description="fuzzy reject inference: total weight of one declined application (bad + good copy)")
    train_population: str = Field(
        "labelled", pattern="^(labelled|served)$",
        description="labelled: every matured label row; served: only the observations a champion decision "
                    "served, at the decision's time (riskpipe.models.flows.served_rows)")
    served_max_lag_hours: float = Field(
        24.0, gt=0, description="served population: a decision counts as the observation's decision when made "
                                "at most this long after the label's observation time")

    feature_services: dict[str, str] = Field(
        default_factory=dict, description="model -> the feature service new versions train on (JSON, e.g. "
        '{"credit_pd": "credit_pd_v2"}); a model not named trains on its first declared service')

    # promotion gates
    promote_approval: bool = Field(
        False, description="a promotion that passes the gate waits for a second person (riskpipe approve)")
    promote_margin: float = Field(0.005, ge=0, description="OOT AUC the challenger must add over the champion")
    max_score_psi: float = Field(0.25, gt=0, description="score PSI train->OOT above this is unstable")
    max_calibration_ratio: float = Field(
        2.0, gt=1, description="mean predicted / observed rate on OOT must lie in [1/x, x]"
    )
    max_brier_increase: float = Field(
        0.10, ge=0, description="challenger Brier may exceed the champion's by at most this fraction"
    )

    @model_validator(mode="after")
    def _services_declared(self) -> ModelSettings:
        for model, service in self.feature_services.items():
            if service not in MODEL_FEATURE_SERVICES.get(model, ()):
                known = ", ".join(f"{m}: {'/'.join(s)}" for m, s in MODEL_FEATURE_SERVICES.items())
                raise ValueError(f"RISKPIPE_MODEL_FEATURE_SERVICES: {model!r} -> {service!r} is not a declared "
                                 f"pair (models and their services: {known})")
        return self

    @model_validator(mode="after")
    def _bands_ordered(self) -> ModelSettings:
        if self.approve_max_pd > self.decline_min_pd:
            raise ValueError("RISKPIPE_MODEL_APPROVE_MAX_PD must not exceed RISKPIPE_MODEL_DECLINE_MIN_PD")
        return self


def load_model_settings(**overrides: object) -> ModelSettings:
    """Build model settings from the environment plus overrides, with a readable error."""
    from riskpipe.settings import load_section

    return load_section(ModelSettings, "RISKPIPE_MODEL_", "model", overrides)


@functools.cache
def get_model_settings() -> ModelSettings:
    """Process-wide model settings (call ``get_model_settings.cache_clear()`` after changing env)."""
    return load_model_settings()
