"""The served dashboard behind its sign-in gate (real nginx, the sign-in service, Streamlit), raw clients.

`pipeline dashboard` with a password, as deployed: nginx on the dashboard's address asks the sign-in
service about each request, Streamlit listens on 127.0.0.1 only. Clients are plain HTTP connections and
a websocket client, no browser, each bound to a loopback address of its own (127.0.0.2, 127.0.0.3 ...)
so that nginx sees separate client addresses: a guesser and the owner.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from websockets.sync.client import connect

from dashboard.gate.tokens import SESSION_COOKIE, user_header
from tests.dashboard.test_browser import dashboard_server

PASSWORD = "the owner's long passphrase"
GUESSER, OWNER = "127.0.0.2", "127.0.0.3"
# Every kind of path Streamlit serves: pages, its static files and endpoints, media, components.
CLOSED_PATHS = (
    "/",
    "/sql_explorer",
    "/static/js/index.js",
    "/_stcore/host-config",
    "/_stcore/metrics",
    "/_stcore/script-health-check",
    "/media/0123456789abcdef.png",
    "/component/x/index.html",
    "/app/static/x.png",
)


@pytest.fixture
def gated(seeded_database_url, tmp_path) -> Iterator[tuple[str, int]]:
    with dashboard_server(
        seeded_database_url, tmp_path / "dashboard.log", {"DASHBOARD_PASSWORD": PASSWORD}
    ) as (base_url, _):
        address = urlsplit(base_url)
        yield str(address.hostname), int(address.port or 80)


def request(
    server: tuple[str, int],
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str = GUESSER,
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*server, timeout=30, source_address=(source, 0))
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def sign_in(server: tuple[str, int], password: str, source: str) -> http.client.HTTPResponse:
    return request(
        server,
        "POST",
        "/signin",
        body=urlencode({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        source=source,
    )


def session_of(response: http.client.HTTPResponse) -> str:
    cookie = SimpleCookie(response.headers["Set-Cookie"])
    return f"{SESSION_COOKIE}={cookie[SESSION_COOKIE].value}"


def open_stream(server: tuple[str, int], cookie: str | None = None, source: str = GUESSER):
    """A websocket to Streamlit's /_stcore/stream through nginx, from `source`."""
    sock = socket.create_connection(server, timeout=30, source_address=(source, 0))
    return connect(
        f"ws://{server[0]}:{server[1]}/_stcore/stream",
        sock=sock,
        origin=f"http://{server[0]}:{server[1]}",
        subprotocols=["streamlit"],
        additional_headers={"Cookie": cookie} if cookie else None,
        proxy=None,
    )


def stream_upgrade_status(server: tuple[str, int], headers: dict[str, str] | None = None) -> int:
    """The status nginx answers a websocket upgrade of /_stcore/stream with (101 when it opens)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    upgrade = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {server[0]}:{server[1]}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: streamlit\r\nOrigin: http://{server[0]}:{server[1]}\r\n{extra}\r\n"
    )
    with socket.create_connection(server, timeout=10, source_address=(GUESSER, 0)) as connection:
        connection.sendall(upgrade.encode())
        status_line = connection.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def test_before_signing_in_a_client_reaches_only_the_sign_in_page_and_health(gated):
    assert request(gated, "GET", "/signin").status == 200
    assert request(gated, "GET", "/_stcore/health").status == 200
    for path in CLOSED_PATHS:
        response = request(gated, "GET", path)
        assert (response.status, response.headers["Location"]) == (302, "/signin"), path
    # Neither a user header nor a cookie a client makes up opens anything.
    forged = {
        "X-Dashboard-User": user_header("a key the client guessed", "admin"),
        "Cookie": f"{SESSION_COOKIE}=admin",
    }
    assert request(gated, "GET", "/", headers=forged).status == 302
    assert stream_upgrade_status(gated) == 302
    assert stream_upgrade_status(gated, forged) == 302


def test_uploads_and_large_bodies_are_refused_signed_in_or_not(gated):
    cookie = session_of(sign_in(gated, PASSWORD, OWNER))
    megabyte = b"x" * 2**20

    for headers in ({}, {"Cookie": cookie}):
        response = request(gated, "PUT", "/_stcore/upload_file/session/file", body=megabyte, headers=headers)
        assert response.status in (404, 413)
    # A password field of 23 MB never reaches anything that would hold it.
    huge = urlencode({"username": "admin", "password": "x" * 23_000_000}).encode()
    assert request(gated, "POST", "/signin", body=huge).status == 413


def test_signed_in_the_pages_and_the_websocket_open(gated):
    response = sign_in(gated, PASSWORD, OWNER)
    assert (response.status, response.headers["Location"]) == (303, "/")
    cookie = session_of(response)

    assert request(gated, "GET", "/", headers={"Cookie": cookie}, source=OWNER).status == 200
    with open_stream(gated, cookie, OWNER) as stream:
        stream.send(BackMsg(app_heartbeat=True).SerializeToString())
    signed_out = request(gated, "GET", "/signout", headers={"Cookie": cookie}, source=OWNER)
    assert f"{SESSION_COOKIE}=" in signed_out.headers["Set-Cookie"]


def test_parallel_guesses_are_checked_one_per_delay_and_the_owner_signs_in_at_once(gated):
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def guess(number: int) -> None:
        status = sign_in(gated, f"guess {number}", GUESSER).status
        with lock:
            statuses[status] += 1

    guessers = [threading.Thread(target=guess, args=(number,)) for number in range(16)]
    for thread in guessers:
        thread.start()
    owner = sign_in(gated, PASSWORD, OWNER)
    for thread in guessers:
        thread.join()

    assert owner.status == 303, "the right password does not wait behind the guesses"
    assert statuses[401] <= 1, statuses
    assert statuses[429] >= 15, statuses
    assert set(statuses) <= {401, 429}


def test_clearing_streamlits_caches_does_not_reset_the_throttle(gated):
    assert sign_in(gated, "a wrong guess", GUESSER).status == 401
    cookie = session_of(sign_in(gated, PASSWORD, OWNER))
    # Signed in (only then can a client talk to Streamlit), a client clears every cache of the server.
    with open_stream(gated, cookie, OWNER) as stream:
        stream.send(BackMsg(clear_cache=True).SerializeToString())

    refused = sign_in(gated, "the next guess", GUESSER)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1


def test_stopping_pipeline_dashboard_stops_nginx_and_streamlit(seeded_database_url, tmp_path):
    import os
    from pathlib import Path

    pid_file = Path(os.environ["PIPELINE_HOME"]) / "dashboard" / "gate" / "nginx.pid"
    with dashboard_server(
        seeded_database_url, tmp_path / "dashboard.log", {"DASHBOARD_PASSWORD": PASSWORD}
    ) as (_, server):
        nginx = int(pid_file.read_text())
        children = [
            int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        ]
        assert nginx in children and len(children) == 2, "nginx and Streamlit are the gate's children"

    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_the_tls_modes_certificate_names_its_hosts_in_subject_alternative_names(tmp_path):
    import ssl
    import subprocess

    from stacks.instance_bootstrap import tls_certificate_command

    key, certificate = tmp_path / "dashboard.key", tmp_path / "dashboard.crt"
    subprocess.run(
        tls_certificate_command(str(key), str(certificate)), shell=True, check=True, capture_output=True
    )

    decoded = ssl._ssl._test_decode_cert(str(certificate))  # type: ignore[attr-defined]
    assert ("DNS", "localhost") in decoded["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in decoded["subjectAltName"]


def test_behind_cloudfront_the_gate_throttles_by_the_forwarded_client_address(tmp_path):
    from pathlib import Path

    from dashboard.gate.nginx import Listen, nginx_config

    direct = nginx_config(Listen("0.0.0.0", 8501), 1, 2, Path("/run/gate"))
    behind = nginx_config(Listen("0.0.0.0", 8501, forwarded_for=True), 1, 2, Path("/run/gate"))

    assert "real_ip_header" not in direct
    assert "real_ip_header X-Forwarded-For;" in behind
    # The last address CloudFront appended, not one a client wrote before it.
    assert "real_ip_recursive on" not in behind


def test_a_signed_in_visitor_cannot_clear_the_servers_caches(gated, owner_query):
    """Streamlit's clear-cache message would empty every visitor's cached results and the pages' connection."""
    import asyncio

    from tests.support.streamlit_stream import StreamVisitor, signed_in_cookie

    def reader_sessions() -> list[tuple]:
        return owner_query(
            "SELECT pid, backend_start, query_start FROM pg_stat_activity "
            "WHERE usename = 'dashboard_reader' AND datname = current_database() ORDER BY pid"
        )

    async def visit() -> tuple[list[tuple], list[tuple]]:
        visitor = await StreamVisitor.open(*gated, signed_in_cookie(*gated, PASSWORD))
        try:
            assert (await visitor.open_page("sectors")).status == "FINISHED_SUCCESSFULLY"
            # Every result of the page is cached now: a second run asks the database nothing.
            await visitor.open_page("sectors")
            cached = reader_sessions()
            await visitor.send(BackMsg(clear_cache=True))
            run = await visitor.open_page("sectors")
            assert run.status == "FINISHED_SUCCESSFULLY" and not run.exceptions
            return cached, reader_sessions()
        finally:
            await visitor.close()

    cached, after_clearing = asyncio.run(visit())

    assert len(cached) == 1, "the pages share one reader connection"
    # The same connection, and no statement since: the page ran from the cache after the message.
    assert after_clearing == cached


def test_the_tls_modes_certificate_names_the_public_address_it_is_given(tmp_path):
    import ssl
    import subprocess

    from stacks.instance_bootstrap import tls_certificate_command

    key, certificate = tmp_path / "dashboard.key", tmp_path / "dashboard.crt"
    command = tls_certificate_command(
        str(key), str(certificate), ["IP:203.0.113.7", "DNS:dashboard.example.com"]
    )
    subprocess.run(command, shell=True, check=True, capture_output=True)

    names = ssl._ssl._test_decode_cert(str(certificate))["subjectAltName"]  # type: ignore[attr-defined]
    assert ("IP Address", "203.0.113.7") in names
    assert ("DNS", "dashboard.example.com") in names


def test_a_websocket_client_submits_the_explorers_form_as_a_browser_does(gated):
    """The load benchmark's explorer visitors (`StreamVisitor.submit`): the statement typed, Run pressed."""
    import asyncio

    from tests.support.streamlit_stream import StreamVisitor, signed_in_cookie

    async def visit() -> tuple[list[str], list[str]]:
        visitor = await StreamVisitor.open(*gated, signed_in_cookie(*gated, PASSWORD))
        try:
            shown = await visitor.open_page("sql_explorer")
            answered = await visitor.submit(shown, "sql_explorer", {"Statement": "SELECT 41 + 1 AS n"}, "Run")
            refused = await visitor.submit(
                answered, "sql_explorer", {"Statement": "DROP TABLE companies"}, "Run"
            )
            return answered.notices, refused.notices
        finally:
            await visitor.close()

    answered, refused = asyncio.run(visit())
    assert any(notice.startswith("1 row(s) in ") for notice in answered)
    assert any(notice.startswith("Refused") for notice in refused)
