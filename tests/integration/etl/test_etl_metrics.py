"""The ETL's structured lines against a real PostgreSQL: what a run loaded, per table and per source."""

from __future__ import annotations

import pytest

import etl.run
from etl import run_etl
from pipeline.settings import get_settings
from tests.conftest import reset_settings_caches
from tests.integration.etl.conftest import FIRST_DAY, trading_days
from tests.support.telemetry import metric_lines, metric_names, of_event

DAYS = trading_days(FIRST_DAY, 30)
pytestmark = pytest.mark.usefixtures("universe")


@pytest.fixture(autouse=True)
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_METRICS_NAMESPACE", "MarketWeatherPipeline/test")
    reset_settings_caches()


def test_a_run_reports_its_counts_rows_per_table_and_each_sources_freshness(
    migrated_database_url, raw_zone, capsys
):
    raw_zone.everything(DAYS)
    bad = raw_zone.yahoo("MSFT", DAYS[:5], body=b'{"chart":{"result":[{"meta":')
    result = run_etl(get_settings())
    assert result.exit_code == 3
    documents = metric_lines(capsys.readouterr().out)

    [run] = of_event(documents, "etl_run")
    assert run["run_id"] == result.run_id and run["status"] == "partial" and run["mode"] == "pending"
    assert (run["EtlRuns"], run["EtlFailed"], run["ObjectsLoaded"], run["ObjectsQuarantined"]) == (1, 0, 9, 1)
    assert run["quarantined_keys"] == [bad]
    assert run["RowsWritten"] == result.curated_rows > 0
    assert run["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MarketWeatherPipeline/test"
    assert run["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]

    tables = {line["Table"]: line["TableRowsWritten"] for line in of_event(documents, "etl_table")}
    assert tables["stock_daily"] == 3 * 30 and tables["weather_daily"] == 3 * 30
    assert tables == result.rows_written

    freshness = {line["Source"]: line for line in of_event(documents, "source_freshness")}
    assert sorted(freshness) == ["fred", "gdelt", "open_meteo", "yahoo"]
    for source, line in freshness.items():
        assert line["newest_day"] == DAYS[-1].isoformat(), source
        assert metric_names(line) == ["FreshnessAgeHours", "DaysBehind"]
        assert line["FreshnessAgeHours"] > 24 * 365  # the test data is from 2024
    # Daily sources count calendar days; Yahoo only trading days, so fewer.
    assert 0 < freshness["yahoo"]["DaysBehind"] < freshness["gdelt"]["DaysBehind"]


def test_a_failed_run_says_so_and_reports_no_freshness(migrated_database_url, raw_zone, capsys, monkeypatch):
    raw_zone.everything(DAYS)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(etl.run, "refresh_market_daily", broken)
    result = run_etl(get_settings(), recent_days=7)
    assert result.exit_code == 1
    documents = metric_lines(capsys.readouterr().out)
    assert [line["event"] for line in documents] == ["etl_run"]
    [run] = documents
    assert run["EtlFailed"] == 1 and run["status"] == "failed" and run["mode"] == "recent"
    assert run["error"] == "RuntimeError: disk full"
    assert run["ObjectsLoaded"] == 0 and run["RowsWritten"] == 0 and run["rows_written"] == {}


def test_without_a_namespace_the_run_prints_no_metric_lines(
    migrated_database_url, raw_zone, capsys, monkeypatch
):
    monkeypatch.delenv("PIPELINE_METRICS_NAMESPACE")
    reset_settings_caches()
    raw_zone.everything(DAYS)
    assert run_etl(get_settings()).exit_code == 0
    assert metric_lines(capsys.readouterr().out) == []
