"""A hostile HTTP server on 127.0.0.1: each path misbehaves in one way a real server or proxy can.

``/bomb/gzip`` and ``/bomb/deflate``: a compression bomb (`BOMB_GIB` GiB of zeros in about
`BOMB_GIB` MB); ``/drip``: headers, then one byte every `DRIP_SECONDS`; ``/short``: half of its
declared ``Content-Length``, then a close; ``/chunked-cut``: a chunked body closed before its last
chunk; ``/fred-cut``: a FRED CSV cut mid-value (no length, connection closed); ``/json-cut``: a JSON
body cut mid-way; ``/html``: an HTML page with status 200. Each handler records whether it managed to
send its whole body (`completed`), so a test can tell a client that stopped reading early.
"""

from __future__ import annotations

import functools
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BOMB_GIB = 16
DRIP_SECONDS = 0.5
FRED_CUT = b"observation_date,VIXCLS\n2025-06-27,16.32\n2025-06-30,1"
JSON_CUT = b'{"chart": {"result": [{"meta": {"symbol": "AAPL"}, "timestamp": [1704'


@functools.cache
def bomb(wbits: int) -> bytes:
    """`BOMB_GIB` GiB of zeros in one gzip or zlib stream of about `BOMB_GIB` MB.

    Each 16 MiB of zeros ends with a full flush, which resets the compressor's history, so every
    block after the first compresses to the same bytes and is repeated rather than recomputed. The
    stream has no end: no client that refuses it early ever needs one.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(16 * 1024 * 1024)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + block * (BOMB_GIB * 64 - 1)


class Outcomes:
    """Whether each path's handler sent its whole body; `wait` blocks until the handler has ended."""

    def __init__(self) -> None:
        self._done: dict[str, bool] = {}
        self._changed = threading.Condition()

    def record(self, path: str, completed: bool) -> None:
        with self._changed:
            self._done[path] = completed
            self._changed.notify_all()

    def wait(self, path: str, timeout: float = 60.0) -> bool:
        with self._changed:
            if not self._changed.wait_for(lambda: path in self._done, timeout):
                raise AssertionError(f"the handler of {path} never ended")
            return self._done.pop(path)


class HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    completed: Outcomes

    def log_message(self, format: str, *args: object) -> None:  # quiet in test output
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        try:
            getattr(self, "serve_" + path.strip("/").replace("/", "_").replace("-", "_"))()
            self.completed.record(path, True)
        except (BrokenPipeError, ConnectionResetError):
            self.completed.record(path, False)
        self.close_connection = True

    def _head(self, content_type: str, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _bomb(self, encoding: str, wbits: int) -> None:
        body = bomb(wbits)
        self._head("application/json", Content_Encoding=encoding, Content_Length=str(len(body)))
        for start in range(0, len(body), 64 * 1024):
            self.wfile.write(body[start : start + 64 * 1024])
            self.wfile.flush()

    def serve_bomb_gzip(self) -> None:
        self._bomb("gzip", 16 + zlib.MAX_WBITS)

    def serve_bomb_deflate(self) -> None:
        self._bomb("deflate", zlib.MAX_WBITS)

    def serve_drip(self) -> None:
        self._head("application/json", Content_Length="1000")
        for _ in range(1000):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(DRIP_SECONDS)

    def serve_short(self) -> None:
        body = b'{"timeline": []}' + b" " * 484
        self._head("application/json", Content_Length=str(2 * len(body)))
        self.wfile.write(body)

    def serve_chunked_cut(self) -> None:
        self._head("application/json", Transfer_Encoding="chunked")
        self.wfile.write(b"10\r\n" + b'{"timeline": [1,' + b"\r\n")

    def serve_fred_cut(self) -> None:
        self._head("text/csv", Connection="close")
        self.wfile.write(FRED_CUT)

    def serve_json_cut(self) -> None:
        self._head("application/json", Connection="close")
        self.wfile.write(JSON_CUT)

    def serve_html(self) -> None:
        body = b"<!DOCTYPE html><html><body>Please log in</body></html>"
        self._head("text/html", Content_Length=str(len(body)))
        self.wfile.write(body)


@contextmanager
def hostile_server() -> Iterator[tuple[str, Outcomes]]:
    """The server's base URL and its `completed` record, for the duration of the block."""
    completed = Outcomes()
    handler = type("Handler", (HostileHandler,), {"completed": completed})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", completed
    finally:
        server.shutdown()
        server.server_close()
