"""HttpClient: pacing, retries with backoff, Retry-After, and failures kept with their reasons."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from lambda_src.ingestion import gdelt, yahoo
from lambda_src.ingestion.httpclient import (
    FetchFailed,
    HttpClient,
    Pacer,
    RetryPolicy,
    TransportError,
    parse_retry_after,
)
from tests.support.doubles import FakeClock, ScriptedTransport, fixture_response, response
from tests.support.fake_apis import fixture


def client(
    transport: ScriptedTransport, clock: FakeClock, interval: float = 1.0, **policy: object
) -> HttpClient:
    return HttpClient(
        transport,
        Pacer(interval, clock),
        clock=clock,
        user_agent="test-agent/1",
        policy=RetryPolicy(rng=random.Random(3), **policy),
    )


def accept_anything(_response: object) -> None:
    return None


def test_pacing_spaces_request_starts_by_the_interval(clock: FakeClock) -> None:
    transport = ScriptedTransport(response(), response(), response())
    http = client(transport, clock, interval=1.0)
    http.fetch("http://api.test/a", {}, accept_anything)
    clock.elapsed += 0.25  # the caller spent a quarter of a second between requests
    http.fetch("http://api.test/b", {}, accept_anything)
    http.fetch("http://api.test/c", {}, accept_anything)
    assert clock.sleeps == [pytest.approx(0.75), pytest.approx(1.0)]


def test_pacing_scales_with_request_cost(clock: FakeClock) -> None:
    pacer = Pacer(0.12, clock)
    assert pacer.wait_turn(cost=390.0) == 0.0
    assert pacer.wait_turn(cost=1.0) == pytest.approx(46.8)
    assert clock.sleeps == [pytest.approx(46.8)]


def test_500_then_success_retries_once_with_backoff(clock: FakeClock) -> None:
    transport = ScriptedTransport(
        response(500, "text/html", b"<html>oops</html>"), fixture_response("yahoo/chart_aapl.json")
    )
    http = client(transport, clock, interval=0.0, jitter_seconds=0.0)
    result = http.fetch("http://api.test/chart/AAPL", {}, yahoo.check_chart)
    assert result.status == 200
    assert len(transport.calls) == 2
    assert clock.sleeps == [1.0]  # base backoff for the first retry, no jitter


def test_backoff_grows_exponentially_with_bounded_jitter(clock: FakeClock) -> None:
    failures = [response(503, "text/plain", b"unavailable") for _ in range(4)]
    http = client(ScriptedTransport(*failures), clock, interval=0.0, jitter_seconds=0.5)
    with pytest.raises(FetchFailed) as raised:
        http.fetch("http://api.test/x", {}, accept_anything)
    assert len(clock.sleeps) == 3
    for retry, slept in enumerate(clock.sleeps, start=1):
        assert 2 ** (retry - 1) <= slept <= 2 ** (retry - 1) + 0.5
    assert raised.value.attempts == ["HTTP 503: unavailable"] * 4
    assert "after 4 attempt(s)" in str(raised.value)


def test_429_with_retry_after_waits_exactly_that_long(clock: FakeClock) -> None:
    too_many = response(429, "text/plain", fixture("yahoo/too_many_requests.txt"), retry_after="7")
    transport = ScriptedTransport(too_many, fixture_response("yahoo/chart_aapl.json"))
    http = client(transport, clock, interval=1.0)
    http.fetch("http://api.test/chart/AAPL", {}, yahoo.check_chart)
    # Retry-After 7 is honoured exactly (no jitter); the pacer adds nothing since 7 s > its 1 s spacing.
    assert clock.sleeps == [7.0]


def test_retry_after_is_capped(clock: FakeClock) -> None:
    transport = ScriptedTransport(
        response(429, "text/plain", b"Too Many Requests", retry_after="3600"), response()
    )
    http = client(transport, clock, interval=0.0, retry_after_cap_seconds=60.0)
    http.fetch("http://api.test/x", {}, accept_anything)
    assert clock.sleeps == [60.0]


def test_no_retry_that_could_outlast_the_deadline(clock: FakeClock) -> None:
    too_many = response(429, "text/plain", fixture("yahoo/too_many_requests.txt"), retry_after="90")
    transport = ScriptedTransport(too_many, too_many, fixture_response("yahoo/chart_aapl.json"))
    http = client(transport, clock, interval=1.0)
    # Time for a 7 s wait plus a request's two timeouts (70 s), not for a 90 s wait.
    http.deadline = 7.0 + 70.0 + 0.5
    with pytest.raises(FetchFailed) as failed:
        http.fetch("http://api.test/chart/AAPL", {}, yahoo.check_chart)
    assert clock.sleeps == []
    assert len(transport.calls) == 1
    assert "HTTP 429" in failed.value.reason
    assert "not retried: a retry in 90 s could outlast the run's time limit" in failed.value.reason

    # The same deadline leaves room for a shorter wait, which is honoured as usual.
    short = response(429, "text/plain", fixture("yahoo/too_many_requests.txt"), retry_after="7")
    transport = ScriptedTransport(short, fixture_response("yahoo/chart_aapl.json"))
    http = client(transport, clock, interval=1.0)
    http.deadline = clock.monotonic() + 7.0 + 70.0 + 0.5
    http.fetch("http://api.test/chart/AAPL", {}, yahoo.check_chart)
    assert clock.sleeps == [7.0]


def test_out_of_time_counts_both_timeouts_and_the_wait(clock: FakeClock) -> None:
    http = client(ScriptedTransport(), clock)
    assert not http.out_of_time(1_000_000.0)  # no deadline, no limit
    http.deadline = 100.0
    assert not http.out_of_time(30.0)  # 0 + 30 + 10 + 60 = 100
    assert http.out_of_time(30.5)
    clock.elapsed = 31.0
    assert http.out_of_time()


def test_retry_after_http_date_is_measured_from_the_clock(clock: FakeClock) -> None:
    when = clock.now() + dt.timedelta(seconds=12)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    transport = ScriptedTransport(response(503, "text/plain", b"busy", retry_after=header), response())
    client(transport, clock, interval=0.0).fetch("http://api.test/x", {}, accept_anything)
    assert clock.sleeps == [pytest.approx(12.0)]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), ("0", 0.0), ("soon", None), (None, None), ("Fri, 29 Mar 2024 11:59:00 GMT", 0.0)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, dt.datetime(2024, 3, 29, 12, 0, tzinfo=dt.UTC)) == seconds


def test_yahoo_404_error_object_fails_at_once_with_its_description(clock: FakeClock) -> None:
    transport = ScriptedTransport(fixture_response("yahoo/chart_not_found.json", 404))
    with pytest.raises(FetchFailed) as raised:
        client(transport, clock).fetch("http://api.test/chart/ZZZZ", {}, yahoo.check_chart)
    assert len(transport.calls) == 1
    assert clock.sleeps == []
    assert "HTTP 404" in raised.value.reason
    assert "No data found, symbol may be delisted" in raised.value.reason


def test_gdelt_throttle_text_with_http_200_is_retried(clock: FakeClock) -> None:
    transport = ScriptedTransport(
        fixture_response("gdelt/throttle.txt", 200, "text/html; charset=utf-8"),
        fixture_response("gdelt/timeline_day.json", 200, "application/json; charset=utf-8"),
    )
    http = client(transport, clock, interval=gdelt.PACING_SECONDS, jitter_seconds=0.0)
    result = http.fetch("http://api.test/doc", {}, gdelt.check_timeline)
    assert result.body.startswith(b"{")
    # The backoff (1 s) is shorter than GDELT's 5 s spacing, so the pacer makes up the rest.
    assert clock.sleeps == [1.0, pytest.approx(4.0)]


def test_truncated_json_with_http_200_is_retried_then_fails(clock: FakeClock) -> None:
    truncated = fixture_response("yahoo/chart_aapl.json").body[:200]
    script = [response(200, "application/json", truncated) for _ in range(2)]
    with pytest.raises(FetchFailed) as raised:
        client(ScriptedTransport(*script), clock, attempts=2).fetch(
            "http://api.test/x", {}, yahoo.check_chart
        )
    assert all("not valid JSON" in reason for reason in raised.value.attempts)
    assert len(raised.value.attempts) == 2


def test_connection_errors_are_retried_and_kept(clock: FakeClock) -> None:
    transport = ScriptedTransport(TransportError("ConnectionError: refused"), response())
    result = client(transport, clock, interval=0.0).fetch("http://api.test/x", {}, accept_anything)
    assert result.status == 200
    assert len(clock.sleeps) == 1


def test_every_request_sends_the_clients_user_agent(clock: FakeClock) -> None:
    transport = ScriptedTransport(response())
    client(transport, clock).fetch("http://api.test/x", {"a": "1"}, accept_anything)
    _url, params, headers = transport.calls[0]
    assert headers["User-Agent"] == "test-agent/1"
    assert params == {"a": "1"}


def test_an_unreachable_host_is_tried_twice_and_its_later_requests_are_not_sent(clock: FakeClock) -> None:
    refused = TransportError("cannot connect to api.test (connection refused or no route)", unreachable=True)
    transport = ScriptedTransport(refused, refused, response())
    http = client(transport, clock, interval=0.0)
    with pytest.raises(FetchFailed) as first:
        http.fetch("http://api.test/a", {}, accept_anything)
    assert len(first.value.attempts) == 2  # not the policy's 4: no network must not cost minutes
    with pytest.raises(FetchFailed) as second:
        http.fetch("http://api.test/b", {}, accept_anything)
    assert second.value.attempts == []
    assert str(second.value) == (
        "not attempted: cannot connect to api.test (connection refused or no route) earlier in this run"
    )
    assert len(transport.calls) == 2
    # Another host is still asked.
    assert http.fetch("http://other.test/c", {}, accept_anything).status == 200
    assert http.counts.failures == 2


def test_an_ordinary_connection_error_keeps_the_full_retry_policy(clock: FakeClock) -> None:
    reset = TransportError("ConnectionError: reset by peer")
    transport = ScriptedTransport(reset, reset, reset, response())
    assert (
        client(transport, clock, interval=0.0).fetch("http://api.test/x", {}, accept_anything).status == 200
    )
    assert len(transport.calls) == 4


@pytest.mark.parametrize(
    ("transport_name", "url", "words"),
    [
        ("requests", "http://host.invalid/x", "cannot resolve the host name host.invalid"),
        ("curl_cffi", "http://host.invalid/x", "cannot resolve the host name host.invalid"),
        ("requests", "http://127.0.0.1:{port}/x", "cannot connect to 127.0.0.1:{port}"),
        ("curl_cffi", "http://127.0.0.1:{port}/x", "cannot connect to 127.0.0.1:{port}"),
    ],
)
def test_a_host_that_cannot_be_reached_is_named_in_words(transport_name: str, url: str, words: str) -> None:
    import socket

    from lambda_src.ingestion.transports import CurlCffiTransport, RequestsTransport

    with socket.socket() as probe:  # a port nobody listens on: bound, never listening, refuses
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        transport = RequestsTransport() if transport_name == "requests" else CurlCffiTransport()
        with pytest.raises(TransportError) as raised:
            transport.get(url.format(port=port), {}, {}, (5.0, 5.0))
    assert raised.value.unreachable
    assert str(raised.value).startswith(words.format(port=port))
