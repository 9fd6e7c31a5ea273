"""Declarative quality specs (``expectations/<dataset>.yml``) as typed, validated objects.

A spec says *what* a dataset must look like (schema, keys, ranges, allowed sets, references,
freshness, distribution bounds, each with a severity); :mod:`riskpipe.quality.suites` turns it into a
Great Expectations suite. Specs are plain YAML so a data engineer changes a bound without touching
code, and the same format serves silver datasets and (later) dbt feature tables: a spec's name is
the dataset's name everywhere (``layer`` says where it lives in the lake).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from riskpipe.errors import ConfigError

Severity = Literal["error", "warning"]
ColumnType = Literal["string", "long", "int", "double", "float", "boolean", "date", "timestamp"]

#: spec type -> the Spark SQL type class name GX compares against (expect_column_values_to_be_of_type).
SPARK_TYPE_NAMES: dict[str, str] = {
    "string": "StringType",
    "long": "LongType",
    "int": "IntegerType",
    "double": "DoubleType",
    "float": "FloatType",
    "boolean": "BooleanType",
    "date": "DateType",
    "timestamp": "TimestampType",
}


class SpecError(ConfigError):
    """A quality spec is missing, unreadable or inconsistent (the message names the file)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rule(_Strict):
    """A check with a severity: ``error`` blocks publication, ``warning`` is recorded only."""

    severity: Severity = "error"
    mostly: float = Field(1.0, gt=0, le=1, description="fraction of rows that must satisfy the rule")


class RangeRule(Rule):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} > max {self.max}")
        return self


class AllowedRule(Rule):
    values: list[str | int | float | bool] = Field(min_length=1)


def _rule_shorthand(value: Any) -> Any:
    """``not_null: true`` means an error-level rule; ``false``/absent means no rule."""
    if value is True:
        return {}
    if value is False:
        return None
    if isinstance(value, str):
        return {"severity": value}
    return value


class ColumnSpec(_Strict):
    name: str
    type: ColumnType
    not_null: Rule | None = None
    range: RangeRule | None = None
    allowed: AllowedRule | None = None
    description: str | None = None

    @field_validator("not_null", mode="before")
    @classmethod
    def _nn(cls, v: Any) -> Any:
        return _rule_shorthand(v)

    @field_validator("allowed", mode="before")
    @classmethod
    def _allowed(cls, v: Any) -> Any:
        return {"values": v} if isinstance(v, list) else v

    @property
    def spark_type(self) -> str:
        return SPARK_TYPE_NAMES[self.type]


class SchemaRule(_Strict):
    severity: Severity = "error"
    exact: bool = Field(True, description="no columns besides the declared ones")


class KeyRule(_Strict):
    columns: list[str] = Field(min_length=1)
    severity: Severity = "error"


class Reference(Rule):
    """``column`` values must exist as ``key`` in the published ``dataset`` (checked on a joined frame)."""

    column: str
    dataset: str
    key: str
    layer: Literal["silver", "features"] = "silver"
    window: Literal["up_to_day", "all"] = Field(
        "up_to_day", description="referenced partitions: dt <= the validated day (point in time) or all"
    )


class Freshness(_Strict):
    """The newest event must be close to the end of the validated day, and no row known before it happened.

    ``day end`` is the validated day + 1 day, 00:00 UTC (the close of the day's batch).
    """

    event_column: str = "event_ts"
    max_staleness_hours: float = Field(24, gt=0, description="max(event) >= day end - this")
    known_column: str | None = Field("known_at", description="every row: known >= event (two clocks agree)")
    max_known_delay_days: float | None = Field(None, ge=0, description="max(known) <= day end + this")
    severity: Severity = "error"


class RowCountRule(_Strict):
    min_ratio: float = Field(0.5, ge=0, description="count >= mean(trailing counts) * this")
    max_ratio: float | None = Field(3.0, gt=0, description="count <= mean(trailing counts) * this")
    severity: Severity = "error"


class NullRateRule(_Strict):
    column: str
    max_shift: float = Field(gt=0, le=1, description="|null rate - trailing mean null rate| <= this")
    severity: Severity = "warning"


class MeanRule(_Strict):
    column: str
    max_relative_shift: float = Field(gt=0, description="|mean - trailing mean| <= this * |trailing mean|")
    severity: Severity = "warning"


class Distribution(_Strict):
    """Checks of the newest partition against the trailing partitions' metrics (computed in Spark by
    :mod:`riskpipe.quality.baselines` from the published partitions before it)."""

    history: int = Field(7, ge=1, description="trailing partitions compared against")
    min_history: int = Field(3, ge=1, description="fewer partitions of history: checks are not applied")
    row_count: RowCountRule | None = None
    null_rate: list[NullRateRule] = Field(default_factory=list)
    mean: list[MeanRule] = Field(default_factory=list)


class Partition(_Strict):
    """Every row sits in the partition of its event date: ``column == to_date(event_column)`` (a table
    partitioned by when its rows were made, such as ``fraud_txn``, names ``created_ts``)."""

    column: str = "dt"
    event_column: str | None = "event_ts"
    severity: Severity = "error"


class DatasetSpec(_Strict):
    dataset: str
    layer: Literal["silver", "features"] = "silver"
    description: str = ""
    owner: str | None = None
    keys: KeyRule
    schema_: SchemaRule = Field(default_factory=SchemaRule, alias="schema")
    columns: list[ColumnSpec] = Field(min_length=1)
    partition: Partition | None = Field(default_factory=Partition)
    references: list[Reference] = Field(default_factory=list)
    freshness: Freshness | None = None
    distribution: Distribution | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("keys", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        return {"columns": v} if isinstance(v, list) else v

    @model_validator(mode="after")
    def _columns_known(self) -> DatasetSpec:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns declared twice: {', '.join(dupes)}")
        used: list[tuple[str, str]] = [("keys", c) for c in self.keys.columns]
        used += [("references", r.column) for r in self.references]
        if self.partition:
            used.append(("partition.column", self.partition.column))
            if self.partition.event_column:
                used.append(("partition.event_column", self.partition.event_column))
        if self.freshness:
            used.append(("freshness.event_column", self.freshness.event_column))
            if self.freshness.known_column:
                used.append(("freshness.known_column", self.freshness.known_column))
        if self.distribution:
            used += [("distribution.null_rate", r.column) for r in self.distribution.null_rate]
            used += [("distribution.mean", r.column) for r in self.distribution.mean]
        for where, col in used:
            if col not in names:
                raise ValueError(f"{where} names column {col!r}, which is not among the declared columns")
        return self

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def default_spec_dir() -> Path:
    """``expectations/`` at the repository root (next to ``src/``), where specs are versioned."""
    return Path(__file__).resolve().parents[3] / "expectations"


def load_spec(path: Path) -> DatasetSpec:
    """Read and validate one spec file; the error names the file and the offending field."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise SpecError(f"cannot read quality spec {path}: {err}") from None
    except yaml.YAMLError as err:
        raise SpecError(f"quality spec {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"quality spec {path} must be a mapping with dataset, keys, columns ...")
    try:
        spec = DatasetSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(f"invalid quality spec {path}:\n{err}") from None
    if spec.dataset != Path(path).stem:
        raise SpecError(f"quality spec {path} declares dataset {spec.dataset!r}; the file must be named "
                        f"{spec.dataset}.yml (one name per dataset everywhere)")
    return spec


def load_specs(spec_dir: Path | None = None) -> dict[str, DatasetSpec]:
    """Every ``*.yml`` spec in ``spec_dir`` (default: the repository's ``expectations/``), by dataset."""
    folder = Path(spec_dir) if spec_dir else default_spec_dir()
    if not folder.is_dir():
        raise SpecError(f"quality spec directory {folder} does not exist")
    specs = {p.stem: load_spec(p) for p in sorted(folder.glob("*.yml"))}
    for spec in specs.values():
        for ref in spec.references:
            if ref.dataset in specs and ref.key not in specs[ref.dataset].column_names:
                raise SpecError(f"quality spec {folder / (spec.dataset + '.yml')}: reference {ref.column} -> "
                                f"{ref.dataset}.{ref.key}, but {ref.dataset} declares no column {ref.key!r}")
    return specs


@functools.cache
def _cached_specs(folder: str) -> dict[str, DatasetSpec]:
    return load_specs(Path(folder))


def get_spec(dataset: str, spec_dir: Path | None = None) -> DatasetSpec:
    """The spec of ``dataset`` (cached per directory); unknown names list the known ones."""
    specs = _cached_specs(str(Path(spec_dir) if spec_dir else default_spec_dir()))
    try:
        return specs[dataset]
    except KeyError:
        raise SpecError(f"no quality spec for dataset {dataset!r}; specs exist for: {', '.join(specs)}") from None


def list_datasets(spec_dir: Path | None = None) -> list[str]:
    return list(_cached_specs(str(Path(spec_dir) if spec_dir else default_spec_dir())))
