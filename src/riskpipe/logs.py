"""Logging set-up shared by the CLI, jobs and DAG tasks (library code only ever uses ``logging``)."""

from __future__ import annotations

import logging
import sys

_CONFIGURED = False


class _CurrentStderr(logging.StreamHandler):
    """A stream handler writing to ``sys.stderr`` as it is when a record is emitted, not as it was at
    set-up: a caller that swaps stderr for a while (a test runner, ``CliRunner``, a notebook) and
    closes its stream afterwards would otherwise leave every later riskpipe log writing into a closed
    stream ("--- Logging error ---")."""

    @property
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


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
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False
    _CONFIGURED = True
