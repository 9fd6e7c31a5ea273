"""Logging set-up shared by the CLI, jobs and DAG tasks (library code only ever uses ``logging``)."""

from __future__ import annotations

import logging
import sys

_CONFIGURED = False


def configure_logging(level: str = "INFO") -> None:
    """Route riskpipe logs to stderr once (rich formatting on a terminal, plain text otherwise)."""
    global _CONFIGURED
    root = logging.getLogger("riskpipe")
    root.setLevel(level)
    if _CONFIGURED:
        return
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False
    _CONFIGURED = True
