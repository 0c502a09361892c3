"""Fixtures for the ingestion integration tests: the local API stand-in and a small universe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_src.ingestion import runner
from tests.conftest import reset_settings_caches
from tests.support.doubles import FakeClock
from tests.support.fake_apis import FakeApis


@pytest.fixture
def clock() -> FakeClock:
    """A clock whose sleeps return at once and are recorded."""
    return FakeClock()


@pytest.fixture
def fake_apis(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApis]:
    """The local API server, with every *_URL setting pointing at it."""
    with FakeApis(gdelt_throttle_first=True) as apis:
        for name, value in apis.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings_caches()
        yield apis


def write_universe(directory: Path, *tickers: str) -> Path:
    """A universe file with `tickers` (sector Information Technology)."""
    path = directory / "universe.csv"
    rows = "".join(
        f"{ticker},{ticker} Inc.,Information Technology,Application Software\n" for ticker in tickers
    )
    path.write_text("ticker,name,sector,industry\n" + rows)
    return path


@pytest.fixture
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real-clock runs (CLI, Lambda handler) without the APIs' pacing, so tests stay fast."""
    for source in runner.PACING_SECONDS:
        monkeypatch.setitem(runner.PACING_SECONDS, source, 0.0)
