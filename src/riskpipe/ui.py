"""Progress display for long CLI work (rich), quiet when not on a terminal unless forced."""

from __future__ import annotations

import contextlib
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
