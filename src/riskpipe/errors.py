"""Errors that carry a message meant for a person: the CLI prints them without a stack trace."""

from __future__ import annotations


class RiskpipeError(Exception):
    """Base of every error riskpipe raises on purpose (bad input, bad config, failed gate)."""

    exit_code = 1


class ConfigError(RiskpipeError, ValueError):
    """Configuration (environment variables, declaration files) is invalid."""

    exit_code = 2
