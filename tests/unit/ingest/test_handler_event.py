"""The Lambda event: defaults, validation with one clear line, and the Lambda's import footprint."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from lambda_src.handler import InvalidEvent, parse_event
from pipeline.catalog import DATA_SOURCES
from pipeline.market_time import default_ingest_day


def test_empty_event_means_every_data_source_for_yesterday_in_new_york() -> None:
    event = parse_event({})
    assert event.sources == DATA_SOURCES
    assert event.start == event.end == default_ingest_day()
    assert event.force is False


def test_with_a_lake_the_empty_event_fetches_the_minute_bars_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import reset_settings_caches

    monkeypatch.setenv("LAKE_WAREHOUSE", "s3://pipeline-lake/warehouse")
    reset_settings_caches()
    assert parse_event({}).sources == (*DATA_SOURCES, "yahoo_intraday")
    assert parse_event({"sources": ["fred"]}).sources == ("fred",)


def test_default_day_is_yesterday_in_new_york_not_utc() -> None:
    # 02:00 UTC on 10 March is still 9 March in New York.
    assert default_ingest_day(dt.datetime(2024, 3, 10, 2, 0, tzinfo=dt.UTC)) == dt.date(2024, 3, 8)


def test_range_sources_and_force_are_read() -> None:
    event = parse_event(
        {"sources": ["fred", "yahoo"], "start": "2024-01-02", "end": "2024-01-05", "force": True}
    )
    assert event.sources == ("fred", "yahoo")
    assert (event.start, event.end, event.force) == (dt.date(2024, 1, 2), dt.date(2024, 1, 5), True)
    assert parse_event({"date": "2024-02-29"}).start == dt.date(2024, 2, 29)


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"date": "2024-02-30"}, "'date' must be a YYYY-MM-DD date"),
        ({"date": 20240102}, "'date' must be a YYYY-MM-DD date"),
        ({"start": "2024-01-02"}, "'start' and 'end' go together"),
        ({"start": "2024-01-05", "end": "2024-01-02"}, "is after 'end'"),
        ({"date": "2024-01-02", "start": "2024-01-01", "end": "2024-01-02"}, "not both"),
        ({"sources": "yahoo"}, "non-empty list"),
        ({"sources": ["twitter"]}, "unknown source(s) ['twitter']"),
        ({"force": "yes"}, "'force' must be true or false"),
        ({"day": "2024-01-02"}, "unknown event key(s) ['day']"),
    ],
)
def test_bad_events_raise_one_line(event: dict, fragment: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_event(event)
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_lambda_imports_no_pandas_numpy_psycopg_click_or_tqdm() -> None:
    code = (
        "import sys, lambda_src.handler, lambda_src.ingestion.runner;"
        "banned = {'pandas', 'numpy', 'psycopg', 'click', 'tqdm', 'pipeline.db', 'cli'};"
        "print(sorted(banned & set(sys.modules)))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_the_lambda_extra_covers_every_third_party_module_the_lambda_imports() -> None:
    code = (
        "import sys, sysconfig, lambda_src.handler, lambda_src.ingestion.runner;"
        "site = sysconfig.get_paths()['purelib'];"
        "names = {m.split('.')[0] for m, mod in list(sys.modules.items())"
        " if getattr(mod, '__file__', None) and mod.__file__.startswith(site)};"
        "print(','.join(sorted(names)))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # Install machinery (the editable finder, setuptools' distutils shim) is not the Lambda's business.
    imported = {name for name in output.strip().split(",") if name and not name.startswith("_")}
    # The lambda extra (requests, tenacity, pydantic, tzdata) and what they pull in, plus boto3.
    allowed = {
        "requests",
        "urllib3",
        "idna",
        "charset_normalizer",
        "certifi",
        "tenacity",
        "pydantic",
        "pydantic_core",
        "typing_extensions",
        "annotated_types",
        "typing_inspection",
        "tzdata",
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "six",
    }
    assert imported <= allowed, imported - allowed
    assert {"tenacity", "pydantic"} <= imported  # requests is imported when a client is built
