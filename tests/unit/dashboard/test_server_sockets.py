"""The dashboard's Streamlit server sends small messages at once: Nagle's algorithm is off on the
connections it accepts (asyncio leaves it on for an accepted socket, whose protocol number reads 0)."""

from __future__ import annotations

import asyncio
import socket
from asyncio import base_events

import pytest

from cli.streamlit_server import send_small_messages_at_once


async def _accepted_socket_delays() -> int:
    """TCP_NODELAY of the server side of one connection, on a listening socket made as servers make it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # protocol number 0, as uvicorn's
    listener.bind(("127.0.0.1", 0))
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted_socket = writer.get_extra_info("socket")
        seen.set_result(accepted_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        result = await asyncio.wait_for(seen, 10)
        writer.close()
    return result


def test_asyncio_alone_leaves_nagle_on_for_an_accepted_socket() -> None:
    # What the server works around: if this ever fails, asyncio fixed it and the workaround can go.
    assert asyncio.run(_accepted_socket_delays()) == 0


def test_the_server_turns_nagle_off_for_every_accepted_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_events, "_set_nodelay", base_events._set_nodelay)  # put back afterwards
    send_small_messages_at_once()
    assert asyncio.run(_accepted_socket_delays()) != 0
