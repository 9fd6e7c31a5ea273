from __future__ import annotations

import pytest

from riskpipe.settings import (
    DbtTarget,
    Mode,
    OfflineStore,
    OnlineStore,
    RegistryKind,
    SettingsError,
    get_settings,
    load_settings,
    reset_settings,
)


def test_embedded_defaults(riskpipe_env) -> None:
    s = get_settings()
    assert s.mode is Mode.embedded
    assert s.offline_store is OfflineStore.duckdb
    assert s.online_store is OnlineStore.sqlite
    assert s.registry is RegistryKind.file
    assert s.dbt is DbtTarget.local
    assert s.lake == (riskpipe_env / "lake").resolve()
    assert s.silver == s.lake / "silver"
    assert s.tracking_uri.startswith("sqlite:///") and s.tracking_uri.endswith("mlflow/mlflow.db")
    assert s.uses_dev_pii_key


def test_production_switches_every_part(riskpipe_env, monkeypatch) -> None:
    monkeypatch.setenv("RISKPIPE_MODE", "production")
    monkeypatch.setenv("RISKPIPE_PII_KEY", "s3cret")
    reset_settings()
    s = get_settings()
    assert (s.offline_store, s.online_store, s.registry, s.dbt) == (
        OfflineStore.spark,
        OnlineStore.redis,
        RegistryKind.sql,
        DbtTarget.cluster,
    )
    assert s.pii_secret == b"s3cret" and not s.uses_dev_pii_key


def test_part_override_in_production(riskpipe_env, monkeypatch) -> None:
    monkeypatch.setenv("RISKPIPE_MODE", "production")
    monkeypatch.setenv("RISKPIPE_PII_KEY", "k")
    monkeypatch.setenv("RISKPIPE_FEAST_OFFLINE_STORE", "duckdb")
    reset_settings()
    assert get_settings().offline_store is OfflineStore.duckdb
    assert get_settings().online_store is OnlineStore.redis


def test_production_without_pii_key_names_the_variable(riskpipe_env, monkeypatch) -> None:
    monkeypatch.setenv("RISKPIPE_MODE", "production")
    with pytest.raises(SettingsError, match="RISKPIPE_PII_KEY must be set in production"):
        load_settings()


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("RISKPIPE_MODE", "staging", "RISKPIPE_MODE"),
        ("RISKPIPE_SPARK_SHUFFLE_PARTITIONS", "zero", "RISKPIPE_SPARK_SHUFFLE_PARTITIONS"),
        ("RISKPIPE_SPARK_SHUFFLE_PARTITIONS", "0", "RISKPIPE_SPARK_SHUFFLE_PARTITIONS"),
        ("RISKPIPE_SPARK_MASTER", "mesos://x", "RISKPIPE_SPARK_MASTER"),
        ("RISKPIPE_REDIS_URL", "http://127.0.0.1:6379", "RISKPIPE_REDIS_URL"),
        ("RISKPIPE_POSTGRES_URL", "mysql://x", "RISKPIPE_POSTGRES_URL"),
        ("RISKPIPE_LOG_LEVEL", "LOUD", "RISKPIPE_LOG_LEVEL"),
        ("RISKPIPE_SPARK_CONF", "not json", "RISKPIPE_SPARK_CONF"),
        ("RISKPIPE_FEAST_ONLINE_STORE", "dynamodb", "RISKPIPE_FEAST_ONLINE_STORE"),
        ("RISKPIPE_LABELS_FILE", "/nonexistent/labels.yml", "RISKPIPE_LABELS_FILE"),
    ],
)
def test_bad_values_name_the_variable(riskpipe_env, monkeypatch, var, value, needle) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert needle in str(err.value)


def test_settings_are_lazy_and_cached(riskpipe_env, monkeypatch) -> None:
    first = get_settings()
    monkeypatch.setenv("RISKPIPE_SPARK_SHUFFLE_PARTITIONS", "3")
    assert get_settings() is first  # cached until reset
    reset_settings()
    assert get_settings().spark_shuffle_partitions == 3


def test_spark_conf_json(riskpipe_env, monkeypatch) -> None:
    monkeypatch.setenv("RISKPIPE_SPARK_CONF", '{"spark.executor.memory": "8g"}')
    assert load_settings().spark_conf == {"spark.executor.memory": "8g"}


def test_info_shows_what_runs_where_and_which_label_definitions(riskpipe_env, monkeypatch, tmp_path) -> None:
    """`riskpipe info --json`: the parts in force, the data locations, and the label definitions file."""
    import json

    from typer.testing import CliRunner

    from riskpipe.cli import app

    def info() -> dict:
        reset_settings()
        out = CliRunner().invoke(app, ["info", "--json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    rows = info()
    assert (rows["mode"], rows["feast_online_store"], rows["dbt_target"]) == ("embedded", "sqlite", "local")
    assert rows["lake"] == str((riskpipe_env / "lake").resolve())
    assert rows["pii_key"] == "development key (embedded only)"
    assert rows["label_definitions"] == "packaged labels.yml"
    labels = tmp_path / "team_labels.yml"
    labels.write_text("labels: {}\n")  # info names the file in force; training and dbt validate it
    monkeypatch.setenv("RISKPIPE_LABELS_FILE", str(labels))
    monkeypatch.setenv("RISKPIPE_MODE", "production")
    monkeypatch.setenv("RISKPIPE_PII_KEY", "s3cret")
    rows = info()
    assert (rows["mode"], rows["feast_online_store"], rows["pii_key"]) == ("production", "redis", "set")
    assert rows["label_definitions"] == str(labels.resolve())


def test_model_feature_service_is_configuration(riskpipe_env, monkeypatch) -> None:
    """RISKPIPE_MODEL_FEATURE_SERVICES picks the service new versions train on, among the declared ones."""
    from riskpipe.errors import ConfigError
    from riskpipe.models.config import get_model_settings, load_model_settings
    from riskpipe.models.flows import MODEL_SPECS

    get_model_settings.cache_clear()
    try:
        assert MODEL_SPECS["credit_pd"].feature_service == "credit_pd_v1"  # the first declared
        monkeypatch.setenv("RISKPIPE_MODEL_FEATURE_SERVICES", '{"credit_pd": "credit_pd_v2"}')
        get_model_settings.cache_clear()
        assert MODEL_SPECS["credit_pd"].feature_service == "credit_pd_v2"
        assert MODEL_SPECS["fraud"].feature_service == "fraud_v1"
        for bad in ('{"credit_pd": "fraud_v1"}', '{"credit_scoring": "credit_pd_v2"}'):
            monkeypatch.setenv("RISKPIPE_MODEL_FEATURE_SERVICES", bad)
            with pytest.raises(ConfigError, match="RISKPIPE_MODEL_FEATURE_SERVICES") as err:
                load_model_settings()
            assert "credit_pd: credit_pd_v1/credit_pd_v2" in str(err.value)
    finally:
        get_model_settings.cache_clear()
