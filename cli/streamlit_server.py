"""Streamlit's own command line (`python -m cli.streamlit_server run ...`), started by `pipeline dashboard`,
with the browser messages a visitor may not send refused.

Streamlit acts on every BackMsg of a connected browser. One of them, `clear_cache` (the "Clear cache"
menu entry and the `c` key in development builds), empties every `st.cache_data` and `st.cache_resource`
of the server: every visitor's cached results and the pages' shared database connection, so one signed-in
visitor could make every page of every visitor recompute, again and again. `client.toolbarMode` hides
the menu entry, but a client writes its own messages. So the server drops these before a session sees
them, logging each once per kind; the app's caches expire by their time to live alone.

The modules the pages run on are imported before the server answers: imported inside the first page
run instead, they made the first visitors after a start wait about 1.5 s longer. Imported before the
server's runtime exists, each `st.cache_data` decorator logs that it checks its settings on a stand-in
cache (the caches themselves are the runtime's, looked up at each call); the preload drops that line.
"""

from __future__ import annotations

import importlib
import logging
import socket
import sys
from asyncio import base_events

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.runtime.app_session import AppSession

#: BackMsg kinds no visitor may send: clearing every cache of the server, turning on re-running on
#: file saves (the file watcher is off), asking the server to read its git repository.
REFUSED_BACK_MESSAGES = frozenset({"clear_cache", "set_run_on_save", "load_git_info"})

#: What the pages import (pandas, pyarrow, plotly, psycopg through these), loaded at start.
PRELOADED_MODULES = ("dashboard.display", "dashboard.queries", "plotly.express")
#: Streamlit's cache modules, which log "No runtime found" for each decorator applied before the server.
CACHE_LOGGERS = ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.caching.cache_resource_api")

log = logging.getLogger(__name__)
_handle_back_message = AppSession.handle_backmsg
_logged: set[str] = set()


def _handle_allowed_back_message(session: AppSession, message: BackMsg) -> None:
    kind = message.WhichOneof("type")
    if kind in REFUSED_BACK_MESSAGES:
        if kind not in _logged:
            _logged.add(kind)
            log.warning("refused a browser's %s message (further ones are refused silently)", kind)
        return
    _handle_back_message(session, message)


def refuse_visitor_control_messages() -> None:
    """Make every Streamlit session of this process drop the messages of `REFUSED_BACK_MESSAGES`."""
    AppSession.handle_backmsg = _handle_allowed_back_message  # type: ignore[method-assign,assignment]


def _no_delay(sock: socket.socket) -> None:
    if sock.family in {socket.AF_INET, socket.AF_INET6} and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def send_small_messages_at_once() -> None:
    """Turn Nagle's algorithm off on every TCP connection the server accepts.

    asyncio turns it off only for sockets whose protocol number says TCP, and an accepted socket says 0;
    with it on, each page run's second small message waited for the browser's delayed acknowledgement
    (40 ms), and so did every run: about 45 ms of each page's time on an idle server.
    """
    base_events._set_nodelay = _no_delay  # type: ignore[attr-defined]


def _not_about_the_missing_runtime(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("No runtime found")


def preload_page_modules() -> None:
    """Import the pages' modules now, without a "No runtime found" line per cached function."""
    loggers = [logging.getLogger(name) for name in CACHE_LOGGERS]
    for logger in loggers:
        logger.addFilter(_not_about_the_missing_runtime)
    try:
        for name in PRELOADED_MODULES:
            importlib.import_module(name)
    finally:
        for logger in loggers:
            logger.removeFilter(_not_about_the_missing_runtime)


def main() -> None:
    refuse_visitor_control_messages()
    send_small_messages_at_once()
    preload_page_modules()
    from streamlit.web.cli import main as streamlit_main

    sys.exit(streamlit_main(prog_name="streamlit"))


if __name__ == "__main__":
    main()
