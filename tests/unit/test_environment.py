"""The environment is the one the lock file promises: a silent downgrade fails here."""

from __future__ import annotations

import importlib.metadata as md

import pytest
from packaging.version import Version

# package -> (minimum version, exclusive upper bound) on (major, minor)
EXPECTED = {
    "apache-airflow": ((3, 3), (4, 0)),
    "pyspark": ((4, 0), (5, 0)),
    "feast": ((0, 60), (1, 0)),
    "great-expectations": ((1, 20), (2, 0)),
    "mlflow": ((3, 10), (4, 0)),
    "dbt-core": ((1, 11), (1, 12)),
    "dbt-duckdb": ((1, 11), (1, 12)),
    "dbt-spark": ((1, 11), (2, 0)),
    "duckdb": ((1, 3), (3, 0)),
    "pyarrow": ((17, 0), (100, 0)),
    "lightgbm": ((4, 3), (5, 0)),
    "scikit-learn": ((1, 5), (2, 0)),
    "sqlalchemy": ((2, 0), (3, 0)),
    "redis": ((5, 0), (100, 0)),
}


def _major_minor(version: str) -> tuple[int, int]:
    release = Version(version).release
    return release[0], (release[1] if len(release) > 1 else 0)


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_installed_version_within_bounds(package: str) -> None:
    low, high = EXPECTED[package]
    got = _major_minor(md.version(package))
    assert low <= got < high, f"{package} {md.version(package)} is outside [{low}, {high})"


def test_major_version_parser() -> None:
    assert _major_minor("3.3.2") == (3, 3)
    assert _major_minor("1.24.1") == (1, 24)
    assert _major_minor("4.0.0rc1") == (4, 0)
    assert _major_minor("1.11b1") == (1, 11)
