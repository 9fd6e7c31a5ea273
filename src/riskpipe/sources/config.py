"""Source declarations (``sources.yml``) as typed objects.

The generator writes what these declare, ingestion reads with exactly these schemas, and quality
specs and dbt staging models use the same names. A team points riskpipe at its own feeds by
providing its own file through ``RISKPIPE_SOURCES_FILE``.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from riskpipe.errors import ConfigError

Format = Literal["csv", "jsonl", "parquet"]
LandingType = Literal["string", "long", "double", "boolean", "struct"]
SilverType = Literal["string", "long", "int", "double", "boolean", "date", "timestamp"]
Parse = Literal[
    "iso8601_offset",
    "iso8601_utc",
    "epoch_millis",
    "yyyymmdd",
    "iso_date",
    "decimal_major",
    "minor_units",
    "trim_upper",
    "trim_lower",
]

#: Columns every silver dataset carries besides its own (see sources.yml header).
SILVER_COMMON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_ts", "timestamp"),
    ("known_at", "timestamp"),
    ("dt", "date"),
    ("_landing_dt", "date"),
    ("_source_file", "string"),
    ("_source_row", "long"),
    ("_run_id", "string"),
)


class SourceConfigError(ConfigError):
    """The source declarations file is missing, unreadable or inconsistent."""


class Field_(BaseModel):
    name: str
    type: LandingType = "string"


class LandingColumn(BaseModel):
    name: str
    type: LandingType = "string"
    required: bool = False
    pii: bool = False
    parse: Parse | None = None
    allowed: list[str | int] | None = None
    range: tuple[float, float] | None = None
    conform: str | None = None
    fx: bool = False  # an amount in the row's `currency`, converted to the base currency
    fields: list[Field_] | None = None


class SilverColumn(BaseModel):
    name: str
    type: SilverType


class EventTime(BaseModel):
    column: str
    parse: Parse


class Landing(BaseModel):
    columns: list[LandingColumn]


class Silver(BaseModel):
    columns: list[SilverColumn]


class SourceSpec(BaseModel):
    name: str = ""
    description: str
    owner: str
    format: Format
    file: str = Field(description="file name template; {yyyymmdd} is the landing date")
    options: dict[str, object] = Field(default_factory=dict)
    keys: list[str]
    version_column: str | None = None
    event_time: EventTime
    landing: Landing
    silver: Silver

    @model_validator(mode="after")
    def _consistent(self) -> SourceSpec:
        names = {c.name for c in self.landing.columns}
        for col in [*self.keys, self.event_time.column, *([self.version_column] if self.version_column else [])]:
            if col not in names:
                raise ValueError(f"source {self.name or '?'}: column {col!r} is not among its landing columns")
        return self

    def file_name(self, day: dt.date) -> str:
        return self.file.format(yyyymmdd=day.strftime("%Y%m%d"))

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.landing.columns if c.pii]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.landing.columns if c.required]

    def landing_column(self, name: str) -> LandingColumn:
        for c in self.landing.columns:
            if c.name == name:
                return c
        raise KeyError(name)


class SourcesConfig(BaseModel):
    base_currency: str
    fx_to_base: dict[str, float]
    known_time_rule: Literal["landing_close"] = "landing_close"
    sources: dict[str, SourceSpec]

    @model_validator(mode="after")
    def _names(self) -> SourcesConfig:
        for name, spec in self.sources.items():
            spec.name = name
        return self

    def __getitem__(self, name: str) -> SourceSpec:
        try:
            return self.sources[name]
        except KeyError:
            raise SourceConfigError(
                f"unknown source {name!r}; declared sources: {', '.join(self.sources)}"
            ) from None

    @property
    def names(self) -> list[str]:
        return list(self.sources)


def load_sources(path: Path | None = None) -> SourcesConfig:
    """Read and validate a sources file (default: the packaged ``sources.yml``)."""
    try:
        if path is None:
            text = resources.files("riskpipe.sources").joinpath("sources.yml").read_text()
            where = "packaged sources.yml"
        else:
            text = Path(path).read_text()
            where = str(path)
    except OSError as err:
        raise SourceConfigError(f"cannot read source declarations {path}: {err}") from None
    try:
        return SourcesConfig.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as err:
        raise SourceConfigError(f"invalid source declarations in {where}:\n{err}") from None


@functools.cache
def _cached(path: str | None) -> SourcesConfig:
    return load_sources(Path(path) if path else None)


def get_sources() -> SourcesConfig:
    """Sources for the current settings (``RISKPIPE_SOURCES_FILE`` or the packaged file), cached."""
    from riskpipe.settings import get_settings

    p = get_settings().sources_file
    return _cached(str(p) if p else None)
