"""Data quality: declarative specs (``expectations/*.yml``) -> GX suites -> validation gates.

Importing this package is cheap: Spark and Great Expectations are imported when a validation runs.
"""

from __future__ import annotations

from riskpipe.quality.validate import (
    CheckResult,
    PartitionMissing,
    ValidationResult,
    gate,
    validate_dataset,
    validate_frame,
)

__all__ = ["CheckResult", "PartitionMissing", "ValidationResult", "gate", "validate_dataset", "validate_frame"]
