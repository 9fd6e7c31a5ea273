"""Monitoring computations on small synthetic lakes (no Spark): PSI, drift alerts, tables, rules."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskpipe.errors import ConfigError
from riskpipe.features.tables import FEATURE_TABLES, arrow_schema
from riskpipe.models.evaluate import psi
from riskpipe.monitoring import drift_alerts, load_monitor_settings
from riskpipe.monitoring import metrics as M
from riskpipe.settings import load_settings

D = dt.date(2026, 3, 10)
FRAUD = "customer_fraud_daily"


def write_table(settings, table: str, day: dt.date, columns: dict[str, np.ndarray], n: int) -> None:
    """A partition of ``table`` in the contract's schema: given columns, the rest zero/empty."""
    spec = FEATURE_TABLES[table]
    data = {}
    for name, kind in spec.columns():
        if name in columns:
            data[name] = columns[name]
        elif kind == "string":
            data[name] = [f"{name}-{i}" for i in range(n)]
        elif kind == "timestamp":
            data[name] = [dt.datetime(day.year, day.month, day.day)] * n
        else:
            data[name] = np.zeros(n, dtype="int64" if kind in ("int", "long") else float)
    schema = arrow_schema(spec)
    t = pa.Table.from_pydict({k: pa.array(v).cast(schema.field(k).type) for k, v in data.items()}, schema=schema)
    path = settings.features / table / f"dt={day.isoformat()}" / "data.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t, path)


def fraud_world(settings, shift: float = 0.0, n: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """Reference days D-5..D-1 and day D of customer_fraud_daily; D's txn_amount_24h shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    ref_amount = []
    for k in range(5, 0, -1):
        amount = rng.normal(100, 20, n)
        ref_amount.append(amount)
        write_table(settings, FRAUD, D - dt.timedelta(days=k), {
            "txn_amount_24h": amount, "amount_mean_30d": rng.normal(50, 5, n),
            "txn_count_24h": rng.poisson(3, n)}, n)
    cur = rng.normal(100 + shift, 20, n)
    write_table(settings, FRAUD, D, {"txn_amount_24h": cur, "amount_mean_30d": rng.normal(50, 5, n),
                                     "txn_count_24h": rng.poisson(3, n)}, n)
    return {"ref": np.concatenate(ref_amount), "cur": cur}


@pytest.fixture
def s(riskpipe_env):
    return load_settings()


def test_psi_known_distribution() -> None:
    ref = np.arange(1000, dtype=float)  # deciles 0..99, 100..199, ...
    same = np.arange(1000, dtype=float)[::-1]
    assert psi(ref, same) == pytest.approx(0.0, abs=1e-12)
    lumped = np.tile(np.arange(100, dtype=float), 10)  # everything in the first decile
    eps, de = 1e-4, 0.1
    expected = (1 - de) * np.log(1 / de) + 9 * (eps - de) * np.log(eps / de)
    assert psi(ref, lumped) == pytest.approx(expected, rel=1e-9)


def test_feature_drift_psi_per_feature(s) -> None:
    w = fraud_world(s, shift=20.0)  # one standard deviation
    ms = load_monitor_settings()
    d = M.feature_drift(D, s, ms)
    assert set(d["table"]) == {FRAUD}
    assert set(d["feature"]) == set(M.numeric_features(FRAUD))
    row = d.set_index("feature").loc["txn_amount_24h"]
    assert row["psi"] == pytest.approx(psi(w["ref"], w["cur"]))
    assert row["psi"] >= ms.psi_alert and row["status"] == "alert"
    assert row["reference_start"] == D - dt.timedelta(days=5) and row["reference_end"] == D - dt.timedelta(days=1)
    assert row["reference_rows"] == 10_000 and row["current_rows"] == 2000
    stable = d.set_index("feature").loc[["amount_mean_30d", "txn_count_24h"]]
    assert (stable["psi"] < ms.psi_warn).all() and (stable["status"] == "ok").all()
    # all-zero columns have no spread: PSI 0, never an alert
    assert (d[~d["feature"].isin(["txn_amount_24h", "amount_mean_30d", "txn_count_24h"])]["status"] == "ok").all()


def test_reference_window_is_configurable(s) -> None:
    fraud_world(s, shift=20.0)
    d = M.feature_drift(D, s, load_monitor_settings(reference_days=2))
    assert d["reference_start"].iloc[0] == D - dt.timedelta(days=2)
    given = M.feature_drift(D, s, reference=(D - dt.timedelta(days=5), D - dt.timedelta(days=5)))
    assert given["reference_rows"].iloc[0] == 2000
    # no reference partition in the window: nothing to judge, no rows, no alert
    assert M.feature_drift(D, s, reference=(D - dt.timedelta(days=60), D - dt.timedelta(days=40))).empty


def test_drift_reference_is_the_models_training_window(s, monkeypatch) -> None:
    """RISKPIPE_MONITOR_REFERENCE_MODEL: PSI against the window the model was trained on."""
    from riskpipe.models.train import train_model

    fraud_world(s, shift=20.0)
    rng = np.random.default_rng(1)
    n = 1200
    t = pd.Timestamp(D - dt.timedelta(days=5)) + pd.to_timedelta(rng.integers(0, 4 * 24, n), unit="h")
    x = rng.normal(0, 1, n)
    table = pd.DataFrame({"feature_ts": t, "txn_amount_24h": x,
                          "label": (rng.random(n) < 1 / (1 + np.exp(-(x - 2)))).astype(int)})
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    r = train_model(table, "label", None, "feature_ts", "fraud", oot_from=str(D - dt.timedelta(days=2)),
                    num_boost_round=10, gbm_params={"num_threads": 1}, settings=s)
    start, end = (pd.Timestamp(x).date() for x in r.train_window)
    assert (start, end) == (D - dt.timedelta(days=5), D - dt.timedelta(days=3))
    assert M.training_window("fraud", s) == (start, end)
    ms = load_monitor_settings(reference_model="fraud")
    alerts = [a for a in drift_alerts(D, s, ms) if a["kind"] == "feature_drift"]
    assert alerts and all(f"against {start}..{end}" in a["message"] for a in alerts)
    # a model that was never registered: the 30 days before D, as without the setting (all five
    # reference partitions of the lake, not only the three the model was trained on)
    fallback = [a for a in drift_alerts(D, s, load_monitor_settings(reference_model="nope"))
                if a["kind"] == "feature_drift"]
    assert fallback and all(f"against {D - dt.timedelta(days=5)}..{D - dt.timedelta(days=1)}" in a["message"]
                            for a in fallback)


def test_drift_alert_fires_only_when_shifted(s, tmp_path, monkeypatch) -> None:
    fraud_world(s, shift=0.0)
    drift = [a for a in drift_alerts(D, s) if a["kind"] == "feature_drift"]
    assert drift == []
    fraud_world(s, shift=20.0)
    drift = [a for a in drift_alerts(D, s) if a["kind"] == "feature_drift"]
    assert [(a["subject"], a["severity"]) for a in drift] == [(f"{FRAUD}.txn_amount_24h", "critical")]
    assert drift[0]["value"] >= 0.25 and drift[0]["threshold"] == 0.25
    # thresholds are configuration: RISKPIPE_MONITOR_PSI_ALERT / _PSI_WARN
    monkeypatch.setenv("RISKPIPE_MONITOR_PSI_ALERT", "50")
    monkeypatch.setenv("RISKPIPE_MONITOR_PSI_WARN", "40")
    assert [a for a in drift_alerts(D, s, load_monitor_settings()) if a["kind"] == "feature_drift"] == []
    monkeypatch.setenv("RISKPIPE_MONITOR_PSI_WARN", "0.1")
    warn = [a for a in drift_alerts(D, s, load_monitor_settings()) if a["kind"] == "feature_drift"]
    assert [a["severity"] for a in warn] == ["warning"]


def test_settings_validation(monkeypatch) -> None:
    monkeypatch.setenv("RISKPIPE_MONITOR_PSI_WARN", "0.5")
    monkeypatch.setenv("RISKPIPE_MONITOR_PSI_ALERT", "0.2")
    with pytest.raises(ConfigError, match="PSI_WARN must not exceed"):
        load_monitor_settings()
    monkeypatch.setenv("RISKPIPE_MONITOR_FRESHNESS_HOURS", "-1")
    with pytest.raises(ConfigError, match="RISKPIPE_MONITOR_FRESHNESS_HOURS"):
        load_monitor_settings()


def test_freshness_alerts(s) -> None:
    fraud_world(s)
    fresh = M.freshness(D, s, load_monitor_settings(freshness_hours=30)).set_index("dataset")
    assert not fresh.loc[FRAUD, "stale"] and fresh.loc[FRAUD, "age_hours"] == 0
    assert fresh.loc["customer_credit_daily", "stale"]  # never built
    later = [a for a in drift_alerts(D + dt.timedelta(days=2), s, load_monitor_settings(freshness_hours=30))
             if a["kind"] == "stale_data" and a["subject"] == f"features/{FRAUD}"]
    assert len(later) == 1 and later[0]["value"] == 48.0


def test_volumes_and_quarantine_from_run_metadata(s) -> None:
    from riskpipe.ingest.metadata import write_run

    day = dt.date(2026, 1, 2)
    write_run(s.runs, {"dataset": "applications", "landing_date": day.isoformat(), "run_id": "r1", "rows_read": 10,
                       "rows_written": 7, "rows_quarantined": 2, "duplicates_dropped": 1, "files": [{}, {}],
                       "published": True})
    q = s.quarantine / "applications" / f"dt={day.isoformat()}"
    q.mkdir(parents=True)
    pd.DataFrame({"_source_file": ["f", "f", "g"], "_source_row": [1, 2, None],
                  "reason": ["bad_amount", "bad_amount", "unreadable_file"]}).to_parquet(q / "part-00000.parquet")
    v = M.volumes(s)
    assert v[["dataset", "rows_read", "rows_written", "rows_quarantined", "duplicates_dropped", "files"]].to_dict(
        "records") == [{"dataset": "applications", "rows_read": 10, "rows_written": 7, "rows_quarantined": 2,
                        "duplicates_dropped": 1, "files": 2}]
    assert M.volumes(s, start=day + dt.timedelta(days=1)).empty
    r = M.quarantine_reasons(s)
    assert dict(zip(r["reason"], r["rows"], strict=True)) == {"bad_amount": 2, "unreadable_file": 1}


def test_validation_summaries(s) -> None:
    folder = s.runs / "validate" / "customers" / "dt=2026-01-03"
    folder.mkdir(parents=True)
    (folder / "latest.json").write_text(json.dumps({
        "dataset": "customers", "day": "2026-01-03", "passed": False, "rows": 5, "failed_checks": ["ids_unique"],
        "warning_checks": [], "checks": [
            {"check": "ids_unique", "expectation": "expect_column_values_to_be_unique", "severity": "error",
             "success": False, "column": "customer_id", "unexpected_count": 2},
            {"check": "rows", "expectation": "expect_table_row_count_to_be_between", "severity": "error",
             "success": True}]}))
    v = M.validation_results(s)
    assert v.loc[0, "passed"] == False  # noqa: E712
    assert v.loc[0, "failed_checks"] == "ids_unique" and "customer_id" in v.loc[0, "failures"]
    assert v.loc[0, "checks"] == 2


def test_tables_written_atomically_and_idempotently(s) -> None:
    fraud_world(s, shift=20.0)
    tables = M.day_tables(D, s)
    first = M.write_tables(D, tables, s)
    snap = {k: p.read_bytes() for k, p in first.items()}
    second = M.write_tables(D, M.day_tables(D, s), s)
    assert first == second
    assert {k: p.read_bytes() for k, p in second.items()} == snap
    root = s.lake / "monitoring"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(
        f"{t}/dt={D}/data.parquet" for t in M.SCHEMAS)
    drift = pq.read_table(first["feature_drift"])
    assert drift.schema.field("psi").type == pa.float64() and drift.num_rows == len(M.numeric_features(FRAUD))
    alerts = pd.read_parquet(first["alerts"])
    assert "feature_drift" in set(alerts["kind"])
    # empty inputs still give typed, readable tables
    assert pq.read_table(first["volumes"]).schema.field("rows_read").type == pa.int64()


def test_early_warning_rules_rank_with_reasons(s) -> None:
    n = 4
    write_table(s, "loan_early_warning_daily", D, {
        "loan_id": ["l1", "l2", "l3", "l4"], "customer_id": ["c1", "c2", "c3", "c4"],
        "dpd_current": np.array([0, 45, 10, 0]), "dpd_change_30d": np.array([0, 30, 10, 0]),
        "installments_due": np.array([3, 3, 3, 0]), "paid_ratio": np.array([1.0, 0.3, 0.9, 1.0]),
        "txn_count_30d_change": np.array([0.0, -0.8, 0.0, 0.0]), "login_count_30d_change": np.array([-0.6, 0, 0, 0.0])}, n)
    e = M.early_warning(D, s, top=10)
    assert list(e["loan_id"]) == ["l2", "l3", "l1"]  # l4 triggers no rule
    assert e.loc[0, "risk_points"] == 4 + 2 + 2 + 1
    assert e.loc[0, "reasons"] == "dpd 30+, dpd rising (30d), paid < 80% of due, spending down 50%+ (30d)"
    assert M.early_warning(D + dt.timedelta(days=1), s).empty


def test_fraud_rings_largest_components(s) -> None:
    write_table(s, "customer_graph_daily", D, {
        "customer_id": ["a", "b", "c", "d", "e", "f"], "component_id": ["k1", "k1", "k1", "k2", "k2", "k3"],
        "component_size": np.array([3, 3, 3, 2, 2, 1]), "component_bad_share": np.array([1 / 3] * 3 + [1.0, 1.0, 0.0]),
        "max_customers_per_device": np.array([3, 3, 3, 2, 2, 0])}, 6)
    r = M.fraud_rings(D, s)
    assert list(r["component_id"]) == ["k1", "k2"] and list(r["component_size"]) == [3, 2]
    assert r.loc[1, "component_bad_share"] == 1.0


def test_vintage_performance_and_bands() -> None:
    lab = pd.DataFrame({"txn_id": [f"t{i}" for i in range(8)], "customer_id": "c",
                        "feature_ts": pd.to_datetime(["2026-01-05"] * 4 + ["2026-02-03"] * 4),
                        "label": [0, 0, 1, 1, 0, 1, 0, 1]})
    scores = pd.DataFrame({"txn_id": [f"t{i}" for i in range(8)],
                           "probability": [0.01, 0.1, 0.3, 0.4, 0.5, 0.2, 0.6, 0.1]})
    v = M.vintage_performance(scores, {"label_fraud": lab})
    assert list(v["vintage"]) == ["2026-01", "2026-02"]
    # indeterminate rows (label null, label_status indeterminate) have no outcome: left out, not NaN
    ind = pd.concat([lab, pd.DataFrame({"txn_id": ["t8", "t9"], "customer_id": "c",
                                        "feature_ts": pd.to_datetime(["2026-01-05"] * 2), "label": [None, None]})])
    more = pd.concat([scores, pd.DataFrame({"txn_id": ["t8", "t9"], "probability": [0.9, 0.0]})])
    pd.testing.assert_frame_equal(M.vintage_performance(more, {"label_fraud": ind}), v)
    assert v.loc[0, "auc"] == 1.0 and v.loc[0, "ks"] == 1.0 and v.loc[1, "auc"] == 0.0  # bads scored lower than goods
    summ = M.score_summary(scores).set_index("band")
    assert summ["rows"].to_dict() == {"approve": 1, "refer": 2, "decline": 5}  # 0.2 is decline (>=)


def test_report_on_an_empty_lake_degrades(riskpipe_env) -> None:
    from typer.testing import CliRunner

    from riskpipe.cli import app
    from riskpipe.monitoring.report import SECTIONS

    res = CliRunner().invoke(app, ["report", "--date", "2026-01-08", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("{"):])
    page = (riskpipe_env / "reports" / "risk_report_2026-01-08.html").read_text()
    assert out["report"].endswith("risk_report_2026-01-08.html")
    assert set(out["sections_without_data"]) == {sid for sid, _ in SECTIONS} - {"alerts"}
    assert page.count("No data yet") == len(SECTIONS) - 1
    assert "<script" not in page and "http://" not in page and "https://" not in page
    bad = CliRunner().invoke(app, ["report", "--date", "2026-13-01"])
    assert bad.exit_code != 0


def write_scores(settings, model: str, day: dt.date, p: np.ndarray, version: str = "3") -> None:
    path = settings.lake / "scores" / model / f"dt={day.isoformat()}" / "data.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"txn_id": [f"t{i}" for i in range(len(p))], "probability": p,
                  "model_version": version}).to_parquet(path, index=False)


def test_score_drift_against_the_same_versions_earlier_scores(s) -> None:
    rng = np.random.default_rng(5)
    for back in (3, 2, 1):
        write_scores(s, "fraud", D - dt.timedelta(days=back), rng.beta(2, 20, 800))
    write_scores(s, "fraud", D, rng.beta(2, 20, 800))
    calm = M.score_drift(D, s)
    row = calm.iloc[0]
    assert (row.model, row.model_version, row.reference_rows, row.current_rows) == ("fraud", "3", 2400, 800)
    assert row.status == "ok" and row.psi < 0.1
    assert str(row.reference_start) == str(D - dt.timedelta(days=3))

    write_scores(s, "fraud", D, rng.beta(6, 10, 800))  # the population's scores moved up
    moved = M.score_drift(D, s).iloc[0]
    assert moved.status == "alert" and moved.psi >= 0.25
    alerts = drift_alerts(D, s)
    mine = [a for a in alerts if a["kind"] == "score_drift"]
    assert [(a["subject"], a["severity"]) for a in mine] == [("scores.fraud", "critical")]
    assert "fraud v3 score PSI" in mine[0]["message"]

    # a new champion version scores differently on purpose: earlier versions are no reference
    write_scores(s, "fraud", D, rng.beta(6, 10, 800), version="4")
    other = M.score_drift(D, s).iloc[0]
    assert other.reference_rows == 0 and other.status == "not judged"
    assert not [a for a in drift_alerts(D, s) if a["kind"] == "score_drift"]


def test_alias_history_in_the_report(riskpipe_env, monkeypatch) -> None:
    """Alias moves (who, when, from/to, why, approvals) are queryable and shown in the report, up to its day."""
    from riskpipe.models.registry import append_history, history_path
    from riskpipe.monitoring.report import build_report
    from riskpipe.settings import get_settings

    s = get_settings()
    monkeypatch.setenv("RISKPIPE_USER", "analyst-a")
    append_history({"model_name": "credit_pd", "alias": "champion", "action": "approval_requested",
                    "from_version": "1", "to_version": "1", "candidate_version": "2", "reason": "gate passed"}, s)
    append_history({"model_name": "credit_pd", "alias": "champion", "action": "promote", "from_version": "1",
                    "to_version": "2", "reason": "gate passed; approved by officer-b",
                    "evidence": {"requested_by": "analyst-a", "approved_by": "officer-b"}}, s)
    lines = history_path(s).read_text().splitlines()
    later = json.loads(lines[-1]) | {"when": "2099-01-01T00:00:00+00:00", "reason": "from the future"}
    history_path(s).write_text("\n".join([*lines, json.dumps(later)]) + "\n")
    today = dt.datetime.now(dt.UTC).date()
    h = M.alias_history(s, until=today)
    assert list(h["action"]) == ["promote", "approval_requested"]  # newest first, the future one not yet
    assert (h.iloc[0]["requested_by"], h.iloc[0]["approved_by"]) == ("analyst-a", "officer-b")
    page = build_report(today, settings=s).path.read_text()
    assert "Alias history" in page and "officer-b" in page and "approval_requested" in page
    assert "from the future" not in page


def test_label_status_counts_every_partition_and_the_report_plots_them(s) -> None:
    """Rows per label table, date and status, up to the report day; the report plots them and shows
    the share of rows a quarantined payment holds back (unresolved)."""
    from riskpipe.monitoring.report import sec_labels

    def write(table: str, day: dt.date, statuses: list[str | None], with_status: bool = True) -> None:
        path = s.features / table / f"dt={day.isoformat()}" / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame({"label": [1 if x == "bad" else 0 for x in statuses]})
        if with_status:
            df["label_status"] = statuses
        df.to_parquet(path, index=False)

    d1, d2 = D - dt.timedelta(days=40), D - dt.timedelta(days=39)
    write("label_early_warning", d1, ["bad", "good", "good", "unresolved"])
    write("label_early_warning", d2, ["good", "unresolved", None])
    write("label_credit_pd", d1, ["good", "indeterminate", "bad"], with_status=False)  # built before statuses
    write("label_early_warning", D + dt.timedelta(days=1), ["bad"])  # after the report day
    got = M.label_status(s, None, D)
    want = pd.DataFrame([
        ("label_credit_pd", d1, "unknown", 3),
        ("label_early_warning", d1, "bad", 1), ("label_early_warning", d1, "good", 2),
        ("label_early_warning", d1, "unresolved", 1),
        ("label_early_warning", d2, "good", 1), ("label_early_warning", d2, "unknown", 1),
        ("label_early_warning", d2, "unresolved", 1),
    ], columns=["label_table", "feature_date", "label_status", "rows"])
    key = ["label_table", "feature_date", "label_status"]
    pd.testing.assert_frame_equal(got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True))
    assert M.label_status(s, d2, D)["feature_date"].eq(d2).all()

    class X:
        day, history, labels = D, (D - dt.timedelta(days=30), D), got

    body, ok = sec_labels(X)
    assert ok and body.count("<img") == 1
    # early warning: 2 of 7 rows unresolved
    assert f"{2 / 7:.4g}" in body
    X.labels = got.iloc[0:0]
    body, ok = sec_labels(X)
    assert not ok and "no label partition up to" in body
