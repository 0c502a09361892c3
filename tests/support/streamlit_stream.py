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
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetStates
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
    #: The bodies of the run's notices (st.success, st.error, ...), in order.
    notices: list[str] = field(default_factory=list)
    #: The run's text areas and buttons by (kind, label): their widget ids, to send values back.
    widgets: dict[tuple[str, str], str] = field(default_factory=dict)


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
        return await self._run_seen(started, timeout)

    async def submit(
        self, shown: PageRun, url_path: str, texts: dict[str, str], button: str, timeout: float = 120
    ) -> PageRun:
        """Type `texts` (text area label: value) into the page `shown` and press `button`, as a
        browser submits a form; wait for the run it starts to finish."""
        states = WidgetStates()
        for label, value in texts.items():
            states.widgets.add(id=shown.widgets[("text_area", label)], string_value=value)
        states.widgets.add(id=shown.widgets[("button", button)], trigger_value=True)
        started = time.perf_counter()
        await self.send(BackMsg(rerun_script=ClientState(page_name=url_path, widget_states=states)))
        return await self._run_seen(started, timeout)

    async def _run_seen(self, started: float, timeout: float) -> PageRun:
        run = PageRun(0.0, "")
        async with asyncio.timeout(timeout):
            while True:
                message = ForwardMsg.FromString(await self.connection.recv(decode=False))
                kind = message.WhichOneof("type")
                if kind == "navigation":
                    self.page_paths = [page.url_pathname for page in message.navigation.app_pages]
                if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                    _note_element(run, message.delta.new_element)
                if kind == "script_finished":
                    status = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
                    if status != "FINISHED_EARLY_FOR_RERUN":
                        run.seconds, run.status = time.perf_counter() - started, status
                        return run


def _note_element(run: PageRun, element: Element) -> None:
    kind = element.WhichOneof("type")
    if kind == "exception":
        run.exceptions.append(element.exception.message)
    elif kind == "alert":
        run.notices.append(element.alert.body)
    elif kind in ("text_area", "button"):
        widget = getattr(element, kind)
        run.widgets[(kind, widget.label)] = widget.id
