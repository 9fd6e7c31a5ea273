"""Specs load, are consistent with the silver contract, and the factory plans one check per rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from riskpipe.quality.baselines import Baseline
from riskpipe.quality.spec import SpecError, load_spec, load_specs
from riskpipe.quality.suites import SuiteInputs, planned_checks

SILVER = ["customers", "applications", "repayments", "transactions", "device_events", "bureau", "chargebacks"]
COMMON = {"event_ts": "timestamp", "known_at": "timestamp", "dt": "date", "_landing_dt": "date",
          "_source_file": "string", "_source_row": "long", "_run_id": "string"}


def test_every_silver_dataset_has_a_spec_matching_the_silver_contract() -> None:
    from riskpipe.features.tables import FEATURE_TABLES
    from riskpipe.indicators.build import FEATURE_TABLES as DBT_FEATURE_TABLES
    from riskpipe.sources.config import get_sources

    specs = load_specs()
    # one spec per silver dataset and per feature table (test_feature_specs checks the latter), no other
    assert sorted(specs) == sorted([*SILVER, *(set(FEATURE_TABLES) | set(DBT_FEATURE_TABLES))])
    assert {n for n, sp in specs.items() if sp.layer == "silver"} == set(SILVER)
    cfg = get_sources()
    for name in SILVER:
        declared = {c.name: c.type for c in cfg[name].silver.columns} | COMMON
        spec_cols = {c.name: c.type for c in specs[name].columns}
        assert spec_cols == declared, name
        assert specs[name].keys.columns == list(cfg[name].keys), name


def test_plan_names_each_rule_with_its_severity() -> None:
    spec = load_specs()["transactions"]
    base = Baseline(partitions=["2026-01-01", "2026-01-02", "2026-01-03"], row_count=100.0,
                    null_rate={"device_id": 0.3}, mean={"amount": 40.0})
    plan = planned_checks(spec, SuiteInputs(day=dt.date(2026, 1, 4), current_partition=dt.date(2026, 1, 4),
                                            partitions_in_frame=2, baseline=base))
    by_check = {check: kw for _cls, check, kw in plan}
    assert by_check["row_count"]["min_value"] == 50 and by_check["row_count"]["max_value"] == 200
    assert by_check["row_count"]["row_condition"] == "dt = DATE'2026-01-04'"
    assert by_check["mean:amount"]["min_value"] == pytest.approx(20.0)
    assert by_check["mean:amount"]["max_value"] == pytest.approx(60.0)
    # null rate 0.3 +- 0.2 -> non-null proportion in [0.5, 0.9]
    assert by_check["null_rate:device_id"]["min_value"] == pytest.approx(0.5)
    assert by_check["null_rate:device_id"]["max_value"] == pytest.approx(0.9)
    assert by_check["freshness:event_ts"]["min_value"] == "2026-01-04T18:00:00"
    assert by_check["reference:customer_id"]["mostly"] == 0.95
    assert by_check["unique"]["column_list"] == ["dt", "txn_id"]
    assert all(kw["meta"]["severity"] in ("error", "warning") for _c, _id, kw in plan)
    # without enough history, no distribution checks at all
    plain = {check for _c, check, _kw in planned_checks(spec, SuiteInputs(day=dt.date(2026, 1, 4)))}
    assert not plain & {"row_count", "mean:amount", "null_rate:device_id"}


def test_suite_factory_builds_a_gx_suite() -> None:
    from riskpipe.quality.suites import build_suite

    spec = load_specs()["chargebacks"]
    suite = build_suite(spec, SuiteInputs(day=dt.date(2026, 1, 4)))
    assert suite.name == "chargebacks"
    checks = [e.meta["check"] for e in suite.expectations]
    assert "reference:txn_id" in checks and "allowed:reason_code" in checks and "schema" in checks
    assert {e.severity.value for e in suite.expectations} == {"critical"}


@pytest.mark.parametrize(("body", "needle"), [
    ("dataset: x\nkeys: [id]\ncolumns: [{name: id, type: string}]\nfreshness: {event_column: ts}\n", "'ts'"),
    ("dataset: x\nkeys: [id]\ncolumns: [{name: id, type: varchar}]\n", "type"),
    ("dataset: y\nkeys: [id]\ncolumns: [{name: id, type: string}]\npartition: null\n", "x.yml"),
    ("dataset: x\nkeys: [id]\ncolumns: [{name: id, type: string, range: {min: 5, max: 1}}]\npartition: null\n",
     "min 5.0 > max 1.0"),
])
def test_bad_spec_errors_name_the_file_and_problem(tmp_path: Path, body: str, needle: str) -> None:
    p = tmp_path / "x.yml"
    p.write_text(body)
    with pytest.raises(SpecError) as err:
        load_spec(p)
    assert str(p) in str(err.value) and needle in str(err.value)
