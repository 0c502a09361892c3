"""Fixtures for the ingestion unit tests."""

from __future__ import annotations

import pytest

from tests.support.doubles import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A clock whose sleeps return at once and are recorded."""
    return FakeClock()
