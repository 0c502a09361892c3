"""A visitor of the served dashboard without a browser: sign in through the gate, then Streamlit's websocket.

A browser opens `/_stcore/stream` and sends a `rerun_script` BackMsg naming the page (its URL path);
Streamlit runs the page's script and streams its elements as ForwardMsgs, ending with `script_finished`.
`StreamVisitor.open_page` does the same and returns the seconds from the request to that end, which is
what a browser waits for before the page is complete (less the drawing). Used by the load benchmark and
by the tests of what a signed-in client may send.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

from dashboard.gate.tokens import SESSION_COOKIE

#: Streamlit's messages to the browser may be as large as its server.maxMessageSize (16 MB).
MAX_MESSAGE_BYTES = 32 * 2**20


def signed_in_cookie(host: str, port: int, password: str, username: str = "admin") -> str:
    """Sign in through the gate's form; the session cookie as a `Cookie` header value."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(
            "POST",
            "/signin",
            body=urlencode({"username": username, "password": password}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 303:
        raise RuntimeError(f"sign-in refused: HTTP {response.status}")
    cookie = SimpleCookie(response.headers["Set-Cookie"])
    return f"{SESSION_COOKIE}={cookie[SESSION_COOKIE].value}"


@dataclass
class PageRun:
    """One run of a page's script as the visitor saw it."""

    seconds: float
    status: str
    exceptions: list[str] = field(default_factory=list)


class StreamVisitor:
    """One browser tab's websocket to Streamlit (through the gate when `cookie` is given)."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        #: The URL paths of the app's pages, in the navigation's order, once a page has run.
        self.page_paths: list[str] = []

    @classmethod
    async def open(cls, host: str, port: int, cookie: str | None) -> StreamVisitor:
        connection = await connect(
            f"ws://{host}:{port}/_stcore/stream",
            origin=f"http://{host}:{port}",  # type: ignore[arg-type]
            subprotocols=["streamlit"],  # type: ignore[list-item]
            additional_headers={"Cookie": cookie} if cookie else None,
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=60,
            proxy=None,
        )
        return cls(connection)

    async def close(self) -> None:
        await self.connection.close()

    async def send(self, message: BackMsg) -> None:
        await self.connection.send(message.SerializeToString())

    async def open_page(self, url_path: str, query_string: str = "", timeout: float = 120) -> PageRun:
        """Ask for the page at `url_path` ('' for the default page); wait for its script to finish."""
        started = time.perf_counter()
        await self.send(BackMsg(rerun_script=ClientState(query_string=query_string, page_name=url_path)))
        exceptions: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                message = ForwardMsg.FromString(await self.connection.recv(decode=False))
                kind = message.WhichOneof("type")
                if kind == "navigation":
                    self.page_paths = [page.url_pathname for page in message.navigation.app_pages]
                if kind == "delta" and message.delta.new_element.WhichOneof("type") == "exception":
                    exceptions.append(message.delta.new_element.exception.message)
                if kind == "script_finished":
                    status = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
                    if status != "FINISHED_EARLY_FOR_RERUN":
                        return PageRun(time.perf_counter() - started, status, exceptions)
