"""Monitoring thresholds, read from ``RISKPIPE_MONITOR_*`` environment variables.

Same pattern as :mod:`riskpipe.models.config`: a deployment changes drift or freshness thresholds
without a code change.
"""

from __future__ import annotations

import functools

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitorSettings(BaseSettings):
    """Field ``x`` is read from ``RISKPIPE_MONITOR_X``."""

    model_config = SettingsConfigDict(env_prefix="RISKPIPE_MONITOR_", extra="ignore", case_sensitive=False)

    psi_warn: float = Field(0.10, gt=0, description="feature PSI at or above this: warning")
    psi_alert: float = Field(0.25, gt=0, description="feature PSI at or above this: alert")
    psi_bins: int = Field(10, ge=2, le=100, description="quantile bins of the reference for PSI")
    min_rows: int = Field(20, ge=1, description="fewer rows than this on either side: PSI not judged")
    reference_days: int = Field(30, ge=1, description="default reference window: the N days before D")
    reference_model: str | None = Field(
        None, description="drift reference = this registered model's training window (champion, else "
        "challenger; falls back to reference_days when it has none); the monitoring DAG and report use it")
    freshness_hours: float = Field(
        48.0, gt=0, description="a feature table or silver source whose latest partition is older: stale")
    history_days: int = Field(30, ge=1, description="days of volume/validation history shown in the report")
    early_warning_top: int = Field(25, ge=1, description="loans listed in the early-warning section")
    rings_top: int = Field(15, ge=1, description="largest graph components shown in the fraud ring view")
    # outcomes (served decisions joined to their matured labels) and vintage/segment monitoring
    skew_tolerance: float = Field(
        1e-6, ge=0, description="a served feature value differs from the offline point-in-time value when "
        "|served - offline| > this x max(1, |offline|) (strings and nulls: when not equal)")
    skew_max_mismatch_share: float = Field(
        0.01, ge=0, le=1, description="a feature whose share of mismatching decisions exceeds this: skew alert")
    min_ks: float = Field(0.20, ge=0, le=1, description="realised or per-vintage KS below this: alert")
    min_gini: float = Field(0.30, ge=-1, le=1, description="realised or per-vintage Gini below this: alert")
    max_calibration_gap: float = Field(
        0.05, ge=0, le=1, description="|mean predicted - observed bad rate| of a grade above this: alert")
    calibration_bins: int = Field(10, ge=2, le=100, description="score grades (quantile bins) of calibration")
    segment_column: str = Field(
        "region", min_length=1, description="segment of score PSI (decision features) and feature CSI "
        "(feature tables holding this column)")
    max_segment_psi: float = Field(0.25, gt=0, description="score PSI or feature CSI of a segment above this: alert")

    @model_validator(mode="after")
    def _ordered(self) -> MonitorSettings:
        if self.psi_warn > self.psi_alert:
            raise ValueError("RISKPIPE_MONITOR_PSI_WARN must not exceed RISKPIPE_MONITOR_PSI_ALERT")
        return self


def load_monitor_settings(**overrides: object) -> MonitorSettings:
    """Build monitoring settings from the environment plus overrides, with a readable error."""
    from riskpipe.settings import load_section

    return load_section(MonitorSettings, "RISKPIPE_MONITOR_", "monitoring", overrides)


@functools.cache
def get_monitor_settings() -> MonitorSettings:
    """Process-wide monitoring settings (``get_monitor_settings.cache_clear()`` after changing env)."""
    return load_monitor_settings()
