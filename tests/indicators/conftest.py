"""Indicator test fixtures on the shared ingested ``world`` (tests/worlds.py).

Feature dates used by the tests:

* ``MID`` 2026-01-06: inside the data;
* ``LAST`` 2026-01-08: the first date that knows the last landing day;
* ``QUIET`` 2026-01-10: nothing new landed after ``LAST``, so window values can only decay.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.worlds import LAST, MID, QUIET, START  # noqa: F401  (re-exported for the tests)


@pytest.fixture(scope="session")
def built(world):
    """The indicators of MID, LAST and QUIET built once on the local (duckdb) target."""
    from riskpipe.indicators import build_indicators

    return {day: build_indicators(day, world) for day in (MID, LAST, QUIET)}


def read_partition(settings, table: str, day: dt.date):
    import pandas as pd

    path: Path = settings.features / table / f"dt={day.isoformat()}" / "data.parquet"
    return pd.read_parquet(path)
