"""Bounded reading of a response body: a size limit after decompression and an overall deadline.

The transports read every body here, streamed, so that no response can hold the ingestion for ever
or fill its memory:

- `MAX_BODY_BYTES` bounds the body after decompression (gzip, deflate, br). The body is read and
  inflated `CHUNK_BYTES` at a time, so a compression bomb is refused after at most that much more
  than the limit, never inflated whole.
- `REQUEST_DEADLINE_SECONDS` bounds a request from its start to its last byte (connect, headers and
  every byte of the body). A server dripping a byte every few seconds never trips a read timeout;
  the deadline cuts it. Before each read the socket's timeout is lowered to the time left.
- A body that ends before its declared ``Content-Length`` (or before the last chunk of a chunked
  body) is an error, never a shorter success.

The largest real response (a year of Open-Meteo for 50 states, ten years of one Yahoo symbol, the
Wikipedia constituents page) is a few megabytes: the limits leave a wide margin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

#: The most bytes one response body may hold after decompression.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: The most seconds one request may take, from its start to its last byte: the connect and read
#: timeouts' sum (`httpclient`), which is what a run's own deadline reserves for each request.
REQUEST_DEADLINE_SECONDS = 70.0
#: How much (decompressed) body one read returns at most.
CHUNK_BYTES = 256 * 1024


class BodyError(Exception):
    """The body could not be read whole within the limits; `retryable` when another try may help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def too_large(size: int, limit: int) -> BodyError:
    return BodyError(
        f"response body refused: more than {limit:,} bytes after decompression "
        f"(MAX_BODY_BYTES; {size:,} read so far)",
        retryable=False,
    )


def past_deadline(seconds: float, size: int | None = None) -> BodyError:
    read = f"; {size:,} bytes read" if size is not None else ""
    return BodyError(
        f"response not complete within the {seconds:.0f} s request deadline (REQUEST_DEADLINE_SECONDS{read})",
        retryable=True,
    )


def collect(
    read: Callable[[float], bytes],
    *,
    deadline: float,
    deadline_seconds: float,
    max_bytes: int,
    monotonic: Callable[[], float] = time.monotonic,
) -> bytes:
    """Call `read(seconds_left)` until it returns b"" (the end), within `deadline` and `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - monotonic()
        if left <= 0:
            raise past_deadline(deadline_seconds, size)
        chunk = read(left)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise too_large(size, max_bytes)
        chunks.append(chunk)


def collect_chunks(
    chunks: Iterable[bytes],
    *,
    deadline: float,
    deadline_seconds: float,
    max_bytes: int,
    monotonic: Callable[[], float] = time.monotonic,
) -> bytes:
    """The same bounds over an iterator of decoded chunks (a transport that enforces its own timeout)."""
    iterator = iter(chunks)
    return collect(
        lambda _left: next(iterator, b""),
        deadline=deadline,
        deadline_seconds=deadline_seconds,
        max_bytes=max_bytes,
        monotonic=monotonic,
    )
