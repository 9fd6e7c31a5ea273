"""Embedded parts end to end: apply, point-in-time training sets, gated materialisation, online reads, skew."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math

import pandas as pd
import pytest

from riskpipe.errors import ConfigError
from riskpipe.features.materialize import materialize, materialized_until
from riskpipe.features.online import online_features
from riskpipe.features.skew import check_skew
from riskpipe.features.store import load_definitions
from riskpipe.features.tables import FEATURE_TABLES, VALIDATED_MARKER
from riskpipe.features.training import build_training_set, training_set
from tests.features import synth
from tests.features.conftest import embedded_settings

D = synth.DAYS


def norm(v):
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        t = pd.Timestamp(v)
        return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def assert_row_matches(row: dict, table: str, entity: str, at: dt.datetime) -> int:
    """Every feature of ``table`` in ``row`` equals the independently computed PIT value."""
    checked = 0
    for name in FEATURE_TABLES[table].feature_names:
        if name not in row:
            continue
        want = norm(synth.expected(table, name, entity, at))
        got = norm(row[name])
        assert got == want, f"{table}.{name} for {entity} at {at}: got {got!r}, want {want!r}"
        checked += 1
    return checked


def test_every_object_has_description_owner_and_ttl(embedded):
    settings, _store = embedded
    defs = load_definitions(settings)
    assert {fv.name for fv in defs.feature_views} == set(FEATURE_TABLES)
    assert {s.name for s in defs.feature_services} == {"credit_pd_v1", "credit_pd_v2", "fraud_v1", "early_warning_v1"}
    assert {e.name for e in defs.entities} == {"customer", "loan"}
    assert defs.on_demand_feature_views
    for obj in defs.objects():
        assert obj.description, obj.name
        assert obj.owner and obj.tags.get("owner"), obj.name
    for fv in defs.feature_views:
        assert fv.ttl == dt.timedelta(days=2)
        assert fv.batch_source.path == str(settings.features / fv.name)  # from settings, not hard-coded
        assert {f.name for f in fv.schema} >= set(FEATURE_TABLES[fv.name].feature_names)


def test_same_definitions_follow_settings(tmp_path):
    """The offline store choice changes the source type only: same names, same schemas."""
    from feast import FileSource
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

    emb = load_definitions(embedded_settings(tmp_path / "a"))
    from riskpipe.settings import load_settings

    spk = load_definitions(load_settings(data_dir=tmp_path / "b", feast_offline_store="spark"))
    assert all(isinstance(s, FileSource) for s in emb.data_sources)
    assert all(isinstance(s, SparkSource) for s in spk.data_sources)
    assert [fv.name for fv in emb.feature_views] == [fv.name for fv in spk.feature_views]
    assert [[f.name for f in fv.schema] for fv in emb.feature_views] == \
        [[f.name for f in fv.schema] for fv in spk.feature_views]
    assert {s.path for s in spk.data_sources} == {str(tmp_path / "b" / "lake" / "features" / t) for t in FEATURE_TABLES}


def _entities():
    at = [
        ("c1", synth.ts(D[1])),                                   # exactly the feature date: row D1
        ("c1", synth.ts(D[1]) - dt.timedelta(microseconds=1)),    # just before: row D0, never D1
        ("c2", synth.ts(D[2], 13, 30)),
        ("c3", synth.ts(D[3], 23, 59)),
        ("c4", synth.ts(D[0]) - dt.timedelta(hours=1)),           # before any data: nulls
        ("c5", synth.ts(D[1], 12)),                               # not known yet: nulls
        ("c5", synth.ts(D[2], 1)),
        ("c2", synth.ts(D[3]) + dt.timedelta(days=3)),            # beyond TTL of the last row: nulls
        ("zz", synth.ts(D[2])),                                   # unknown entity: nulls
    ]
    return pd.DataFrame({
        "customer_id": [c for c, _ in at],
        "event_timestamp": pd.to_datetime([t for _, t in at]).tz_localize("UTC"),
        "requested_amount": [1000.0 * (i + 1) for i in range(len(at))],
        "row_no": list(range(len(at))),
    })


def test_training_set_is_point_in_time_correct(embedded):
    settings, store = embedded
    ents = _entities()
    frame = training_set("credit_pd_v1", ents, settings=settings, store=store)
    assert list(frame["row_no"]) == list(ents["row_no"])  # entity order kept
    manifest = json.loads(open(frame.attrs["manifest_path"]).read())
    assert manifest == frame.attrs["manifest"]
    assert frame.attrs["manifest_path"].startswith(str(settings.runs / "training_sets" / "credit_pd_v1-"))
    assert manifest["row_counts"]["rows_out"] == len(ents)
    checked = 0
    for row in frame.to_dict("records"):
        at = row["event_timestamp"].tz_convert("UTC").tz_localize(None).to_pydatetime()
        checked += assert_row_matches(row, "customer_credit_daily", row["customer_id"], at)
        checked += assert_row_matches(row, "customer_graph_daily", row["customer_id"], at)
        income = norm(synth.expected("customer_credit_daily", "annual_income", row["customer_id"], at))
        want = None if income is None else row["requested_amount"] / income
        assert norm(row["requested_to_income"]) == want
    assert checked == len(ents) * (len(FEATURE_TABLES["customer_credit_daily"].features)
                                   + len(FEATURE_TABLES["customer_graph_daily"].features))
    # spot checks that pin the semantics independently of synth.expected
    first, before = frame.iloc[0], frame.iloc[1]
    assert first["bureau_score"] == 1000 + 10 + 4  # c1, day index 1, column 4, the restated row's newest version
    assert before["bureau_score"] == 1000 + 0 + 4  # one microsecond earlier: the previous day's row
    assert frame.iloc[4][["bureau_score", "component_size"]].isna().all()
    assert frame.iloc[5][["bureau_score", "component_size"]].isna().all()
    assert frame.iloc[6]["bureau_score"] == 5000 + 20 + 4
    assert frame.iloc[7][["bureau_score", "annual_income"]].isna().all()
    assert frame.iloc[8][["bureau_score", "region"]].isna().all()


def test_no_leakage_from_later_partitions(embedded, tmp_path):
    """A row stamped after the event time never reaches it, even if it was written first."""
    settings, store = embedded
    ents = pd.DataFrame({"customer_id": ["c1"], "event_timestamp": [pd.Timestamp(synth.ts(D[3]) - dt.timedelta(seconds=1), tz="UTC")],
                         "requested_amount": [1.0]})
    frame = training_set("credit_pd_v1", ents, settings=settings, store=store)
    day = D[2]  # newest row with feature_ts <= t is D2's; D3's row is stamped 1 s after t
    assert frame.loc[0, "bureau_score"] == 1000 + (day - synth.DAY0).days * 10 + 4


def test_training_set_from_label_table_with_manifest(embedded, tmp_path):
    settings, store = embedded
    rows = [
        {"application_id": "a1", "customer_id": "c1", "feature_ts": pd.Timestamp(synth.ts(D[1], 9)),
         "label": 1, "label_known_at": pd.Timestamp(synth.ts(D[3])), "requested_amount": 500.0},
        {"application_id": "a2", "customer_id": "c2", "feature_ts": pd.Timestamp(synth.ts(D[2], 9)),
         "label": 0, "label_known_at": pd.Timestamp(synth.ts(D[3], 12)), "requested_amount": 700.0},
        {"application_id": "a3", "customer_id": "c3", "feature_ts": pd.Timestamp(synth.ts(D[3], 9)),
         "label": 1, "label_known_at": pd.Timestamp("2026-03-01"), "requested_amount": 900.0},
        # an indeterminate (labels.yml exclusion, label null) is never a training row, nor is a row a
        # quarantined payment holds back (unresolved, label null)
        {"application_id": "a4", "customer_id": "c4", "feature_ts": pd.Timestamp(synth.ts(D[2], 10)),
         "label": None, "label_known_at": pd.Timestamp(synth.ts(D[3])), "requested_amount": 800.0,
         "label_status": "indeterminate"},
        {"application_id": "a5", "customer_id": "c5", "feature_ts": pd.Timestamp(synth.ts(D[2], 11)),
         "label": None, "label_known_at": pd.Timestamp(synth.ts(D[3])), "requested_amount": 600.0,
         "label_status": "unresolved"},
    ]
    for r in rows:
        r.setdefault("label_status", {1: "bad", 0: "good"}.get(r["label"]))
    synth.write_label_table(settings.features, "label_credit_pd", rows)
    out = tmp_path / "ts" / "credit.parquet"
    ts = build_training_set("credit_pd_v1", "label_credit_pd", settings=settings, store=store, out=out,
                      labels_known_by=dt.datetime(2026, 1, 4, 12))
    assert list(ts.frame["application_id"]) == ["a1", "a2"]  # a3's label is not known yet
    assert list(ts.frame["label"]) == [1, 0]
    assert "feature_ts" in ts.frame.columns  # the entity time keeps its contract name
    for row in ts.frame.to_dict("records"):
        at = row["feature_ts"].tz_convert("UTC").tz_localize(None).to_pydatetime()
        assert_row_matches(row, "customer_credit_daily", row["customer_id"], at)
    written = pd.read_parquet(out)
    assert len(written) == 2
    manifest = json.loads(ts.manifest_path.read_text())
    assert manifest == json.loads(json.dumps(ts.manifest, default=str))
    assert manifest["feature_service"] == "credit_pd_v1"
    assert manifest["row_counts"] == {"entity_rows_in": 3, "entity_rows_used": 2, "rows_out": 2,
                                      "rows_with_all_features_null": 0, "label_positive": 1}
    credit = manifest["data_snapshot"]["customer_credit_daily"]
    # entities at D1 09:00 .. D2 09:00 with a 2-day TTL can read partitions D0 (>= D1 - 2d) .. D2
    assert [p["partition"] for p in credit["partitions"]] == [f"dt={d}" for d in D[0:3]]
    for p in credit["partitions"]:
        data = settings.features / "customer_credit_daily" / p["partition"] / "data.parquet"
        assert p["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["entities"]["kind"] == "label_table" and manifest["entities"]["excluded_indeterminate"] == 1
    assert manifest["entities"]["excluded_unresolved"] == 1
    assert manifest["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_training_set_errors_are_clear(embedded):
    settings, store = embedded
    ents = pd.DataFrame({"customer_id": ["c1"], "event_timestamp": [pd.Timestamp("2026-01-02", tz="UTC")]})
    with pytest.raises(ConfigError, match="requested_amount"):
        training_set("credit_pd_v1", ents, settings=settings, store=store)
    with pytest.raises(ConfigError, match="unknown feature service 'nope_v9'"):
        training_set("nope_v9", ents, settings=settings, store=store)
    with pytest.raises(ConfigError, match="loan_id"):
        training_set("early_warning_v1", ents, settings=settings, store=store)


def test_materialize_gated_idempotent_and_online_reads(tmp_path):
    """A fresh store per test: materialisation state must not leak between tests. Batches of 2 rows:
    every value below (and the skew check of every entity) also checks that batching loses nothing."""
    from riskpipe.features.store import get_store

    settings = embedded_settings(tmp_path / "data", materialize_batch_rows=2)
    synth.write_all(settings.features, days=D[:3])
    synth.write_partition(settings.features, "customer_fraud_daily", D[3], validated=False)
    store = get_store(settings, apply=True)
    assert store.config.materialization_config.online_write_batch_size == 2

    def vector(cust="c1", amount=2000.0, **context):
        out = online_features("fraud_v1", [synth.fraud_row(cust, amount=amount, request_epoch_s=1767589200, **context)],
                              settings=settings, store=store)
        return {k: v[0] for k, v in out.items()}

    # D3 exists only for customer_fraud_daily and is not validated: nothing is loaded
    r3 = materialize(D[3], settings=settings, store=store)
    assert r3.materialized == []
    assert "not validated" in r3.skipped["customer_fraud_daily"]
    assert "no partition" in r3.skipped["customer_credit_daily"]
    assert materialized_until(store, "customer_fraud_daily") is None

    r2 = materialize(D[2], settings=settings, store=store)
    assert sorted(r2.materialized) == sorted(FEATURE_TABLES)
    assert r2.rows["customer_credit_daily"] == 5 and r2.rows["loan_early_warning_daily"] == 3
    at = synth.ts(D[2], 12)
    v = vector()
    assert assert_row_matches(v, "customer_fraud_daily", "c1", at) == 10
    assert assert_row_matches(v, "customer_graph_daily", "c1", at) == 4
    assert v["amount_to_mean_30d"] == 2000.0 / synth.value("customer_fraud_daily", 4, "double", "c1", D[2])
    assert v["request_hour_utc"] == (1767589200 // 3600) % 24
    # the transaction's context against the stored home country and recent devices
    home = synth.value("customer_fraud_daily", 8, "string", "c1", D[2])
    devices = synth.value("customer_fraud_daily", 9, "string", "c1", D[2])
    assert (v["home_country"], v["recent_devices_30d"]) == (home, devices)
    assert (v["is_ecom"], v["is_atm"], v["is_p2p"], v["is_cross_border"], v["is_new_device"]) == (0, 0, 0, 1, 0)
    known = vector(channel="ecom", merchant_country=home, device_id=devices)  # one device: the list is itself
    assert (known["is_ecom"], known["is_cross_border"], known["is_new_device"]) == (1, 0, 0)
    assert vector(channel="atm", device_id="d-never-seen")["is_new_device"] == 1
    unknown_context = vector(channel=None, merchant_country=None)  # an old client: flags missing, not guessed
    assert (unknown_context["is_ecom"], unknown_context["is_cross_border"]) == (None, None)
    # c3 has no amount_mean_30d: the request-time ratio is null, not an error or inf
    assert vector("c3")["amount_to_mean_30d"] is None
    # unknown entity: nulls for every stored and derived-from-stored feature
    unknown = vector("nobody")
    assert all(unknown[n] is None for n in FEATURE_TABLES["customer_fraud_daily"].feature_names)
    assert unknown["amount_to_mean_30d"] is None

    # rerun: same values; an older date does not roll the online store back
    before = vector()
    assert materialize(D[2], settings=settings, store=store).materialized
    assert vector() == before
    r1 = materialize(D[1], settings=settings, store=store)
    assert r1.materialized == [] and all("superseded" in why for why in r1.skipped.values())
    assert vector() == before

    # D3 validated later: now it loads, only that view, and values move to D3
    (FEATURE_TABLES["customer_fraud_daily"].partition(settings.features, D[3]) / VALIDATED_MARKER).write_text("ok")
    r3 = materialize(D[3], settings=settings, store=store)
    assert r3.materialized == ["customer_fraud_daily"]
    assert assert_row_matches(vector(), "customer_fraud_daily", "c1", synth.ts(D[3], 12)) == 10
    assert materialized_until(store, "customer_fraud_daily") > materialized_until(store, "customer_graph_daily")

    # the skew check agrees for every service at materialisation time ...
    for service in ("credit_pd_v1", "fraud_v1", "early_warning_v1"):
        report = check_skew(service, settings=settings, store=store)
        assert report.ok, report.mismatches[:5]
        assert report.entities >= 3 and report.features
    # ... and catches a value that differs from the offline one
    row = synth.partition_frame("customer_graph_daily", D[2]).to_pylist()[0]
    row["component_size"] = 999_999
    store.write_to_online_store("customer_graph_daily", pd.DataFrame([row]))
    report = check_skew("credit_pd_v1", settings=settings, store=store)
    assert not report.ok
    assert {(m["customer_id"], m["feature"]) for m in report.mismatches} == {(row["customer_id"], "component_size")}


def test_custom_validation_gate(tmp_path):
    from riskpipe.features.store import get_store

    settings = embedded_settings(tmp_path / "data")
    synth.write_all(settings.features, days=[D[0]], validated=False)
    store = get_store(settings, apply=True)
    calls = []

    def gate(table, day):
        calls.append((table, day))
        return table == "customer_graph_daily"

    result = materialize(D[0], settings=settings, store=store, is_validated=gate)
    assert result.materialized == ["customer_graph_daily"]
    assert sorted(calls) == sorted((t, D[0]) for t in FEATURE_TABLES)
    assert materialize(D[0], settings=settings, store=store).materialized == []  # markers absent
