"""Fixtures of every integration test folder: a raw zone to write objects into, a small universe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.etl.conftest import RawZoneWriter


@pytest.fixture
def raw_zone(isolated_environment: Path) -> RawZoneWriter:
    """A writer of raw objects into the test's own raw zone."""
    return RawZoneWriter(isolated_environment)


@pytest.fixture
def universe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small universe file (PIPELINE_UNIVERSE) with the tickers the tests load."""
    path = tmp_path / "universe.csv"
    path.write_text(
        "ticker,name,sector,industry\n"
        "AAPL,Apple Inc.,Information Technology,Technology Hardware\n"
        "MSFT,Microsoft,Information Technology,Systems Software\n"
        "XOM,Exxon Mobil,Energy,Integrated Oil & Gas\n"
    )
    monkeypatch.setenv("PIPELINE_UNIVERSE", str(path))
    from tests.conftest import reset_settings_caches

    reset_settings_caches()
    return path
