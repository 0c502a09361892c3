"""The transports: one GET request each, its body read whole within `bodies`' bounds.

`RequestsTransport` (plain `requests`) for every API but Yahoo, `CurlCffiTransport` (curl impersonating
a current Chrome) for Yahoo when `curl_cffi` is installed. Both stream the body through
`bodies.collect`, so a compression bomb, a dripping server and a body cut short each end in one
`TransportError` with a one-line reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from lambda_src.ingestion import bodies


@dataclass(frozen=True)
class HttpResponse:
    """What a transport returns: the final URL, status, lower-cased headers and the exact body bytes."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower-cased (``application/json``)."""
        return self.content_type.split(";")[0].strip().lower()


class TransportError(Exception):
    """The request never got a complete HTTP response (DNS, connection refused or reset, a timeout,
    a body cut short or over the limits of `bodies`); `retryable` unless trying again cannot help;
    `unreachable` when no connection to the host could be made at all (its name did not resolve, it
    refused or never answered the connection): the host's other requests would fare no better."""

    def __init__(self, reason: str, *, retryable: bool = True, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.unreachable = unreachable


def host_of(url: str) -> str:
    """The host (and port, when one is given) a URL connects to: the unit of `unreachable`."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what it wraps (requests wraps urllib3's MaxRetryError, which names the cause)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 8:
        chain.append(current)
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = nested or current.__cause__
    return chain


def connection_error(error: BaseException, url: str, connect_timeout: float) -> TransportError:
    """One line in words for a request that got no response, from `requests`' or curl's exception.

    No connection at all (a name that does not resolve, a refused or unanswered connection) is
    `unreachable`; anything later (a reset, a read timeout, a TLS failure) is an ordinary retryable error.
    """
    host = host_of(url)
    causes = _causes(error)
    names = {type(cause).__name__ for cause in causes}
    text = " ".join(str(error).split())
    curl_code = getattr(error, "code", None)
    if "NameResolutionError" in names or curl_code == 6 or "Could not resolve host" in text:
        return TransportError(
            f"cannot resolve the host name {host} (no network, or no DNS)", unreachable=True
        )
    if "ConnectTimeoutError" in names or "ConnectTimeout" in names:
        return TransportError(
            f"{host} did not answer the connection within {connect_timeout:.0f} s", unreachable=True
        )
    if "NewConnectionError" in names or curl_code == 7:
        return TransportError(f"cannot connect to {host} (connection refused or no route)", unreachable=True)
    if "SSLError" in names or curl_code in (35, 60):
        return TransportError(f"TLS handshake with {host} failed: {text[:200]}")
    return TransportError(f"{type(error).__name__}: {text[:300]}")


class Transport(Protocol):
    """Sends one GET request; raises `TransportError` when no complete HTTP response comes back."""

    name: str

    def get(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> HttpResponse: ...


class RequestsTransport:
    """The plain `requests` transport (one keep-alive session), body streamed within `bodies`' bounds."""

    name = "requests"

    def __init__(
        self,
        *,
        max_body_bytes: int = bodies.MAX_BODY_BYTES,
        deadline_seconds: float = bodies.REQUEST_DEADLINE_SECONDS,
    ) -> None:
        import requests

        self._requests = requests
        self._session = requests.Session()
        self.max_body_bytes = max_body_bytes
        self.deadline_seconds = deadline_seconds

    def get(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> HttpResponse:
        deadline = time.monotonic() + self.deadline_seconds
        capped = (min(timeout[0], self.deadline_seconds), min(timeout[1], self.deadline_seconds))
        try:
            response = self._session.get(url, params=params, headers=headers, timeout=capped, stream=True)
        except self._requests.RequestException as error:
            raise connection_error(error, url, capped[0]) from error
        with response:
            body = self._read_body(response.raw, deadline, capped[1])
        lowered = {name.lower(): value for name, value in response.headers.items()}
        return HttpResponse(response.url, response.status_code, lowered, body)

    def _read_body(self, raw: Any, deadline: float, read_timeout: float) -> bytes:
        import urllib3

        connection = raw.connection
        sock = getattr(connection, "sock", None)

        def read(left: float) -> bytes:
            if sock is not None:  # the next recv may not outlast the deadline
                sock.settimeout(min(read_timeout, left))
            chunk: bytes = raw.read1(bodies.CHUNK_BYTES, decode_content=True)
            return chunk

        try:
            return bodies.collect(
                read, deadline=deadline, deadline_seconds=self.deadline_seconds, max_bytes=self.max_body_bytes
            )
        except bodies.BodyError as error:
            raise TransportError(error.reason, retryable=error.retryable) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if time.monotonic() >= deadline:  # the last read was cut by the time left, not the server
                raise TransportError(bodies.past_deadline(self.deadline_seconds, raw.tell()).reason) from None
            if isinstance(error, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
                raise TransportError(f"read timed out after {read_timeout:.0f} s mid-body") from None
            raise TransportError(f"body ended early or broke off: {_incomplete(error, raw)}") from None


def _incomplete(error: Exception, raw: Any) -> str:
    """One line on a body that broke off: bytes received against the declared length when known."""
    declared = raw.headers.get("content-length")
    received = raw.tell()
    if declared is not None:
        return f"{received:,} of {declared} declared bytes received ({type(error).__name__})"
    return f"{received:,} bytes received before {type(error).__name__}: {error}"


class CurlCffiTransport:
    """`curl_cffi` impersonating a current Chrome (TLS and HTTP/2 fingerprint, matching headers).

    curl's own timeout is the overall deadline; the body is streamed within `bodies.MAX_BODY_BYTES`.
    """

    name = "curl_cffi"

    def __init__(
        self,
        impersonate: str = "chrome",
        *,
        max_body_bytes: int = bodies.MAX_BODY_BYTES,
        deadline_seconds: float = bodies.REQUEST_DEADLINE_SECONDS,
    ) -> None:
        from curl_cffi import requests as curl_requests

        self._errors = (curl_requests.RequestsError,)
        self._session: curl_requests.Session = curl_requests.Session(impersonate=impersonate)
        self.max_body_bytes = max_body_bytes
        self.deadline_seconds = deadline_seconds

    def get(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> HttpResponse:
        # The impersonated browser sends its own matching User-Agent; overriding it would break the disguise.
        own_headers = {name: value for name, value in headers.items() if name.lower() != "user-agent"}
        deadline = time.monotonic() + self.deadline_seconds
        try:
            response = self._session.get(
                url, params=dict(params), headers=own_headers, timeout=self.deadline_seconds, stream=True
            )
            try:
                body = bodies.collect_chunks(
                    response.iter_content(),
                    deadline=deadline,
                    deadline_seconds=self.deadline_seconds,
                    max_bytes=self.max_body_bytes,
                )
            finally:
                response.close()
        except bodies.BodyError as error:
            raise TransportError(error.reason, retryable=error.retryable) from None
        except self._errors as error:
            if time.monotonic() >= deadline:  # curl's own timeout is the same deadline: say so
                raise TransportError(bodies.past_deadline(self.deadline_seconds).reason) from error
            raise connection_error(error, url, timeout[0]) from error
        lowered = {name.lower(): value for name, value in response.headers.items()}
        return HttpResponse(str(response.url), response.status_code, lowered, body)


def browser_transport() -> Transport:
    """`CurlCffiTransport` when the optional `curl_cffi` is installed, else `RequestsTransport`."""
    try:
        return CurlCffiTransport()
    except ImportError:
        return RequestsTransport()
