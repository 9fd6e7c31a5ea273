"""Label definitions (riskpipe/models/labels.yml): the loader refuses bad definitions naming the file and
field, the hash follows the content, the dbt vars and the training filter come from the same definition."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
import yaml

from riskpipe.models.labels import (
    LabelConfigError,
    dbt_vars,
    label_definition,
    load_label_definitions,
    training_rows,
)
from riskpipe.settings import load_settings


def packaged() -> dict:
    return yaml.safe_load(resources.files("riskpipe.models").joinpath("labels.yml").read_text())


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "labels.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_packaged_file_declares_every_label_the_dbt_project_builds():
    cfg = load_label_definitions()
    assert set(cfg.labels) == {"credit_pd", "early_warning", "fraud"}
    cp = cfg.labels["credit_pd"]
    assert (cp.table, cp.entity_key, cp.bad.min_dpd, cp.performance_days) == ("label_credit_pd", "application_id", 90, 365)
    assert cp.exclusions.indeterminate.min_dpd == 30


@pytest.mark.parametrize(("edit", "field", "message"), [
    (lambda d: d["labels"]["credit_pd"].pop("version"), "labels.credit_pd.version", "Field required"),
    (lambda d: d["labels"]["fraud"].update(performance_days=0), "labels.fraud.performance_days", "greater than or equal to 1"),
    (lambda d: d["labels"]["credit_pd"]["exclusions"]["indeterminate"].update(min_dpd=90),
     "labels.credit_pd", "indeterminate.min_dpd (90) must be below bad.min_dpd (90)"),
    (lambda d: d["labels"]["early_warning"].update(exclusions={"indeterminate": {"min_dpd": 10}}),
     "labels.early_warning.exclusions", "label_early_warning does not implement ['indeterminate']"),
    (lambda d: d["labels"]["fraud"].update(bad={"event": "dpd", "min_dpd": 30}), "labels.fraud.bad.event",
     "implements 'fraud_chargeback'"),
    (lambda d: d["labels"]["credit_pd"].update(entity_key="loan_id"), "labels.credit_pd.entity_key",
     "not a key of label_credit_pd"),
    (lambda d: d["labels"]["credit_pd"].update(windw=3), "labels.credit_pd.windw", "Extra inputs"),
    (lambda d: d["labels"].pop("fraud"), "labels", "missing definition(s) ['fraud']"),
])
def test_a_bad_definition_is_refused_naming_the_file_and_field(tmp_path, edit, field, message):
    doc = packaged()
    edit(doc)
    path = write(tmp_path, doc)
    with pytest.raises(LabelConfigError) as err:
        load_label_definitions(path)
    text = str(err.value)
    assert str(path) in text and field in text and message in text, text


def test_unreadable_or_unknown_is_a_clear_error(tmp_path):
    with pytest.raises(LabelConfigError, match="cannot read label definitions"):
        load_label_definitions(tmp_path / "missing.yml")
    (tmp_path / "broken.yml").write_text("labels: [unclosed")
    with pytest.raises(LabelConfigError, match="not YAML"):
        load_label_definitions(tmp_path / "broken.yml")
    with pytest.raises(LabelConfigError, match="unknown label definition 'pd'.*credit_pd"):
        label_definition("pd", load_settings())


def test_hash_follows_the_content_and_the_override(tmp_path):
    base = load_label_definitions().labels["credit_pd"]
    doc = packaged()
    doc["labels"]["credit_pd"]["performance_days"] = 180  # edited without a version bump
    edited = load_label_definitions(write(tmp_path, doc)).labels["credit_pd"]
    assert edited.version == base.version and edited.content_hash != base.content_hash
    assert load_label_definitions(write(tmp_path, packaged())).labels["credit_pd"].content_hash == base.content_hash
    assert base.tags() == {"label_definition": "credit_pd", "label_definition_version": "1",
                           "label_definition_hash": base.content_hash}

    plain = label_definition("fraud", load_settings())
    short = label_definition("fraud", load_settings(fraud_label_days=2))
    assert (plain.performance_days, short.performance_days) == (90, 2)
    assert short.content_hash != plain.content_hash


def test_dbt_vars_carry_every_parameter_of_the_file():
    assert dbt_vars(load_settings()) == {
        "credit_pd_performance_days": 365, "credit_pd_bad_dpd": 90, "credit_pd_indeterminate_min_dpd": 30,
        "early_warning_performance_days": 30, "early_warning_bad_dpd": 30, "fraud_performance_days": 90}
    assert dbt_vars(load_settings(fraud_label_days=3))["fraud_performance_days"] == 3


def test_training_rows_are_matured_and_not_indeterminate_or_unresolved():
    d = label_definition("credit_pd", load_settings())
    t0 = pd.Timestamp("2025-01-10 08:00", tz="UTC")
    labels = pd.DataFrame({
        "application_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
        "feature_ts": [t0, t0, t0, t0, t0 + pd.Timedelta(days=30), t0],
        "label": [1, 0, None, 0, 0, None],
        "label_status": ["bad", "good", "indeterminate", "good", "good", "unresolved"],
        "label_known_at": [t0 + pd.Timedelta(days=100)] + [t0 + pd.Timedelta(days=365)] * 3
        + [t0 + pd.Timedelta(days=395), t0 + pd.Timedelta(days=365)],
    })
    as_of = dt.datetime(2026, 1, 20, tzinfo=dt.UTC)  # A1..A4's, A6's 365 days closed; A5's close 2026-02-09
    rows, counts = training_rows(d, labels, as_of)
    assert list(rows["application_id"]) == ["A1", "A2", "A4"]
    assert counts == {"rows": 6, "not_matured": 1, "excluded_indeterminate": 1, "excluded_unresolved": 1,
                      "used": 3}
    # a bad label known early still waits for its window (no early positives without their goods)
    early = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert training_rows(d, labels, early)[1]["used"] == 0

    with pytest.raises(LabelConfigError, match="label_credit_pd: rows without a label_status column"):
        training_rows(d, labels.drop(columns=["label_status"]), as_of)
    with pytest.raises(LabelConfigError, match="label_status must be one of"):
        training_rows(d, labels.assign(label_status="unknown"), as_of)


def test_cli_refuses_an_undeclared_label_definition(riskpipe_env, tmp_path):
    from typer.testing import CliRunner

    from riskpipe.cli import app

    res = CliRunner().invoke(app, ["train", "--table", str(tmp_path / "t.parquet"), "--label", "y",
                                   "--time-column", "t", "--model-name", "m", "--label-definition", "dpd90"])
    assert isinstance(res.exception, LabelConfigError) and "unknown label definition 'dpd90'" in str(res.exception)
    res = CliRunner().invoke(app, ["train", "--model", "fraud", "--start", "2026-01-01", "--end", "2026-01-02",
                                   "--label-definition", "fraud"])
    assert res.exit_code != 0 and "--label-definition is for --table" in str(res.exception)


def test_labels_file_setting_replaces_the_packaged_definitions(riskpipe_env, tmp_path, monkeypatch):
    """RISKPIPE_LABELS_FILE: validated like the packaged file, read by dbt vars and training alike, and
    its content (not its name) gives the hash; RISKPIPE_FRAUD_LABEL_DAYS still applies on top."""
    from riskpipe.settings import SettingsError, reset_settings

    packaged_defs = label_definition("credit_pd", load_settings())
    (tmp_path / "same").mkdir()
    same = write(tmp_path / "same", packaged())
    monkeypatch.setenv("RISKPIPE_LABELS_FILE", str(same))
    reset_settings()
    assert label_definition("credit_pd", load_settings()).content_hash == packaged_defs.content_hash

    doc = packaged()
    doc["labels"]["credit_pd"].update(performance_days=3, bad={"event": "dpd", "min_dpd": 2},
                                      exclusions={"indeterminate": {"min_dpd": 1}})
    doc["labels"]["early_warning"].update(performance_days=2, version=2)
    short = write(tmp_path, doc)
    monkeypatch.setenv("RISKPIPE_LABELS_FILE", str(short))
    reset_settings()
    s = load_settings()
    assert s.labels_file == short
    cp, ew = label_definition("credit_pd", s), label_definition("early_warning", s)
    assert (cp.performance_days, cp.bad.min_dpd, cp.exclusions.indeterminate.min_dpd) == (3, 2, 1)
    assert cp.version == 1 and cp.content_hash != packaged_defs.content_hash  # same version, other content
    assert ew.tags()["label_definition_version"] == "2"
    assert dbt_vars(s) == {
        "credit_pd_performance_days": 3, "credit_pd_bad_dpd": 2, "credit_pd_indeterminate_min_dpd": 1,
        "early_warning_performance_days": 2, "early_warning_bad_dpd": 30, "fraud_performance_days": 90}
    assert dbt_vars(load_settings(fraud_label_days=4))["fraud_performance_days"] == 4
    # the default settings object (what the CLI and DAG tasks use) follows the variable
    from riskpipe.models.labels import label_definitions

    assert label_definitions()["credit_pd"] == cp
    # an edit of the file is seen without a restart (another content, another hash)
    doc["labels"]["credit_pd"]["performance_days"] = 4
    short.write_text(yaml.safe_dump(doc) + "\n# edited\n")
    assert label_definition("credit_pd", s).performance_days == 4

    # a file that breaks a rule is refused naming the file and the field
    doc["labels"]["credit_pd"]["exclusions"]["indeterminate"]["min_dpd"] = 2
    short.write_text(yaml.safe_dump(doc))
    with pytest.raises(LabelConfigError) as err:
        label_definition("credit_pd", s)
    assert str(short) in str(err.value) and "must be below bad.min_dpd" in str(err.value)
    write(tmp_path, packaged())
    with pytest.raises(LabelConfigError, match=f"unknown label definition 'pd'; declared in {short}"):
        label_definition("pd", s)
    # a missing file is refused when the settings are read, naming the variable
    monkeypatch.setenv("RISKPIPE_LABELS_FILE", str(tmp_path / "nope.yml"))
    with pytest.raises(SettingsError, match="RISKPIPE_LABELS_FILE"):
        load_settings()


def test_label_partitions_record_their_definition_and_training_refuses_another(riskpipe_env, tmp_path, monkeypatch):
    """The dbt build records the definition each label partition was built under; training checks it."""
    from riskpipe.models.labels import built_record_path, check_built, record_built

    s = load_settings()
    day, other_day = dt.date(2026, 1, 2), dt.date(2026, 1, 3)
    path = record_built(s, "label_credit_pd", day)
    assert path == built_record_path(s, "label_credit_pd", day) and path.is_file()
    packaged_cp = label_definition("credit_pd", s)
    check_built(packaged_cp, [day], s)  # built and trained under the same definition
    with pytest.raises(LabelConfigError, match=r"no record of the label definition partitions 2026-01-03"):
        check_built(packaged_cp, [day, other_day], s)

    doc = packaged()
    doc["labels"]["credit_pd"]["performance_days"] = 180
    s2 = load_settings(labels_file=write(tmp_path, doc))
    with pytest.raises(LabelConfigError) as err:
        check_built(label_definition("credit_pd", s2), [day], s2)
    text = str(err.value)
    assert "built under another label definition" in text and packaged_cp.content_hash in text
    assert "packaged labels.yml" in text and str(tmp_path / "labels.yml") in text
    # the fraud override is part of the definition too
    record_built(s, "label_fraud", day)
    with pytest.raises(LabelConfigError, match="another label definition"):
        check_built(label_definition("fraud", load_settings(fraud_label_days=2)), [day], s)


def test_label_partitions_built_by_older_label_models_are_refused(riskpipe_env):
    """A partition of the same definition built before a payment in quarantine held a row back
    (no ``label_logic`` in its record: version 1) or by another label logic is refused, naming the dates."""
    import json

    from riskpipe.models.labels import LABEL_LOGIC, check_built, record_built

    s = load_settings()
    defn = label_definition("credit_pd", s)
    days = [dt.date(2026, 1, 2), dt.date(2026, 1, 3), dt.date(2026, 1, 4)]
    paths = [record_built(s, "label_credit_pd", d) for d in days]
    assert json.loads(paths[0].read_text())["label_logic"] == LABEL_LOGIC
    check_built(defn, days, s)
    old = json.loads(paths[1].read_text())
    del old["label_logic"]  # written before the version was recorded
    paths[1].write_text(json.dumps(old))
    newer = {**old, "label_logic": LABEL_LOGIC + 1}
    paths[2].write_text(json.dumps(newer))
    with pytest.raises(LabelConfigError) as err:
        check_built(defn, days, s)
    text = str(err.value)
    assert "another version of the label models" in text and "riskpipe indicators" in text
    assert "dt=2026-01-03 (label logic v1)" in text and f"dt=2026-01-04 (label logic v{LABEL_LOGIC + 1})" in text
    assert "2026-01-02" not in text
    record_built(s, "label_credit_pd", days[1])  # a rebuild records the current logic
    record_built(s, "label_credit_pd", days[2])
    check_built(defn, days, s)
