"""Contract column kinds -> Feast field types."""

from __future__ import annotations


def feast_type(kind: str):
    from feast.types import Float64, Int32, Int64, String, UnixTimestamp

    return {"double": Float64, "int": Int32, "long": Int64, "string": String, "timestamp": UnixTimestamp}[kind]


def feast_fields(columns):
    from feast import Field

    return [Field(name=n, dtype=feast_type(k)) for n, k in columns]
