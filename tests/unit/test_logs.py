"""riskpipe's log handler writes to the stderr of the moment, not to the one it was set up with."""

from __future__ import annotations

import io
import logging
import sys

import pytest


def test_logs_go_to_the_current_stderr_after_the_first_one_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskpipe import logs

    logger = logging.getLogger("riskpipe")
    before, level, propagate = list(logger.handlers), logger.level, logger.propagate
    monkeypatch.setattr(logs, "_CONFIGURED", False)
    first = io.StringIO()  # e.g. a CliRunner's stream while the CLI configured logging
    monkeypatch.setattr(sys, "stderr", first)
    logs.configure_logging("INFO")
    added = [h for h in logger.handlers if h not in before]
    try:
        assert len(added) == 1
        logging.getLogger("riskpipe.test").info("while the first stream is open")
        assert "while the first stream is open" in first.getvalue()
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("riskpipe.test").warning("after it closed")
        assert "WARNING riskpipe.test: after it closed" in second.getvalue()
        assert "Logging error" not in second.getvalue()
    finally:
        for h in added:
            logger.removeHandler(h)
        logger.setLevel(level)
        logger.propagate = propagate
