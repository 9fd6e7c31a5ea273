"""Monitoring: data volumes, quarantine, validation, feature drift, scores, model performance, rings.

``riskpipe report --date D`` renders everything into one self-contained HTML file
(:mod:`riskpipe.monitoring.report`) and writes the per-day facts as Parquet tables under
``<lake>/monitoring/<table>/dt=D/data.parquet`` for BI tools (:mod:`riskpipe.monitoring.metrics`).
:func:`drift_alerts` is what the monitoring DAG calls to raise drift and freshness alerts.
"""

from __future__ import annotations

from riskpipe.monitoring.config import MonitorSettings, get_monitor_settings, load_monitor_settings
from riskpipe.monitoring.metrics import drift_alerts

__all__ = ["MonitorSettings", "drift_alerts", "get_monitor_settings", "load_monitor_settings"]
