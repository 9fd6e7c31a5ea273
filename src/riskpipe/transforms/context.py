"""What a source transform may need beyond its own rows."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclasses.dataclass
class Context:
    #: national_id_token -> customer_id from published silver customers (None if none published yet)
    customer_by_national_id: DataFrame | None = None
