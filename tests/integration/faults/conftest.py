"""Fixtures shared with the ETL's integration tests: the raw-zone writer and a small universe."""

from tests.integration.etl.conftest import raw_zone, universe

__all__ = ["raw_zone", "universe"]
