"""`pipeline ingest` and `pipeline sample` end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import run_cli
from pipeline.rawzone import LocalRawStore
from tests.conftest import reset_settings_caches
from tests.integration.ingest.conftest import write_universe
from tests.support.fake_apis import FakeApis


@pytest.mark.usefixtures("no_pacing")
def test_ingest_exits_1_with_a_failing_symbol_and_writes_the_rest(
    fake_apis: FakeApis,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    isolated_environment: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIPELINE_UNIVERSE", str(write_universe(tmp_path, "AAPL", "ZZZZ")))
    reset_settings_caches()
    code = run_cli(
        ["ingest", "--source", "yahoo", "--source", "fred", "--start", "2024-01-02", "--end", "2024-03-28"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "partial: 4 written, 0 skipped (already there), 1 failed" in out
    assert "failed yahoo ZZZZ: HTTP 404" in out
    store = LocalRawStore(isolated_environment)
    assert "raw/yahoo/2024-01-02/AAPL_2024-03-28.json" in set(store.list())
    manifest = json.loads(store.get(next(store.list("raw/manifest/"))).body)
    assert manifest["failed"][0]["entity"] == "ZZZZ"


@pytest.mark.usefixtures("no_pacing")
def test_ingest_exits_0_when_everything_succeeds(
    fake_apis: FakeApis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIPELINE_UNIVERSE", str(write_universe(tmp_path, "AAPL")))
    reset_settings_caches()
    assert run_cli(["ingest", "--source", "fred", "--date", "2024-03-28"]) == 0
    assert "success: 2 written" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["ingest", "--date", "2999-01-01"], "after today"),
        (["ingest", "--start", "2024-03-01", "--end", "2024-02-01"], "is after --end"),
        (["sample", "--tickers", "10001", "--days", "5"], "--tickers 10001 is out of range: 1 to 10000"),
        (["sample", "--days", "9000", "--end", "2024-01-02"], "--days 9000 reaches before 2000-01-03"),
        (["sample", "--end", "2024-02-30"], "is not a valid date"),
        (["sample", "--end", "2999-01-01"], "--end 2999-01-01 is after today"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str], isolated_environment: Path
) -> None:
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pipeline: error: ") and "\n" not in err
    assert fragment in err
    assert not (isolated_environment / "raw").exists()


def test_sample_writes_synthetic_objects_and_a_manifest(
    isolated_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["sample", "--tickers", "4", "--days", "20", "--seed", "3", "--end", "2024-03-28"]) == 0
    assert "4 tickers" in capsys.readouterr().out
    store = LocalRawStore(isolated_environment)
    keys = list(store.list())
    assert sum(key.startswith("raw/yahoo/") for key in keys) == 5  # 4 tickers and ^GSPC
    assert any(key.startswith("raw/manifest/2024-03-29/sample-") for key in keys)
    assert all(store.head(key).extra.get("synthetic") == "true" for key in keys)


@pytest.mark.usefixtures("isolated_environment")
def test_offline_ingest_gives_up_on_each_host_at_once_and_tells_each_failure_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as closed:  # bound, never listening: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setenv("PIPELINE_UNIVERSE", str(write_universe(tmp_path, "AAPL", "MSFT", "NVDA")))
        monkeypatch.setenv("YAHOO_CHART_URL", f"http://127.0.0.1:{port}/chart")
        monkeypatch.setenv("FRED_GRAPH_URL", "http://fred.invalid/graph.csv")
        reset_settings_caches()
        code = run_cli(["ingest", "--source", "yahoo", "--source", "fred", "--date", "2024-03-28"])
    captured = capsys.readouterr()
    failures = [line for line in captured.out.splitlines() if line.startswith("  failed ")]
    assert code == 1
    # Four symbols (three tickers and the index) and two series: each reason told once, in words.
    assert "0 written, 0 skipped (already there), 6 failed" in captured.out
    assert captured.err.count("failed") == 0
    yahoo_first, yahoo_rest = [line for line in failures if " yahoo " in line]
    assert f"cannot connect to 127.0.0.1:{port}" in yahoo_first and "(after 2 attempt(s))" in yahoo_first
    assert yahoo_rest.startswith("  failed yahoo MSFT, NVDA, ^GSPC: not attempted: cannot connect")
    assert yahoo_rest.endswith("earlier in this run")
    fred_first, fred_rest = [line for line in failures if " fred " in line]
    assert "cannot resolve the host name fred.invalid" in fred_first
    assert "not attempted" in fred_rest
    assert len(failures) == 4
