"""Pure DataFrame -> DataFrame transforms, one module per source, plus the shared cleaning rules.

``SILVER[name](df, ctx)`` maps a checked, tokenised frame (``p_<landing column>`` values) to that
source's silver columns (see ``sources.yml``); the ingest pipeline adds the common columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from riskpipe.transforms import (
    applications,
    bureau,
    chargebacks,
    customers,
    device_events,
    repayments,
    transactions,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from riskpipe.transforms.context import Context

SILVER: dict[str, Callable[[DataFrame, Context], DataFrame]] = {
    "customers": customers.to_silver,
    "applications": applications.to_silver,
    "repayments": repayments.to_silver,
    "transactions": transactions.to_silver,
    "device_events": device_events.to_silver,
    "bureau": bureau.to_silver,
    "chargebacks": chargebacks.to_silver,
}
