"""A local stand-in for Yahoo, Open-Meteo, GDELT and FRED that serves fixture-shaped responses.

Routes (point the *_URL settings at them with `FakeApis.environment()`):

- ``/yahoo/chart/<symbol>``: the AAPL fixture for any symbol (only its bars within
  ``period1``..``period2`` when that period holds some of them); ``ZZZZ`` gets Yahoo's 404 error object
  for good; ``FLAKY`` gets HTTP 500 once, ``BUSY`` a plain-text 429 with ``Retry-After: 1`` once.
- ``/open-meteo/archive`` and ``/open-meteo/forecast``: one location per requested latitude, as the
  one-location object or an array (``location_id`` from the second element), daily rows for the window.
- ``/gdelt/doc``: the throttle text (HTTP 200, text/html) for the first request when
  ``gdelt_throttle_first`` is set, then the timeline fixture of the query's mode (volume or tone).
- ``/fred/graph.csv``: the VIXCLS or DGS10 fixture; any other id an HTML error page with 404.

Every request is recorded (path, query, time). Run it alone with
``python -m tests.support.fake_apis [--gdelt-throttle-first]`` (prints the environment to export, serves until interrupted).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "api"
PERMANENTLY_MISSING_SYMBOL = "ZZZZ"
FLAKY_SYMBOL = "FLAKY"
BUSY_SYMBOL = "BUSY"


def fixture(relative: str) -> bytes:
    """The exact bytes of a fixture under tests/fixtures/api/."""
    return (FIXTURES / relative).read_bytes()


@dataclass
class RecordedRequest:
    path: str
    query: dict[str, list[str]]
    at: float
    user_agent: str = ""


@dataclass
class FakeApiState:
    """What the server has seen and which one-off failures it has already served."""

    gdelt_throttle_first: bool = False
    requests: list[RecordedRequest] = field(default_factory=list)
    served_once: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, name: str) -> bool:
        with self.lock:
            if name in self.served_once:
                return False
            self.served_once.add(name)
            return True


def _weather_item(position: int, latitude: float, longitude: float, days: list[str]) -> dict:
    template = json.loads(fixture("open_meteo/archive_one_location.json"))
    item = {name: value for name, value in template.items() if name not in ("daily_units", "daily")}
    item.update(latitude=round(latitude, 2), longitude=round(longitude, 2))
    if position:  # Open-Meteo only sends location_id from the second location on
        item["location_id"] = position
    item["daily_units"] = template["daily_units"]
    count = len(days)
    item["daily"] = {
        "time": days,
        "precipitation_sum": [0.0 if index % 3 else 4.2 for index in range(count)],
        "temperature_2m_max": [10.5 + position % 7 for _ in range(count)],
        "temperature_2m_min": [None if index == 1 else 1.5 for index in range(count)],
    }
    return item


def weather_body(query: dict[str, list[str]]) -> bytes:
    """Open-Meteo's answer for the requested coordinates and dates (object for one, array for many)."""
    latitudes = [float(value) for value in query["latitude"][0].split(",")]
    longitudes = [float(value) for value in query["longitude"][0].split(",")]
    start = dt.date.fromisoformat(query["start_date"][0])
    end = dt.date.fromisoformat(query["end_date"][0])
    days = [(start + dt.timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]
    items = [
        _weather_item(position, lat, lon, days)
        for position, (lat, lon) in enumerate(zip(latitudes, longitudes, strict=True))
    ]
    document = items[0] if len(items) == 1 else items
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def chart_for_period(query: dict[str, list[str]]) -> bytes:
    """The AAPL fixture's bars from ``period1`` up to ``period2``, as Yahoo answers, when the period
    holds some but not all of them; otherwise the fixture's exact bytes (any window gets bars)."""
    body = fixture("yahoo/chart_aapl.json")
    document = json.loads(body)
    result = document["chart"]["result"][0]
    first = int(query.get("period1", ["0"])[0])
    last = int(query.get("period2", [str(2**62)])[0])
    kept = [index for index, stamp in enumerate(result["timestamp"]) if first <= stamp < last]
    if len(kept) in (0, len(result["timestamp"])):
        return body
    result["timestamp"] = [result["timestamp"][index] for index in kept]
    for series in (*result["indicators"]["quote"], *result["indicators"].get("adjclose", [])):
        for name, values in series.items():
            series[name] = [values[index] for index in kept]
    return json.dumps(document, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    state: FakeApiState

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.state.requests.append(
            RecordedRequest(unquote(parts.path), query, time.monotonic(), self.headers.get("User-Agent", ""))
        )
        path = parts.path
        if path.startswith("/yahoo/chart/"):
            self._yahoo(unquote(path.removeprefix("/yahoo/chart/")))
        elif path in ("/open-meteo/archive", "/open-meteo/forecast"):
            self._send(200, "application/json; charset=utf-8", weather_body(query))
        elif path == "/gdelt/doc":
            self._gdelt()
        elif path == "/fred/graph.csv":
            self._fred(query.get("id", [""])[0])
        else:
            self._send(404, "text/plain", b"no such route\n")

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def _yahoo(self, symbol: str) -> None:
        json_type = "application/json;charset=utf-8"
        if symbol == PERMANENTLY_MISSING_SYMBOL:
            self._send(404, json_type, fixture("yahoo/chart_not_found.json"))
        elif symbol == FLAKY_SYMBOL and self.state.first_time("flaky"):
            self._send(500, "text/html", b"<html><body>Internal Server Error</body></html>")
        elif symbol == BUSY_SYMBOL and self.state.first_time("busy"):
            self._send(429, "text/plain", fixture("yahoo/too_many_requests.txt"), {"Retry-After": "1"})
        else:
            self._send(200, json_type, chart_for_period(self.query))

    def _gdelt(self) -> None:
        if self.state.gdelt_throttle_first and self.state.first_time("gdelt-throttle"):
            self._send(200, "text/html; charset=utf-8", fixture("gdelt/throttle.txt"))
        else:
            tone = self.query.get("mode") == ["timelinetone"]
            name = "gdelt/tone_day.json" if tone else "gdelt/timeline_day.json"
            self._send(200, "application/json; charset=utf-8", fixture(name))

    def _fred(self, series_id: str) -> None:
        if series_id in ("VIXCLS", "DGS10"):
            self._send(200, "text/csv", fixture(f"fred/{series_id}.csv"))
        else:
            self._send(404, "text/html; charset=utf-8", fixture("fred/not_found.html"))


class FakeApis:
    """The server on 127.0.0.1 (a free port), in a background thread; use as a context manager."""

    def __init__(self, *, gdelt_throttle_first: bool = False) -> None:
        self.state = FakeApiState(gdelt_throttle_first=gdelt_throttle_first)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def environment(self) -> dict[str, str]:
        """The endpoint settings (environment variables) that point every API at this server."""
        return {
            "YAHOO_CHART_URL": f"{self.base_url}/yahoo/chart",
            "OPEN_METEO_ARCHIVE_URL": f"{self.base_url}/open-meteo/archive",
            "OPEN_METEO_FORECAST_URL": f"{self.base_url}/open-meteo/forecast",
            "GDELT_DOC_URL": f"{self.base_url}/gdelt/doc",
            "FRED_GRAPH_URL": f"{self.base_url}/fred/graph.csv",
        }

    def paths(self) -> list[str]:
        return [request.path for request in self.state.requests]

    def __enter__(self) -> FakeApis:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    with FakeApis(gdelt_throttle_first="--gdelt-throttle-first" in sys.argv) as apis:
        for name, value in apis.environment().items():
            print(f"export {name}={value}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
