"""Fault injection for the orchestration tests: make one named step raise exactly once.

``RISKPIPE_AIRFLOW_FAIL_ONCE=<step>:<marker file>`` makes :func:`maybe_fail` raise in ``<step>`` when
the marker file does not exist yet, after creating it; the retry then finds the marker and proceeds.
This is how the tests prove that a task failing mid-DAG is retried and that the rerun is idempotent.
Unset (the default), it does nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from riskpipe.errors import RiskpipeError

log = logging.getLogger(__name__)


class InjectedFault(RiskpipeError):
    """The failure asked for by RISKPIPE_AIRFLOW_FAIL_ONCE."""


def maybe_fail(step: str) -> None:
    """Raise once for ``step`` if fault injection names it (see module doc)."""
    import os

    spec = os.environ.get("RISKPIPE_AIRFLOW_FAIL_ONCE", "")
    if not spec or ":" not in spec:
        return
    target, marker = spec.split(":", 1)
    if target != step:
        return
    path = Path(marker)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(step)
    log.warning("injected fault in %s (marker %s)", step, path)
    raise InjectedFault(f"injected fault in {step} (RISKPIPE_AIRFLOW_FAIL_ONCE, marker {path})")
