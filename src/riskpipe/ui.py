"""Progress display for long CLI work (rich), quiet when not on a terminal unless forced."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def date_option(value: str, option: str) -> dt.date:
    """The date a CLI option gives (YYYY-MM-DD), or a ConfigError naming the option."""
    from riskpipe.errors import ConfigError

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} must be a date YYYY-MM-DD, got {value!r}") from None


@contextlib.contextmanager
def progress(enabled: bool | None = None) -> Iterator[Progress]:
    """A rich progress display; ``enabled=None`` shows it only on a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=False,
    )
    with bar:
        yield bar
