"""HTTP resilience in one place: transports, timeouts, pacing, retries with backoff, response checks.

Every source fetches through `HttpClient.fetch`, which

- waits its turn on the source's `Pacer` (a minimum spacing between request starts, scaled by the
  request's cost so that Open-Meteo's weighted requests are spaced by their weight);
- sends the request through a `Transport` with connect and read timeouts, an overall deadline and a
  body size limit (`bodies`; `curl_cffi` with browser impersonation for Yahoo when installed,
  `requests` otherwise);
- retries, through tenacity, connection errors, 5xx, 429, throttle texts and bodies that are not what
  the API promises (truncated or HTML), with exponential backoff and jitter, honouring `Retry-After`
  (capped); an error object or another 4xx fails at once;
- raises `FetchFailed` with the reason of every attempt when it gives up, or as soon as a retry could
  not finish before the run's deadline (a Lambda's remaining time), so the run can still record it.

The clock (monotonic time, wall time, sleep) and the jitter's random source are injectable, so tests
never sleep and can assert every wait.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import tenacity

from lambda_src.ingestion.transports import (
    CurlCffiTransport,
    HttpResponse,
    RequestsTransport,
    Transport,
    TransportError,
    browser_transport,
    host_of,
)

# The transports live in `transports`; the runner and the tests import them from here too.
__all__ = [
    "CurlCffiTransport",
    "HttpResponse",
    "RequestsTransport",
    "Transport",
    "TransportError",
    "browser_transport",
]

logger = logging.getLogger(__name__)

#: A current desktop Chrome, for Yahoo (which rejects library User-Agents).
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/138.0.0.0 Safari/537.36"
)
#: What every other API sees: the project's name and purpose.
PROJECT_USER_AGENT = "market-weather-pipeline/0.1 (open-data ingestion; python)"

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0


class Clock(Protocol):
    """Monotonic time for pacing, wall time for HTTP dates, and sleep."""

    def monotonic(self) -> float: ...

    def now(self) -> dt.datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Pacer:
    """Spaces request starts: after a request of cost c, the next may start `interval * c` seconds later.

    One pacer per API, shared by every request to it, so pacing holds across symbols and windows.
    """

    def __init__(self, interval_seconds: float, clock: Clock) -> None:
        self.interval_seconds = interval_seconds
        self._clock = clock
        self._next_start: float | None = None

    def pending_wait(self) -> float:
        """The seconds the next request would wait for its turn."""
        if self._next_start is None:
            return 0.0
        return max(0.0, self._next_start - self._clock.monotonic())

    def wait_turn(self, cost: float = 1.0) -> float:
        """Sleep until this request may start; reserve the spacing it costs; return the seconds slept."""
        now = self._clock.monotonic()
        waited = 0.0
        if self._next_start is not None and now < self._next_start:
            waited = self._next_start - now
            self._clock.sleep(waited)
            now = self._next_start
        self._next_start = now + self.interval_seconds * cost
        return waited


class InvalidResponse(Exception):
    """A response that is not what the API promises; `retryable` when trying again may help,
    `throttled` when the API said we asked too often (a 429, GDELT's "Please limit requests")."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        throttled: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.throttled = throttled
        self.unreachable = unreachable


#: Checks a response and raises `InvalidResponse` if it is not usable data.
ResponseCheck = Callable[[HttpResponse], None]


class FetchFailed(Exception):
    """A request failed for good: `reason` is the last attempt's, `attempts` every attempt's."""

    def __init__(self, url: str, reason: str, attempts: list[str]) -> None:
        super().__init__(f"{reason} (after {len(attempts)} attempt(s))" if attempts else reason)
        self.url = url
        self.reason = reason
        self.attempts = attempts


class UnreachableHosts:
    """The hosts no connection could be made to in this run, with why: their other requests are not sent.

    Offline, every request would otherwise spend its retries and backoff on the same dead host (minutes
    for Yahoo's hundreds of symbols); one run shares one `UnreachableHosts` across its shards and APIs.
    """

    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}

    def reason(self, url: str) -> str | None:
        return self._reasons.get(host_of(url))

    def mark(self, url: str, reason: str) -> None:
        self._reasons.setdefault(host_of(url), reason)


@dataclass
class RequestCounts:
    """What a client's requests did, for the ingestion's metrics: attempts sent, retries waited for,
    throttled answers, and requests that failed for good."""

    requests: int = 0
    retries: int = 0
    throttles: int = 0
    failures: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: backoff = min(cap, base * 2^(n-1)) + uniform(0, jitter)."""

    attempts: int = 4
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 30.0
    jitter_seconds: float = 1.0
    retry_after_cap_seconds: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, retry_number: int) -> float:
        """The wait before retry `retry_number` (1 for the first retry) when the server named none."""
        exponential = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (retry_number - 1))
        return exponential + self.rng.uniform(0, self.jitter_seconds)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def status_problem(response: HttpResponse, now: dt.datetime) -> InvalidResponse | None:
    """The retry decision for a non-2xx status: 429 and 5xx retry (with Retry-After), other codes fail."""
    if 200 <= response.status < 300:
        return None
    snippet = describe_body(response.body)
    reason = f"HTTP {response.status}: {snippet}"
    if response.status == 429 or response.status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        return InvalidResponse(
            reason, retryable=True, retry_after=retry_after, throttled=response.status == 429
        )
    return InvalidResponse(reason, retryable=False)


def describe_body(body: bytes, limit: int = 160) -> str:
    """A one-line excerpt of a body for failure reasons."""
    text = " ".join(body[: limit * 2].decode("utf-8", "replace").split())
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")


class HttpClient:
    """Fetches through one transport and pacer, retrying as `RetryPolicy` says; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        pacer: Pacer,
        *,
        clock: Clock,
        user_agent: str = PROJECT_USER_AGENT,
        policy: RetryPolicy | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
        deadline: float | None = None,
        unreachable: UnreachableHosts | None = None,
    ) -> None:
        self.transport = transport
        self.pacer = pacer
        self.clock = clock
        self.user_agent = user_agent
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        #: The clock's monotonic time by which every request must have ended; None: no limit.
        self.deadline = deadline
        self.unreachable = unreachable if unreachable is not None else UnreachableHosts()
        self.counts = RequestCounts()

    def out_of_time(self, wait: float = 0.0) -> bool:
        """True when a request started after `wait` seconds might still run (both timeouts) past the deadline."""
        return self.deadline is not None and self.clock.monotonic() + wait + sum(self.timeout) > self.deadline

    def fetch(
        self, url: str, params: Mapping[str, str], check: ResponseCheck, *, cost: float = 1.0
    ) -> HttpResponse:
        """The first response that passes `check`; raise `FetchFailed` when the retries are spent, or at
        once, with no request sent, when the host was found unreachable earlier in the run."""
        attempts: list[str] = []
        known = self.unreachable.reason(url)
        if known is not None:
            self.counts.failures += 1
            raise FetchFailed(url, f"not attempted: {known} earlier in this run", attempts)

        def attempt() -> HttpResponse:
            self.pacer.wait_turn(cost)
            self.counts.requests += 1
            try:
                response = self.transport.get(url, params, self._headers(), self.timeout)
            except TransportError as error:
                attempts.append(str(error))
                raise InvalidResponse(
                    str(error), retryable=error.retryable, unreachable=error.unreachable
                ) from error
            problem = status_problem(response, self.clock.now())
            if problem is None:
                try:
                    check(response)
                except InvalidResponse as invalid:
                    problem = invalid
            if problem is not None:
                attempts.append(problem.reason)
                self.counts.throttles += problem.throttled
                raise problem
            return response

        client = self

        class NoTimeForAnother(tenacity.stop.stop_base):
            def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
                if client.out_of_time(retry_state.upcoming_sleep):
                    attempts[-1] += (
                        f" (not retried: a retry in {retry_state.upcoming_sleep:.0f} s could outlast "
                        "the run's time limit)"
                    )
                    return True
                return False

        retrying = tenacity.Retrying(
            stop=tenacity.stop_any(tenacity.stop_after_attempt(self.policy.attempts), NoTimeForAnother()),
            wait=self._wait,
            retry=self._should_retry,
            sleep=self.clock.sleep,
            before_sleep=self._before_retry(url, attempts),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except InvalidResponse as error:
            self.counts.failures += 1
            if error.unreachable:
                self.unreachable.mark(url, error.reason)
            raise FetchFailed(url, attempts[-1], attempts) from None

    @staticmethod
    def _should_retry(state: tenacity.RetryCallState) -> bool:
        """Retry what may pass on a second try; a host that could not be reached is tried twice only (a
        lost DNS answer or a restarting server passes; no network does not, and must not cost minutes)."""
        error = state.outcome.exception() if state.outcome else None
        if not isinstance(error, InvalidResponse) or not error.retryable:
            return False
        return not (error.unreachable and state.attempt_number >= 2)

    def _before_retry(self, url: str, attempts: list[str]) -> Callable[[tenacity.RetryCallState], None]:
        def count_and_log(state: tenacity.RetryCallState) -> None:
            self.counts.retries += 1
            logger.info("retrying %s: %s", url, attempts[-1])

        return count_and_log

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": self.user_agent, "Accept": "*/*"}

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.policy.retry_after_cap_seconds)
        return self.policy.backoff(state.attempt_number)


def looks_like_html(body: bytes) -> bool:
    """True for an HTML page (a proxy, a captive portal, an error page) where data was expected."""
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))


def json_body(response: HttpResponse, media_types: frozenset[str]) -> object:
    """The parsed JSON of a 2xx response whose content type is one of `media_types`.

    An HTML page or a body that does not parse (truncated, or plain text appended mid-stream) is
    retryable; an unexpected content type that still carries JSON is not data we trust either.
    """
    if looks_like_html(response.body):
        raise InvalidResponse(f"HTML page instead of JSON: {describe_body(response.body)}", retryable=True)
    if response.media_type not in media_types:
        raise InvalidResponse(
            f"unexpected content type {response.content_type or '(none)'!r}: {describe_body(response.body)}",
            retryable=True,
        )
    try:
        return json.loads(response.body)
    except ValueError as error:
        raise InvalidResponse(
            f"body is not valid JSON ({error}): {describe_body(response.body)}", retryable=True
        ) from None
