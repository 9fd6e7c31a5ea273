"""The model documentation pack: a small early-warning model trained on exactly the early_warning_v1
features, promoted with a second-person approval, documented, and read back in a real headless chromium."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.model.conftest import FAST_GBM, ROUNDS
from tests.model.synth import make_early_warning_table
from tests.monitoring.cdp import headless_chromium

MODEL = "early_warning"


@pytest.fixture(scope="module")
def promoted(model_env):
    """Train, then promote the challenger with approval on (requested by model-tests, approved by a reviewer)."""
    from riskpipe.models.config import get_model_settings
    from riskpipe.models.registry import approve, promote
    from riskpipe.models.train import train_model

    r = train_model(make_early_warning_table(), "label", None, "feature_ts", MODEL,
                    feature_service="early_warning_v1", label_definition="label_early_warning",
                    monotone={"dpd_current": 1}, num_boost_round=ROUNDS, gbm_params=FAST_GBM)
    four_eyes = get_model_settings().model_copy(update={"promote_approval": True})
    assert promote(MODEL, model_settings=four_eyes).action == "pending_approval"
    assert approve(MODEL, approver="second-reviewer").promoted
    return r


def _rows(page, section: str) -> list[dict[str, str]]:
    """The rows of the first data table of a section, as {header: cell text}."""
    return page.evaluate(f"""(() => {{
        const t = document.querySelector('#{section} table:not(.kv)');
        const head = [...t.querySelectorAll('thead th')].map(h => h.textContent);
        return [...t.querySelectorAll('tbody tr')].map(tr =>
            Object.fromEntries([...tr.cells].map((td, i) => [head[i], td.textContent])));
    }})()""")


def _dbt_columns(path: str, model: str) -> dict[str, dict]:
    body = yaml.safe_load(open(path, encoding="utf-8"))
    m = next(m for m in body["models"] if m["name"] == model)
    return {c["name"]: c for c in m["columns"]}


def test_doc_of_the_champion_in_headless_chromium(promoted, tmp_path):
    from mlflow import MlflowClient

    from riskpipe.features.store import load_definitions
    from riskpipe.indicators.build import dbt_project_dir
    from riskpipe.models.docpack import SECTIONS, build_model_doc
    from riskpipe.settings import get_settings

    s = get_settings()
    client = MlflowClient(s.tracking_uri)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    v = str(champion.version)
    assert v == promoted.challenger_version
    auc = client.get_run(champion.run_id).data.metrics["oot_auc"]
    out = tmp_path / "doc.html"
    res = build_model_doc(MODEL, alias="champion", out=out)
    assert res.path == out and res.version == v
    text = out.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text
    service = next(x for x in load_definitions(s).feature_services if x.name == "early_warning_v1")
    expected = {f.name: p.name for p in service.feature_view_projections for f in p.features}
    dbt_root = dbt_project_dir() / "models" / "marts"
    ew = _dbt_columns(dbt_root / "features" / "_features__models.yml", "loan_early_warning_daily")
    cc = _dbt_columns(dbt_root / "features" / "_features__models.yml", "customer_credit_daily")
    label_col = _dbt_columns(dbt_root / "labels" / "_labels__models.yml", "label_early_warning")["label"]

    with headless_chromium() as open_page:
        page = open_page(out.as_uri())
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith(("file:", "data:"))] == []
        assert page.evaluate("[...document.querySelectorAll('section')].map(s => s.id)") == [i for i, _ in SECTIONS]
        assert page.evaluate("[...document.querySelectorAll('section > h2')].map(h => h.textContent)") == \
            [t for _, t in SECTIONS]
        imgs = page.evaluate("[...document.images].map(i => [i.closest('section').id, i.complete, i.naturalWidth])")
        assert all(done and width > 0 for _, done, width in imgs), imgs
        assert {sid for sid, _, _ in imgs} == {"features", "performance", "calibration", "stability"}

        header = page.evaluate("Object.fromEntries([...document.querySelectorAll('#header td')]"
                               ".map(td => [td.dataset.key, td.textContent]))")
        assert header["version"] == v and header["aliases now"] == "champion"
        assert header["MLflow run id"] == champion.run_id
        assert header["feature service"] == "early_warning_v1"
        assert header["data snapshot hash"] == promoted.data_hash
        assert header["training window"] == f"{promoted.train_window[0]} .. {promoted.train_window[1]}"

        shown_auc = page.evaluate("document.querySelector('#performance td[data-metric=oot_auc]').dataset.value")
        assert float(shown_auc) == auc
        assert page.evaluate("document.querySelector('#performance td[data-metric=oot_auc]').textContent") == \
            f"{auc:.4f}"

        feats = {r["feature"]: r for r in _rows(page, "features")}
        assert set(feats) == set(expected)  # every feature of the service, nothing else
        for f, view in expected.items():
            doc = (ew if view == "loan_early_warning_daily" else cc)[f]["config"]["meta"]
            assert feats[f]["feature_view"] == view
            assert feats[f]["definition"] == doc["definition"] and feats[f]["unit"] == doc["unit"], f
            assert feats[f]["used_by_model"] == "yes"
        assert float(feats["dpd_current"]["importance"]) > 0

        lineage = _rows(page, "lineage")
        assert {r["feature_table"] for r in lineage} == {"loan_early_warning_daily", "customer_credit_daily"}
        repay = next(r for r in lineage if r["silver_dataset"] == "repayments")
        assert repay["landing_source"].startswith("landing/repayments/dt=*/")
        assert page.evaluate("document.querySelectorAll('#lineage svg g.node').length") >= 5

        label = page.evaluate("document.querySelector('#label').textContent")
        assert label_col["config"]["meta"]["definition"] in label

        moves = _rows(page, "approvals")
        promote = next(r for r in moves if r["action"] == "promote")
        assert promote["to_version"] == v and promote["approved_by"] == "second-reviewer"
        assert promote["requested_by"] == "model-tests"
        assert any(r["action"] == "approval_requested" for r in moves)
        assert "approved by second-reviewer" in page.evaluate("document.querySelector('#approvals').textContent")

        limits = page.evaluate("[...document.querySelectorAll('#limitations li')].map(li => li.textContent)")
        assert any("out of time" in x for x in limits)
        nodata = page.evaluate("[...document.querySelectorAll('section > .nodata')].map(p => p.closest('section').id)")
        assert nodata == ["validation"]  # no GX summary in this store


def test_validation_summaries_of_the_lineage_in_the_window(promoted, tmp_path):
    """Summaries of the version's feature tables and silver datasets inside its windows are listed;
    other datasets and days are not."""
    from riskpipe.models.docpack import collect, render
    from riskpipe.settings import get_settings

    s = get_settings()
    day = pd.Timestamp(promoted.train_window[0]).date() + pd.Timedelta(days=3)
    written = {("loan_early_warning_daily", day, False), ("repayments", day, True),
               ("customer_fraud_daily", day, True),  # not a table of early_warning_v1
               ("repayments", pd.Timestamp("2031-01-01").date(), True)}  # outside the windows
    for dataset, d, passed in written:
        folder = s.runs / "validate" / dataset / f"dt={d.isoformat()}"
        folder.mkdir(parents=True)
        checks = [{"check": "rows_present", "success": passed, "expectation": "expect_table_row_count_to_be_between",
                   "severity": "critical"}]
        (folder / "latest.json").write_text(json.dumps({
            "dataset": dataset, "passed": passed, "rows": 10, "checks": checks,
            "failed_checks": [] if passed else ["rows_present"], "validated_at": "2026-01-01T00:00:00"}))
    x = collect(MODEL, alias="champion")
    assert sorted(zip(x.validation["dataset"], x.validation["passed"], strict=True)) == \
        [("loan_early_warning_daily", False), ("repayments", True)]
    doc, has = render(x)
    assert has["validation"] and "rows_present" in doc and "2 validation summaries" in doc


def test_version_without_artifacts_says_not_recorded(model_env, tmp_path):
    """A version registered from a bare run (no tags, metrics, plots, card or evaluation set)."""
    import mlflow

    from riskpipe.models.docpack import SECTIONS, build_model_doc
    from riskpipe.models.registry import configure_mlflow, ensure_experiment

    client = configure_mlflow()
    with mlflow.start_run(experiment_id=ensure_experiment("bare")) as run:
        pass
    client.create_registered_model("bare")
    mv = client.create_model_version("bare", source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    out = tmp_path / "bare.html"
    res = build_model_doc("bare", version=str(mv.version), out=out)
    assert res.sections == {sid: sid == "header" for sid, _ in SECTIONS}
    with headless_chromium() as open_page:
        page = open_page(out.as_uri())
        assert page.errors() == []
        notes = page.evaluate("[...document.querySelectorAll('section > .nodata')]"
                              ".map(p => [p.closest('section').id, p.textContent])")
        header = page.evaluate("Object.fromEntries([...document.querySelectorAll('#header td')]"
                               ".map(td => [td.dataset.key, td.textContent]))")
    assert [sid for sid, _ in notes] == [sid for sid, _ in SECTIONS if sid != "header"]
    assert all(t.startswith("Not recorded: ") for _, t in notes)
    assert header["version"] == str(mv.version) and header["MLflow run id"] == run.info.run_id
    assert header["feature service"] == "not recorded" and header["aliases now"] == "none"


def test_cli_model_doc(promoted, model_env):
    from riskpipe.cli import app
    from riskpipe.settings import get_settings

    res = CliRunner().invoke(app, ["model-doc", "--model-name", MODEL, "--version", promoted.challenger_version])
    assert res.exit_code == 0, res.output
    path = get_settings().reports / f"model_doc_{MODEL}_v{promoted.challenger_version}.html"
    assert f"written to {path}" in res.output.replace("\n", "")
    assert path.is_file() and f"{MODEL} v{promoted.challenger_version} model documentation" in path.read_text()
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    wrong = CliRunner().invoke(app, ["model-doc", "--model-name", MODEL, "--version", "99"])
    assert wrong.exit_code != 0 and "has no version '99' (versions: 1, 2)" in str(wrong.exception)
    both = CliRunner().invoke(app, ["model-doc", "--model-name", MODEL, "--version", "1", "--alias", "champion"])
    assert both.exit_code != 0 and "not both" in str(both.exception)
    none = CliRunner().invoke(app, ["model-doc", "--model-name", "nope"])
    assert none.exit_code != 0 and "no registered model named 'nope'" in str(none.exception)


def test_label_facts_from_the_label_definitions_and_the_dbt_docs(tmp_path):
    """The labels.yml definition (matched by name or by its table) comes first, the dbt docs after; a
    version trained with another content of the definition says so."""
    from riskpipe.models.docpack import label_facts
    from riskpipe.models.labels import label_definition
    from riskpipe.settings import load_settings

    s = load_settings(data_dir=tmp_path)
    d = label_definition("early_warning", s)
    for name in ("early_warning", "label_early_warning"):
        facts, where = label_facts(name, "label", str(d.version), d.content_hash, settings=s)
        assert facts["name"] == "early_warning" and facts["version"] == str(d.version)
        assert facts["bad.min_dpd"] == str(d.bad.min_dpd) and facts["content hash"] == d.content_hash
        assert facts["label table"] == "label_early_warning" and facts["unit"] == "flag 0/1"
        assert "changed since training" not in facts
        assert where == f"labels.yml definition {d.ref} and dbt docs of label_early_warning"
    facts, _ = label_facts("early_warning", "label", "1", "0" * 16, settings=s)
    assert "trained with v1 (0000000000000000)" in facts["changed since training"]
    facts, where = label_facts("dpd90_12m", "default_12m", settings=s)
    assert facts == {} and where == ""
