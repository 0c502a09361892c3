"""The `pipeline` command's argument validation: one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import datetime as dt

import click
import pytest

from cli.main import resolve_window, run_cli
from pipeline.outcomes import EXIT_FAILED, EXIT_OK, EXIT_QUARANTINED, worst_exit_code


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["ingest", "--date", "2024-13-01"], "'2024-13-01' is not a valid date"),
        (["ingest", "--date", "2024-1-2"], "is not a valid date"),
        (
            ["ingest", "--start", "2024-01-03", "--end", "2024-01-02"],
            "--start 2024-01-03 is after --end 2024-01-02",
        ),
        (["ingest", "--start", "2024-01-03"], "--start and --end go together"),
        (["ingest", "--date", "2024-01-03", "--start", "2024-01-01", "--end", "2024-01-02"], "not both"),
        (["ingest", "--source", "twitter"], "'twitter' is not one of"),
        (["run", "--date", "yesterday"], "is not a valid date"),
        (["sample", "--tickers", "0"], "0 is not in the range"),
        (["sample", "--days", "many"], "'many' is not a valid integer"),
        (["dashboard", "--port", "70000"], "70000 is not in the range"),
        (["etl", "--everything"], "No such option '--everything'"),
        (["etl", "--follow"], "--follow needs ETL_QUEUE_URL"),
        (["etl", "--recent-days", "0"], "0 is not in the range"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["db", "drop"], "No such command 'drop'"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("pipeline: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_invalid_setting_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIPELINE_FRED_SERIES", "VIX CLS")
    assert run_cli(["db", "url"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pipeline: error: invalid setting PIPELINE_FRED_SERIES:")
    assert "\n" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("ingest", "etl", "run", "sample", "demo", "dashboard", "db", "status"):
        assert command in out


def test_resolve_window() -> None:
    day = dt.date(2024, 1, 2)
    assert resolve_window(day, None, None) == (day, day)
    assert resolve_window(None, day, dt.date(2024, 3, 28)) == (day, dt.date(2024, 3, 28))
    first, last = resolve_window(None, None, None)
    assert first == last
    assert first < dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(click.UsageError):
        resolve_window(day, day, day)


def test_worst_exit_code_orders_failure_over_quarantine_over_success() -> None:
    assert worst_exit_code(EXIT_OK, EXIT_OK) == EXIT_OK
    assert worst_exit_code(EXIT_OK, EXIT_QUARANTINED) == EXIT_QUARANTINED
    assert worst_exit_code(EXIT_FAILED, EXIT_QUARANTINED) == EXIT_FAILED
    assert worst_exit_code(EXIT_QUARANTINED, EXIT_FAILED) == EXIT_FAILED
