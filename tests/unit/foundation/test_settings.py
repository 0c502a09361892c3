"""Settings: defaults, parsing, and one clear line naming the variable for each invalid value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import DEFAULT_UNIVERSE, SettingsError, get_settings, load_settings


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PIPELINE_HOME")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.pipeline_home == tmp_path / ".pipeline"
    assert settings.pipeline_indexes == ("^GSPC",)
    assert settings.pipeline_fred_series == ("VIXCLS", "DGS10")
    assert settings.pipeline_news_topics == ("depression",)
    assert settings.pipeline_universe == DEFAULT_UNIVERSE
    assert settings.url("yahoo_chart_url") == "https://query1.finance.yahoo.com/v8/finance/chart"
    assert settings.url("fred_graph_url") == "https://fred.stlouisfed.org/graph/fredgraph.csv"
    assert settings.uses_embedded_database
    assert settings.raw_bucket is None


def test_comma_lists_and_endpoint_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_INDEXES", "^GSPC, ^DJI ,^IXIC")
    monkeypatch.setenv("PIPELINE_NEWS_TOPICS", "recession,(layoffs OR unemployment)")
    monkeypatch.setenv("YAHOO_CHART_URL", "http://127.0.0.1:8080/chart/")
    settings = load_settings()
    assert settings.pipeline_indexes == ("^GSPC", "^DJI", "^IXIC")
    assert settings.pipeline_news_topics == ("recession", "(layoffs OR unemployment)")
    assert settings.url("yahoo_chart_url") == "http://127.0.0.1:8080/chart"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PIPELINE_INDEXES", "^GSPC,not a symbol", "PIPELINE_INDEXES"),
        ("PIPELINE_INDEXES", " , ", "PIPELINE_INDEXES"),
        ("PIPELINE_FRED_SERIES", "VIXCLS,dgs 10", "PIPELINE_FRED_SERIES"),
        ("PIPELINE_UNIVERSE", "/nonexistent/universe.csv", "PIPELINE_UNIVERSE"),
        ("RAW_BUCKET", "Not_A_Bucket", "RAW_BUCKET"),
        ("DATABASE_URL", "mysql://localhost/db", "DATABASE_URL"),
        ("DB_SECRET_ARN", "my-secret", "DB_SECRET_ARN"),
        ("GDELT_DOC_URL", "not a url", "GDELT_DOC_URL"),
    ],
)
def test_invalid_values_name_the_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"invalid setting {expected}:")
    assert "\n" not in message


def test_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("PIPELINE_INDEXES", "^DJI")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().pipeline_indexes == ("^DJI",)


def test_database_settings_switch_off_the_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf")
    assert not load_settings().uses_embedded_database


def test_ingest_concurrency_and_queue_urls_are_validated_with_one_line() -> None:
    assert load_settings(ingest_concurrency="3").ingest_concurrency == 3
    with pytest.raises(SettingsError, match=r"^invalid setting INGEST_CONCURRENCY: "):
        load_settings(ingest_concurrency="0")
    with pytest.raises(SettingsError, match=r"^invalid setting ETL_QUEUE_URL: "):
        load_settings(etl_queue_url="not a url")


def test_variables_match_in_any_case_and_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a setting's variable in lower case, one in upper case, and a variable that is no setting
    monkeypatch.setenv("pipeline_news_topics", "recession")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("PIPELINE_NOT_A_SETTING", "ignored")
    # When the settings are read, with an override of one of them
    settings = load_settings(aws_region="us-east-2")
    # Then both variables are read, the override wins over the environment, the stranger is ignored
    assert settings.pipeline_news_topics == ("recession",)
    assert settings.aws_region == "us-east-2"
    assert load_settings().aws_region == "eu-west-1"
    assert not hasattr(settings, "pipeline_not_a_setting")


def test_a_non_integer_concurrency_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_CONCURRENCY", "two")
    with pytest.raises(SettingsError, match=r"^invalid setting INGEST_CONCURRENCY: .*integer"):
        load_settings()


def test_the_lake_warehouse_is_a_folder_or_an_s3_uri(tmp_path: Path) -> None:
    assert load_settings().lake_warehouse is None
    local = load_settings(lake_warehouse=str(tmp_path / "lake"))
    assert local.lake_warehouse == str(tmp_path / "lake") and not local.lake_on_s3
    remote = load_settings(lake_warehouse="s3://my-bucket/lake/", lake_database="pipeline_lake")
    assert remote.lake_warehouse == "s3://my-bucket/lake" and remote.lake_on_s3
    assert load_settings(lake_warehouse=" ").lake_warehouse is None
    (tmp_path / "file").write_text("")
    for value, message in (
        ("s3://Bad_Bucket/x", "invalid setting LAKE_WAREHOUSE: not an s3://bucket/prefix URI"),
        ("gs://bucket/x", "invalid setting LAKE_WAREHOUSE: must be a folder or an s3://bucket/prefix URI"),
        (str(tmp_path / "file"), "invalid setting LAKE_WAREHOUSE: "),
    ):
        with pytest.raises(SettingsError) as error:
            load_settings(lake_warehouse=value)
        assert str(error.value).startswith(message) and "\n" not in str(error.value)
    with pytest.raises(SettingsError, match=r"^invalid setting LAKE_DATABASE: "):
        load_settings(lake_database="Has Spaces")
    with pytest.raises(SettingsError, match=r"^invalid setting AWS_ENDPOINT_URL: "):
        load_settings(aws_endpoint_url="not a url")
