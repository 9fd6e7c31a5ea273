"""The report on a small real world (generated, ingested, indicators, graph, one GX validation), checked
against the ingest results and rendered in a real headless chromium."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from riskpipe.monitoring import metrics as M
from tests.monitoring.cdp import headless_chromium
from tests.monitoring.conftest import REF_DAY, REPORT_DAY

pytestmark = pytest.mark.slow

COUNTS = ["rows_read", "rows_written", "rows_quarantined", "duplicates_dropped"]


def test_volumes_equal_ingest_counts(report_world) -> None:
    s, results = report_world.settings, report_world.ingest.results
    v = M.volumes(s)
    assert len(v) == len(results)
    expected = pd.DataFrame([{"dataset": r.dataset, **{c: getattr(r, c) for c in COUNTS}} for r in results.values()])
    got = v.groupby("dataset")[COUNTS].sum().sort_index()
    assert got.to_dict() == expected.groupby("dataset")[COUNTS].sum().sort_index().to_dict()
    # every quarantined record is accounted for by a reason
    q = M.quarantine_reasons(s).groupby("dataset")["rows"].sum()
    for name in q.index:
        want = sum(r.rows_quarantined + r.files_quarantined for r in results.values() if r.dataset == name)
        assert q[name] == want, name
    assert q.sum() > 0  # the generator injects defects


def test_validation_and_drift_on_the_world(report_world) -> None:
    s = report_world.settings
    v = M.validation_results(s)
    assert {(r.dataset, r.day) for r in v.itertuples()} >= set(report_world.validated)
    d = M.feature_drift(REPORT_DAY, s)
    assert set(d["table"]) >= {"customer_credit_daily", "loan_early_warning_daily"}
    assert (d["reference_start"] == REF_DAY).all() and d["current_rows"].min() > 0
    alerts = M.drift_alerts(REPORT_DAY, s)
    flagged = {a["subject"] for a in alerts if a["kind"] == "feature_drift"}
    assert flagged == {f"{r.table}.{r.feature}" for r in d.itertuples() if r.status in ("warn", "alert")}


def test_report_tables_and_rerun(report_world) -> None:
    from riskpipe.monitoring.report import build_report

    s = report_world.settings
    res = build_report(REPORT_DAY, s, scores=report_world.scores)
    assert set(res.tables) == set(M.SCHEMAS)
    frames = {k: pd.read_parquet(p) for k, p in res.tables.items()}
    assert len(frames["feature_drift"]) > 0
    # D's volumes are D's landing runs, exactly as ingested
    day_runs = {r.dataset: r.rows_read for (_, d), r in report_world.ingest.results.items() if d == REPORT_DAY}
    assert dict(zip(frames["volumes"]["dataset"], frames["volumes"]["rows_read"], strict=True)) == day_runs
    again = build_report(REPORT_DAY, s, scores=report_world.scores)
    assert again.tables == res.tables
    for k, p in again.tables.items():
        pd.testing.assert_frame_equal(pd.read_parquet(p), frames[k])
    leftovers = [p for p in (s.lake / "monitoring").rglob("*") if p.is_file() and p.name != "data.parquet"]
    assert leftovers == []
    assert res.sections["volumes"] and res.sections["quarantine"] and res.sections["validation"]
    assert res.sections["drift"] and res.sections["scores"] and res.sections["fraud-rings"]


def test_report_renders_in_headless_chromium(report_world, artifacts, tmp_path) -> None:
    from riskpipe.monitoring.report import SECTIONS, build_report

    s = report_world.settings
    out = tmp_path / "report.html"
    res = build_report(REPORT_DAY, s, scores=report_world.scores, out=out)
    page_text = out.read_text()
    assert "<script" not in page_text and "https://" not in page_text and "http://" not in page_text
    (artifacts / f"risk_report_{REPORT_DAY}.html").write_text(page_text)
    with headless_chromium() as open_page:
        page = open_page(out.as_uri())
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith(("file:", "data:"))] == []
        imgs = page.evaluate("[...document.images].map(i => [i.closest('section').id, i.complete, i.naturalWidth])")
        assert len(imgs) >= 5, imgs
        assert all(done and width > 0 for _, done, width in imgs), imgs
        ids = page.evaluate("[...document.querySelectorAll('section')].map(s => s.id)")
        assert ids == [sid for sid, _ in SECTIONS]
        titles = page.evaluate("[...document.querySelectorAll('section > h2')].map(h => h.textContent)")
        assert titles == [t for _, t in SECTIONS]
        with_plots = {sid for sid, _, _ in imgs}
        assert {"volumes", "quarantine", "drift", "scores", "fraud-rings"} <= with_plots
        # sections without inputs say so instead of failing
        nodata = page.evaluate("[...document.querySelectorAll('section .nodata')].map(p => p.closest('section').id)")
        assert set(nodata) == {k for k, v in res.sections.items() if not v}
        # alerts: one summary row per subject, every alert in a collapsed table
        if res.alerts:
            counts = page.evaluate("[...document.querySelectorAll('#alerts table')].map(t => t.tBodies[0].rows.length)")
            assert len(counts) == 2 and counts[1] == len(res.alerts) and 0 < counts[0] <= counts[1]
            assert page.evaluate("document.querySelector('#alerts details').open") is False
        shot = page.screenshot(artifacts / f"risk_report_{REPORT_DAY}.png")
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_cli(report_world, monkeypatch) -> None:
    from typer.testing import CliRunner

    from riskpipe.cli import app
    from riskpipe.settings import reset_settings

    s = report_world.settings
    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("RISKPIPE_MONITOR_PSI_WARN", "0.0001")  # every judged feature breaches
    reset_settings()
    try:
        out = s.data_dir / "reports" / "cli.html"
        res = CliRunner().invoke(app, ["report", "--date", REPORT_DAY.isoformat(), "--out", str(out),
                                       "--reference-start", str(REF_DAY), "--reference-end", str(REF_DAY),
                                       "--scores", str(report_world.scores)])
        assert res.exit_code == 0, res.output
        assert out.is_file() and "report written to" in res.output
        alerts = pd.read_parquet(M.table_path(s, "alerts", REPORT_DAY))
        assert (alerts["kind"] == "feature_drift").sum() > 0
        html = out.read_text()
        assert 'class="warn"' in html or 'class="alert"' in html
        wrong = CliRunner().invoke(app, ["report", "--date", str(REPORT_DAY), "--reference-start", str(REF_DAY)])
        assert wrong.exit_code != 0
    finally:
        reset_settings()
    assert dt.date.fromisoformat(str(alerts["day"].iloc[0])) == REPORT_DAY


def test_alert_summary_groups_segments_of_one_subject() -> None:
    from riskpipe.monitoring.metrics import _frame
    from riskpipe.monitoring.report import group_alerts

    day = dt.date(2026, 1, 8)
    seg = lambda region, v: {"day": day, "kind": "segment_drift", "severity": "warning",  # noqa: E731
                             "subject": f"customer_credit_daily.bureau_score[region={region}]", "metric": "csi",
                             "value": v, "threshold": 0.25, "message": "m"}
    rows = [seg("north", 0.3), seg("south", 0.9), seg("east", 0.4),
            {**seg("north", 0.5), "subject": "scores.credit_pd[region=north]", "metric": "score_psi"},
            {"day": day, "kind": "feature_drift", "severity": "critical", "subject": "customer_credit_daily.dpd_current",
             "metric": "psi", "value": 0.31, "threshold": 0.25, "message": "m"},
            {"day": day, "kind": "stale_data", "severity": "warning", "subject": "silver/bureau", "metric": "age_hours",
             "value": float("nan"), "threshold": 36.0, "message": "m"}]
    g = group_alerts(_frame("alerts", rows))
    assert g[["kind", "subject", "alerts"]].values.tolist() == [
        ["feature_drift", "customer_credit_daily.dpd_current", 1],  # critical first
        ["segment_drift", "customer_credit_daily.bureau_score", 3],  # then the most alerts
        ["segment_drift", "scores.credit_pd", 1],
        ["stale_data", "silver/bureau", 1]]
    top = g.iloc[1]
    assert top["segments"] == "region=east, region=north, region=south" and top["worst_value"] == 0.9
    assert g["alerts"].sum() == len(rows) and g.iloc[3]["segments"] == "" and np.isnan(g.iloc[3]["worst_value"])


def test_pipeline_alerts_of_the_day_are_in_the_report(report_world, monkeypatch, tmp_path) -> None:
    """The DAGs' own alerts (failed tasks, retries, missed deadlines, held-back labels) of the report's
    feature date are shown; those of other days, and the kinds the report computes itself, are not."""
    from riskpipe.monitoring.report import build_report, pipeline_alerts
    from riskpipe.orchestration.alerts import ALERTS_FILE, raise_alert
    from riskpipe.settings import reset_settings

    s = report_world.settings
    path = s.runs / ALERTS_FILE
    monkeypatch.setenv("RISKPIPE_DATA_DIR", str(s.data_dir))
    reset_settings()
    landing = REPORT_DAY - dt.timedelta(days=1)
    assert not path.exists()  # the report world ran no DAG: every alert below is this test's
    try:
        raise_alert("labels_held_back", "held back for the report day", severity="warning",
                    feature_date=REPORT_DAY, unpublished={"repayments": [str(landing)]})
        raise_alert("task_failed", "ingest failed for the landing day", dag_id="risk_daily",
                    task_id="ingest_repayments", try_number=3,
                    logical_date=dt.datetime.combine(landing, dt.time(), dt.UTC))
        raise_alert("task_failed", "a failure of another day", dag_id="risk_daily", task_id="materialize",
                    logical_date=dt.datetime.combine(REPORT_DAY, dt.time(), dt.UTC))
        raise_alert("stale_data", "drift checks' own kind", severity="warning", day=REPORT_DAY)
        with path.open("a") as fh:
            fh.write('{"kind": "task_failed", "torn')  # a writer killed mid-line
        got = pipeline_alerts(REPORT_DAY, s)
        assert got["message"].tolist() == ["held back for the report day", "ingest failed for the landing day"]
        assert got[["severity", "task_id"]].fillna("").values.tolist() == [["warning", ""],
                                                                          ["error", "ingest_repayments"]]
        res = build_report(REPORT_DAY, s, out=tmp_path / "r.html", write_tables=False)
        page = (tmp_path / "r.html").read_text()
        section = page.split('<section id="pipeline">', 1)[1].split("</section>", 1)[0]
        assert res.sections["pipeline"] and "ingest failed for the landing day" in section
        assert "held back for the report day" in section and "another day" not in section
        assert '1 error</span>' in section and "1 warning</span>" in section
    finally:
        path.unlink(missing_ok=True)
        reset_settings()
    res = build_report(REPORT_DAY, s, out=tmp_path / "none.html", write_tables=False)
    assert not res.sections["pipeline"] and "No data yet" in (tmp_path / "none.html").read_text().split(
        '<section id="pipeline">', 1)[1].split("</section>", 1)[0]
