"""Outcomes: served decisions joined to matured labels, realised performance, served-vs-offline skew.

Decision logs are written with the serving code's own writer (:class:`riskpipe.models.decisions.DecisionLog`)
from hand-made records; label partitions in the label tables' layout. The skew test uses the synthetic
feature tables of the feature-store tests behind the embedded Feast store (no Spark).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from riskpipe.models.decisions import DecisionLog, to_json
from riskpipe.monitoring import load_monitor_settings
from riskpipe.monitoring import outcomes as O
from riskpipe.settings import load_settings

DAY = dt.date(2026, 2, 3)
AT = dt.datetime(2026, 2, 3, 10, 0, tzinfo=dt.UTC)


def decision(i: int, endpoint: str, request: dict, *, role: str = "champion", version: str = "1",
             p: float = 0.1, band: str = "approve", features: dict | None = None,
             at: dt.datetime = AT) -> dict:
    return {"decision_id": f"{at:%Y%m%d}-{i:032x}", "decided_at": at + dt.timedelta(seconds=i), "role": role,
            "shadow_of": None, "endpoint": endpoint, "model_name": endpoint, "model_version": version,
            "model_run_id": "r", "feature_service": f"{endpoint}_v1", "request_id": None,
            "request": to_json(request), "features": to_json(features or request), "features_missing": [],
            "probability": p, "score": 600 - 100 * p, "band": band, "reason_codes": [], "latency_ms": 1.0}


def write_decisions(root, records: list[dict]) -> None:
    log = DecisionLog(root, flush_seconds=3600)
    for r in records:
        log.append(r)
    log.close()
    assert log.written == len(records) and log.dropped == 0


def write_labels(settings, table: str, rows: list[dict]) -> None:
    df = pd.DataFrame(rows)
    df["feature_ts"] = pd.to_datetime(df["feature_ts"])
    df["label_known_at"] = pd.to_datetime(df["label_known_at"], utc=True)
    for day, part in df.groupby(df["feature_ts"].dt.date):
        path = settings.features / table / f"dt={day.isoformat()}" / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.reset_index(drop=True).to_parquet(path, index=False)


@pytest.fixture
def s(riskpipe_env):
    return load_settings()


def test_join_keeps_every_champion_decision_and_is_idempotent(s) -> None:
    app = lambda a: {"application_id": a, "customer_id": "c1", "requested_amount": 100.0}  # noqa: E731
    write_decisions(s.decisions, [
        decision(1, "credit_pd", app("a-1"), p=0.7, band="decline"),
        decision(2, "credit_pd", app("a-2"), p=0.05),
        decision(3, "credit_pd", app("a-3")),  # no label row yet
        decision(4, "credit_pd", app("a-4")),  # label known only after as_of
        decision(5, "credit_pd", {"customer_id": "c1", "requested_amount": 5.0}),  # no application id
        decision(6, "credit_pd", app("a-1"), role="shadow", version="2"),
    ])
    known = "2026-03-01T00:00:00Z"
    write_labels(s, "label_credit_pd", [
        {"application_id": "a-1", "customer_id": "c1", "feature_ts": "2026-02-03 09:59", "label": 1,
         "label_known_at": known},
        {"application_id": "a-2", "customer_id": "c1", "feature_ts": "2026-02-03 09:58", "label": 0,
         "label_known_at": known},
        {"application_id": "a-4", "customer_id": "c1", "feature_ts": "2026-02-02 09:00", "label": 1,
         "label_known_at": "2026-05-01T00:00:00Z"},
        {"application_id": "a-9", "customer_id": "c9", "feature_ts": "2026-02-02 09:00", "label": 0,
         "label_known_at": known},
    ])
    as_of = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    r = O.join_outcomes(DAY, "credit_pd", s, as_of=as_of)
    assert (r.rows, r.matured, r.pending, r.no_key) == (5, 2, 2, 1)
    assert r.path == s.lake / "outcomes" / "model=credit_pd" / "dt=2026-02-03" / "data.parquet"
    out = pd.read_parquet(r.path).set_index("decision_id")
    assert list(out.index) == sorted(out.index) and (out["model_version"] == "1").all()  # no shadow row
    by_entity = out.set_index("entity_id", drop=False)
    assert by_entity.loc["a-1", "label"] == 1 and by_entity.loc["a-1", "status"] == "matured"
    assert by_entity.loc["a-1", "probability"] == 0.7 and by_entity.loc["a-1", "band"] == "decline"
    assert by_entity.loc["a-2", "label"] == 0
    assert by_entity.loc["a-1", "label_known_at"] == pd.Timestamp(known)
    assert set(by_entity.loc[["a-3", "a-4"], "status"]) == {"pending"}
    assert by_entity.loc[["a-3", "a-4"], "label"].isna().all()
    assert out["entity_id"].isna().sum() == 1 and (out.loc[out["entity_id"].isna(), "status"] == "no_key").all()
    first = r.path.read_bytes()
    again = O.join_outcomes(DAY, "credit_pd", s, as_of=as_of)
    assert again.path.read_bytes() == first
    assert [p.name for p in r.path.parent.iterdir()] == ["data.parquet"]  # nothing left behind
    # later, a-4's label is known: joined on the next run
    assert O.join_outcomes(DAY, "credit_pd", s).matured == 3

    with pytest.raises(O.OutcomesError, match="no champion decisions of 'credit_pd' on 2026-02-04"):
        O.join_outcomes(DAY + dt.timedelta(days=1), "credit_pd", s)
    write_labels(s, "label_credit_pd", [  # the same application labelled twice: refused, not guessed
        {"application_id": "a-1", "customer_id": "c1", "feature_ts": "2026-02-05 09:00", "label": 0,
         "label_known_at": known}])
    with pytest.raises(O.OutcomesError, match="label_credit_pd: 2 label rows share .*'a-1'"):
        O.join_outcomes(DAY, "credit_pd", s)


def test_daily_labels_join_on_the_decision_day(s) -> None:
    write_decisions(s.decisions, [decision(1, "early_warning", {"loan_id": "l1", "customer_id": "c1"})])
    write_labels(s, "label_early_warning", [
        {"loan_id": "l1", "customer_id": "c1", "feature_ts": f"2026-02-0{d}", "label": int(d == 3),
         "label_known_at": "2026-03-10T00:00:00Z"} for d in (2, 3, 4)])
    r = O.join_outcomes(DAY, "early_warning", s)
    row = pd.read_parquet(r.path).iloc[0]
    assert r.matured == 1 and row["label"] == 1 and row["label_feature_ts"] == pd.Timestamp("2026-02-03", tz="UTC")

    # what the monitoring DAG runs for a later date: decision days re-joined with the labels known by then
    before, after = O.refresh_outcomes("2026-03-08", s), O.refresh_outcomes("2026-03-09", s)
    assert [(x.day, x.matured, x.pending, x.skew) for x in before] == [(DAY, 0, 1, None)]
    assert [(x.day, x.matured, x.pending) for x in after] == [(DAY, 1, 0)]

    from typer.testing import CliRunner

    from riskpipe.cli import app

    res = CliRunner().invoke(app, ["outcomes", "--date", "2026-02-03", "--no-skew", "--json"])
    assert res.exit_code == 0, res.output
    assert [(o["model"], o["matured"], o["pending"]) for o in json.loads(res.output[res.output.index("["):])] == [
        ("early_warning", 1, 0)]
    early = CliRunner().invoke(app, ["outcomes", "--date", "2026-02-03", "--as-of", "2026-03-08", "--no-skew"])
    assert early.exit_code == 0 and "0 matured, 1 pending" in early.output
    none = CliRunner().invoke(app, ["outcomes", "--date", "2026-02-09"])
    assert isinstance(none.exception, O.OutcomesError) and "no decisions logged on 2026-02-09" in str(none.exception)


def test_refresh_keeps_settled_days_and_rejoins_what_can_change(s) -> None:
    """The daily refresh re-joins only the decision days whose outcomes can still change: a day with
    nothing pending stays as written until one of its label partitions is rebuilt or an earlier date is
    refreshed; the kept and the re-joined partitions equal a join from scratch."""
    d1, d2 = dt.date(2026, 2, 3), dt.date(2026, 2, 5)
    app = lambda a: {"application_id": a, "customer_id": "c1", "requested_amount": 1.0}  # noqa: E731
    at1, at2 = (dt.datetime.combine(d, dt.time(10), tzinfo=dt.UTC) for d in (d1, d2))
    write_decisions(s.decisions, [decision(1, "credit_pd", app("a-1"), at=at1),
                                  decision(2, "credit_pd", app("a-2"), at=at1),
                                  decision(3, "credit_pd", app("b-1"), at=at2),
                                  decision(4, "credit_pd", app("b-2"), at=at2)])
    row = lambda a, ts, y, known: {"application_id": a, "customer_id": "c1", "feature_ts": ts,  # noqa: E731
                                   "label": y, "label_known_at": known}
    write_labels(s, "label_credit_pd", [
        row("a-1", "2026-02-03 09:00", 1, "2026-02-05T06:00:00Z"), row("a-2", "2026-02-03 09:30", 0, "2026-02-05T06:00:00Z"),
        row("b-1", "2026-02-05 09:00", 0, "2026-02-06T06:00:00Z"), row("b-2", "2026-02-05 09:30", 1, "2026-02-08T06:00:00Z")])
    p1 = O.partition_dir(s, "credit_pd", d1) / "data.parquet"

    def refresh(day: str) -> dict:
        return {x.day: (x.rejoined, x.matured, x.pending) for x in O.refresh_outcomes(day, s)}

    assert refresh("2026-02-06") == {d1: (True, 2, 0), d2: (True, 1, 1)}
    stamp, first = p1.stat().st_mtime_ns, p1.read_bytes()
    # d1 is settled: kept as written (the file untouched); d2 had a pending outcome: joined again
    assert refresh("2026-02-07") == {d1: (False, 2, 0), d2: (True, 1, 1)}
    assert p1.stat().st_mtime_ns == stamp
    assert refresh("2026-02-08") == {d1: (False, 2, 0), d2: (True, 2, 0)}
    settled_d2 = (O.partition_dir(s, "credit_pd", d2) / "data.parquet").read_bytes()
    assert refresh("2026-02-09") == {d1: (False, 2, 0), d2: (False, 2, 0)}
    # what was kept equals a join from scratch with the same as_of, and so does the last re-join
    assert O.join_outcomes(d2, "credit_pd", s, as_of=O.end_of(dt.date(2026, 2, 8))).path.read_bytes() == settled_d2
    fresh = O.join_outcomes(d1, "credit_pd", s, as_of=O.end_of(dt.date(2026, 2, 6)))
    assert fresh.path.read_bytes() == first

    # an earlier date: with the labels known by then (none of d1's yet), d1 is joined again, not kept
    assert refresh("2026-02-04") == {d1: (True, 0, 2)}
    assert refresh("2026-02-09") == {d1: (True, 2, 0), d2: (False, 2, 0)}
    # d1's label partition rebuilt with a corrected label: d1 is joined again and shows it; d2 is kept
    write_labels(s, "label_credit_pd", [row("a-1", "2026-02-03 09:00", 0, "2026-02-05T06:00:00Z"),
                                        row("a-2", "2026-02-03 09:30", 0, "2026-02-05T06:00:00Z")])
    assert refresh("2026-02-09") == {d1: (True, 2, 0), d2: (False, 2, 0)}
    assert pd.read_parquet(p1)["label"].tolist() == [0, 0]


def outcomes_frame(n: int = 600, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.6, n)
    y = (rng.random(n) < p).astype(int)
    status = np.where(rng.random(n) < 0.1, "pending", "matured")
    return pd.DataFrame({"model_name": "credit_pd", "model_version": np.where(np.arange(n) % 3 == 0, "2", "1"),
                         "probability": p, "band": np.where(p < 0.2, "approve", np.where(p < 0.4, "refer", "decline")),
                         "status": status, "label": pd.array(np.where(status == "matured", y, None), dtype="Int64")})


def test_realised_performance_equals_sklearn() -> None:
    from scipy.stats import ks_2samp
    from sklearn.metrics import roc_auc_score

    out = outcomes_frame()
    perf = O.realised_performance(out).set_index("model_version")
    for v in ("1", "2"):
        g = out[(out["model_version"] == v) & (out["status"] == "matured")]
        y, p = g["label"].astype(int).to_numpy(), g["probability"].to_numpy()
        r = perf.loc[v]
        assert r["matured"] == len(g) and r["decisions"] == (out["model_version"] == v).sum()
        assert r["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert r["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1, abs=1e-12)
        assert r["ks"] == pytest.approx(ks_2samp(p[y == 1], p[y == 0]).statistic, abs=1e-12)
        assert r["bad_rate"] == pytest.approx(y.mean())
    cal = O.calibration_by_grade(out, bins=10)
    one = cal[(cal["model_version"] == "1")]
    grades, bands = one[one["grading"] == "score_grade"], one[one["grading"] == "band"].set_index("grade")
    g1 = out[(out["model_version"] == "1") & (out["status"] == "matured")]
    assert len(grades) == 10 and grades["rows"].sum() == len(g1)
    assert list(grades["mean_predicted"]) == sorted(grades["mean_predicted"])  # grade 1 = lowest risk
    for band, g in g1.groupby("band"):
        assert bands.loc[band, "rows"] == len(g)
        assert bands.loc[band, "observed"] == pytest.approx(g["label"].astype(float).mean())
        assert bands.loc[band, "gap"] == pytest.approx(abs(g["probability"].mean() - g["label"].astype(float).mean()))
    by_band = O.bad_rate_by_band(out)
    assert by_band["rows"].sum() == (out["status"] == "matured").sum()


def test_thresholds_from_configuration_raise_alerts(monkeypatch) -> None:
    out = outcomes_frame(20_000)  # >= 1,000 rows per grade: sampling noise well under the 0.05 gap
    perf, calib = O.realised_performance(out), O.calibration_by_grade(out)
    ms = load_monitor_settings()
    no_skew = pd.DataFrame(columns=[c for c in O.SKEW_COLUMNS if c != "decision_day"])
    assert O.outcome_alerts(DAY, perf, calib, no_skew, ms).empty  # a well calibrated, informative model
    monkeypatch.setenv("RISKPIPE_MONITOR_MIN_KS", "0.9")
    strict = load_monitor_settings()
    a = O.outcome_alerts(DAY, perf, calib, no_skew, strict)
    assert sorted(a["subject"]) == ["credit_pd v1", "credit_pd v2"] and set(a["metric"]) == {"ks"}
    assert (a["threshold"] == 0.9).all() and (a["value"] < 0.9).all()
    shifted = out.assign(probability=out["probability"] + 0.3)  # over-predicts by 0.3 everywhere
    a = O.outcome_alerts(DAY, perf, O.calibration_by_grade(shifted), no_skew, ms)
    assert (a["kind"] == "calibration").sum() > 0 and (a["value"] > ms.max_calibration_gap).all()


def test_skew_is_zero_on_served_equal_offline_and_finds_an_injected_mismatch(tmp_path) -> None:
    from riskpipe.features.store import get_store
    from riskpipe.features.training import build_training_set
    from tests.features import synth
    from tests.features.conftest import embedded_settings

    s = embedded_settings(tmp_path / "data")
    synth.write_all(s.features)
    store = get_store(s, apply=True)
    at = pd.Timestamp(synth.ts(synth.DAYS[3], 12), tz="UTC")
    ents = pd.DataFrame({"customer_id": synth.CUSTOMERS, "requested_amount": [100.0, 250.0, 40.0, 900.0],
                         "event_timestamp": at})
    offline = build_training_set("credit_pd_v1", ents, settings=s, store=store).frame
    served = [row.drop("event_timestamp").to_dict() for _, row in offline.iterrows()]  # what serving logs
    served[2] = {**served[2], "bureau_score": served[2]["bureau_score"] + 7}  # the online store was off for c3
    write_decisions(s.decisions, [
        decision(i, "credit_pd", {"application_id": f"a-{i}", "customer_id": f["customer_id"],
                                  "requested_amount": f["requested_amount"]}, features=f, at=at.to_pydatetime())
        for i, f in enumerate(served)])
    # decided_at is `at` + i seconds: still after D3's rows, before D4's, so offline = served
    r = O.join_outcomes(synth.DAYS[3], "credit_pd", s, skew=True, store=store)
    skew = pd.read_parquet(r.skew_path).set_index("feature")
    assert skew.loc["bureau_score", "mismatches"] == 1 and skew.loc["bureau_score", "rows_compared"] == 4
    assert skew.loc["bureau_score", "mismatch_share"] == 0.25 and skew.loc["bureau_score", "max_abs_diff"] == 7
    assert skew.loc["bureau_score", "status"] == "alert"
    others = skew.drop(index="bureau_score")
    assert len(others) >= 5 and (others["mismatches"] == 0).all() and (others["status"] == "ok").all()
    assert {"requested_to_income", "region"} <= set(others.index)  # on-demand and string features compared
    alerts = O.outcome_facts(synth.DAYS[3], s).alerts
    assert list(alerts.loc[alerts["kind"] == "feature_skew", "subject"]) == ["credit_pd.bureau_score"]


# ---- vintage and segment monitoring, the report ----------------------------------------------------------
SEG_DAY = dt.date(2026, 3, 10)
REF = (SEG_DAY - dt.timedelta(days=3), SEG_DAY - dt.timedelta(days=1))


def segment_world(s, n: int = 400) -> None:
    """customer_credit_daily over REF and SEG_DAY (south's bureau_score shifts on SEG_DAY) and credit_pd
    decisions on REF's last day and SEG_DAY (north's served probabilities shift on SEG_DAY)."""
    from tests.monitoring.test_metrics import write_table

    rng = np.random.default_rng(3)
    region = np.array(["north", "south"] * (n // 2))
    for k in range(3, -1, -1):
        day = SEG_DAY - dt.timedelta(days=k)
        score = rng.normal(600, 50, n) + np.where((region == "south") & (k == 0), 80, 0)
        write_table(s, "customer_credit_daily", day, {"region": region, "bureau_score": score.astype(int)}, n)
    records = []
    for k in (1, 0):
        at = dt.datetime.combine(SEG_DAY - dt.timedelta(days=k), dt.time(9), tzinfo=dt.UTC)
        true_p = rng.uniform(0.01, 0.5, n)
        p = true_p + np.where((region == "north") & (k == 0), 0.4, 0)  # served PDs too high, defaults not
        y = (rng.random(n) < true_p).astype(int)
        band = np.where(p < 0.3, "approve", np.where(p < 0.6, "refer", "decline"))
        records += [decision(1000 * k + i, "credit_pd", {"application_id": f"a{k}-{i}", "customer_id": f"c{i}",
                                                          "requested_amount": 10.0}, p=float(p[i]), at=at,
                             band=str(band[i]),
                             features={"customer_id": f"c{i}", "region": str(region[i])}) for i in range(n)]
        if k == 0:  # the outcomes of SEG_DAY's decisions, all known
            write_labels(s, "label_credit_pd", [
                {"application_id": f"a0-{i}", "customer_id": f"c{i}", "feature_ts": str(at)[:19], "label": int(y[i]),
                 "label_known_at": "2026-03-11T00:00:00Z"} for i in range(n)])
    write_decisions(s.decisions, records)


def test_segment_psi_csi_and_vintage_thresholds(s, monkeypatch) -> None:
    from riskpipe.monitoring import metrics as M

    segment_world(s)
    ms = load_monitor_settings()
    seg = M.segment_drift(SEG_DAY, s, ms, REF)
    status = {(r.kind, r.subject, r.segment): r.status for r in seg.itertuples()}
    assert status[("feature_csi", "customer_credit_daily.bureau_score", "south")] == "alert"
    assert status[("feature_csi", "customer_credit_daily.bureau_score", "north")] == "ok"
    assert status[("score_psi", "credit_pd", "north")] == "alert" and status[("score_psi", "credit_pd", "south")] == "ok"
    assert sorted(k for k, v in status.items() if v == "alert") == [
        ("feature_csi", "customer_credit_daily.bureau_score", "south"), ("score_psi", "credit_pd", "north")]
    alerts = M.day_tables(SEG_DAY, s, ms, REF).alerts
    seg_alerts = alerts[alerts["kind"] == "segment_drift"]
    assert sorted(seg_alerts["subject"]) == ["credit_pd[region=north]", "customer_credit_daily.bureau_score[region=south]"]
    assert (seg_alerts["threshold"] == ms.max_segment_psi).all()
    assert sorted(a["subject"] for a in M.drift_alerts(SEG_DAY, s, ms, REF) if a["kind"] == "segment_drift") == sorted(
        seg_alerts["subject"])  # what the monitoring DAG records
    monkeypatch.setenv("RISKPIPE_MONITOR_MAX_SEGMENT_PSI", "50")  # a threshold nothing reaches
    assert (M.segment_drift(SEG_DAY, s, load_monitor_settings(), REF)["status"] != "alert").all()

    # vintage: scores of two months, the newer one half labelled yet
    lab = pd.DataFrame({"txn_id": [f"t{i}" for i in range(6)], "customer_id": "c",
                        "feature_ts": pd.to_datetime(["2026-01-05"] * 4 + ["2026-02-03"] * 2),
                        "label": [0, 1, 0, 1, 0, 1]})
    scores = pd.DataFrame({"txn_id": [f"t{i}" for i in range(8)], "probability": [0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.5, 0.5],
                           "feature_ts": pd.to_datetime(["2026-01-05"] * 4 + ["2026-02-03"] * 4)})
    v = M.vintage_performance(scores, {"label_fraud": lab}).set_index("vintage")
    assert v.loc["2026-01", ["rows", "labelled", "maturity_share", "gini"]].tolist() == [4, 4, 1.0, 1.0]
    assert v.loc["2026-02", ["rows", "labelled", "maturity_share", "gini"]].tolist() == [4, 2, 0.5, -1.0]
    low = O.discrimination_alerts(SEG_DAY, v.reset_index(), load_monitor_settings(min_rows=2), "vintage_performance",
                                  lambda r: f"{r['label_table']} {r['vintage']}", "labelled")
    assert sorted((a["subject"], a["metric"]) for a in low) == [("label_fraud 2026-02", "gini"),
                                                               ("label_fraud 2026-02", "ks")]


def test_report_outcomes_section_renders(s, tmp_path) -> None:
    from riskpipe.monitoring.report import build_report
    from tests.monitoring.cdp import headless_chromium

    segment_world(s)
    r = O.join_outcomes(SEG_DAY, "credit_pd", s)
    assert r.matured == 400
    out = tmp_path / "report.html"
    res = build_report(SEG_DAY, s, out=out, reference=REF)
    assert res.sections["outcomes"]
    assert {"segment_drift", "calibration"} <= {a["kind"] for a in res.alerts}
    decline = [a for a in res.alerts if a["subject"] == "credit_pd v1 band decline"]  # only north's raised PDs
    assert len(decline) == 1 and decline[0]["value"] > 0.3
    with headless_chromium() as open_page:
        page = open_page(out.as_uri())
        assert page.errors() == []
        imgs = page.evaluate("[...document.querySelectorAll('#outcomes img')].map(i => [i.complete, i.naturalWidth])")
        assert len(imgs) == 2 and all(done and w > 0 for done, w in imgs), imgs
        heads = page.evaluate("[...document.querySelectorAll('#outcomes h3')].map(h => h.textContent)")
        assert heads == ["Realised performance", "Bad rate by band", "Calibration by grade",
                         "Served vs offline features", "PSI / CSI by region"]
        text = page.evaluate("document.querySelector('#outcomes').innerText")
        assert "credit_pd" in text and "score_psi" in text and "feature_csi" in text


def test_monitoring_dag_task_joins_up_to_its_date_and_records_alerts(s) -> None:
    from riskpipe.orchestration.alerts import read_alerts
    from riskpipe.orchestration.monitoring import join_outcomes

    segment_world(s)
    res = join_outcomes(SEG_DAY.isoformat())  # landing day 03-10 completes feature date 03-11
    assert res["day"] == "2026-03-11"
    assert sorted((p["day"], p["matured"], p["pending"]) for p in res["partitions"]) == [
        ("2026-03-09", 0, 400), ("2026-03-10", 400, 0)]  # only SEG_DAY's decisions have labels
    recorded = [a for a in read_alerts() if a.get("layer") == "outcomes"]
    assert res["alerts"] >= 1 and len(recorded) == res["alerts"] and {a["dataset"] for a in recorded} == {"credit_pd"}
    assert "credit_pd v1 band decline" in {a["subject"] for a in recorded if a["kind"] == "calibration"}


def test_served_rows_of_daily_labels_take_that_days_decision(s) -> None:
    """The served population of a daily label table (early_warning: one observation per loan and day):
    each day's label row gets that day's first decision as its point in time, within the lag."""
    from riskpipe.models.flows import MODEL_SPECS, served_rows

    at = lambda day, hour: dt.datetime(2026, 2, day, hour, tzinfo=dt.UTC)  # noqa: E731
    loan = lambda i: {"loan_id": i, "customer_id": "c1"}  # noqa: E731
    write_decisions(s.decisions, [decision(1, "early_warning", loan("l1"), at=at(3, 10)),
                                  decision(2, "early_warning", loan("l1"), at=at(3, 11)),  # later: not the one
                                  decision(3, "early_warning", loan("l1"), at=at(4, 9)),
                                  decision(4, "early_warning", loan("l2"), at=at(3, 20)),  # beyond the lag
                                  decision(5, "early_warning", loan("l3"), at=at(3, 8), role="shadow")])
    rows = [{"loan_id": i, "customer_id": "c1", "feature_ts": f"2026-02-0{d}", "label": int(d == 3),
             "label_known_at": "2026-03-10T00:00:00Z"} for i, d in (("l1", 2), ("l1", 3), ("l1", 4), ("l2", 3),
                                                                    ("l3", 3))]
    write_labels(s, "label_early_warning", rows)
    for d in O.decision_days(s, "early_warning"):
        O.join_outcomes(d, "early_warning", s)
    labels = pd.DataFrame(rows).assign(feature_ts=lambda d: pd.to_datetime(d["feature_ts"], utc=True))
    served, counts = served_rows(MODEL_SPECS["early_warning"], labels, s, dt.timedelta(hours=12))
    sec = pd.Timedelta(seconds=1)  # decision(i, ...) is made i seconds after its `at`
    assert [(r.loan_id, r.feature_ts, r.label) for r in served.itertuples()] == [
        ("l1", pd.Timestamp(at(3, 10)) + sec, 1), ("l1", pd.Timestamp(at(4, 9)) + 3 * sec, 0)]
    assert counts == {"label_rows": 5, "served": 2, "not_served": 3, "decision_outside_window": 1,
                      "decisions_read": 4}  # l3's only decision was a shadow's: never served
    assert "request_epoch_s" not in served.columns  # only fraud's request time is the event's
    # as of the morning of the 4th, the decision of the 4th had not been made yet
    early, counts = served_rows(MODEL_SPECS["early_warning"], labels, s, dt.timedelta(hours=12), at(4, 6))
    assert early["loan_id"].tolist() == ["l1"] and counts["decisions_read"] == 3
