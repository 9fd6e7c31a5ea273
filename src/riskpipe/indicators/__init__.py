"""The indicator centre: the dbt project in ``dbt/`` builds the feature and label tables of one
feature date from silver (see docs/feature-tables.md); :func:`build_indicators` runs it.

Kept import-light: dbt is imported only when a build runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FEATURE_TABLES", "LABEL_TABLES", "IndicatorBuildFailed", "IndicatorsResult", "build_indicators"]

if TYPE_CHECKING:
    from riskpipe.indicators.build import (
        FEATURE_TABLES,
        LABEL_TABLES,
        IndicatorBuildFailed,
        IndicatorsResult,
        build_indicators,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from riskpipe.indicators import build

        return getattr(build, name)
    raise AttributeError(name)
