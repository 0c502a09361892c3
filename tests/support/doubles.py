"""Test doubles for ingestion: a clock that never sleeps, and a transport that replays scripted responses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from lambda_src.ingestion.httpclient import HttpResponse
from tests.support.fake_apis import fixture


class FakeClock:
    """Monotonic and wall time that only move when something sleeps; every sleep is recorded."""

    def __init__(self, start: dt.datetime = dt.datetime(2024, 3, 29, 12, 0, tzinfo=dt.UTC)) -> None:
        self.start = start
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.elapsed)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds


class ScriptedTransport:
    """Returns the scripted responses (or raises the scripted errors) in order; records each call."""

    name = "scripted"

    def __init__(self, *script: HttpResponse | Exception) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def get(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> HttpResponse:
        self.calls.append((url, dict(params), dict(headers)))
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def response(
    status: int = 200, content_type: str = "application/json", body: bytes = b"{}", **headers: str
) -> HttpResponse:
    """An `HttpResponse` for scripts; header keyword names use underscores (retry_after)."""
    lowered = {
        "content-type": content_type,
        **{name.replace("_", "-"): value for name, value in headers.items()},
    }
    return HttpResponse("http://api.test/x", status, lowered, body)


def fixture_response(
    relative: str, status: int = 200, content_type: str = "application/json"
) -> HttpResponse:
    return response(status, content_type, fixture(relative))
