"""Why CloudFront forwards every viewer header, Host included: Streamlit's WebSocket wants the same origin.

CloudFront connects to the instance by its EC2 name, but the browser's Origin is the cloudfront.net
address; Streamlit accepts the WebSocket only when the Origin's host equals the Host it receives. A real
`pipeline dashboard` gets the upgrade request as CloudFront sends it, with and without the viewer's Host.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from tests.dashboard.test_browser import dashboard_server

VIEWER_HOST = "d111111abcdef8.cloudfront.net"


def websocket_upgrade_status(base_url: str, host: str) -> int:
    """The HTTP status the dashboard answers a WebSocket upgrade from a cloudfront.net page with."""
    address = urlsplit(base_url)
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n"
        f"Origin: https://{VIEWER_HOST}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request.encode())
        status_line = connection.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def test_the_websocket_opens_when_the_viewers_host_is_forwarded_and_not_otherwise(
    seeded_database_url, tmp_path
):
    with dashboard_server(seeded_database_url, tmp_path / "dashboard.log") as (base_url, _):
        forwarded = websocket_upgrade_status(base_url, VIEWER_HOST)
        origin_name = websocket_upgrade_status(base_url, "ec2-198-51-100-7.compute-1.amazonaws.com:8501")

    assert forwarded == 101
    assert origin_name != 101
