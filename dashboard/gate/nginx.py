"""nginx's configuration for the gate: the only way in, with `auth_request` in front of every request.

Before signing in, a client reaches ``/signin``, ``/signout`` and Streamlit's health endpoint
(``/_stcore/health``); every other request (pages, static files, ``/_stcore/stream`` websocket) is first
sent to the sign-in service's ``/auth``: a 401 there becomes a redirect to the sign-in page (which a
websocket handshake cannot follow). The upload endpoint is closed for everyone. Bodies are capped at
`MAX_BODY`, slow clients timed out, connections per address limited, and responses streamed (no
temporary files). nginx runs in the foreground under `dashboard.gate.supervisor`, with its files under
the gate's own folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_BODY = "4k"
#: Connections one client address may hold at once (a browser tab keeps one websocket and a few more).
CONNECTIONS_PER_ADDRESS = 32


class GateUnavailable(RuntimeError):
    """The gate cannot start (no nginx); the message says why."""


@dataclass(frozen=True)
class Listen:
    """Where nginx listens, and the certificate and key when it serves HTTPS."""

    address: str
    port: int
    certificate: Path | None = None
    key: Path | None = None
    #: Take the client's address from the last X-Forwarded-For entry: only when every connection comes
    #: through a proxy that appends it (CloudFront, whose origin-facing addresses alone may connect).
    forwarded_for: bool = False


def nginx_config(listen: Listen, gate_port: int, streamlit_port: int, folder: Path) -> str:
    """The complete nginx.conf (nginx runs with `-p folder -c folder/nginx.conf`)."""
    host = f"[{listen.address}]" if ":" in listen.address else listen.address
    tls = ""
    if listen.certificate and listen.key:
        tls = (
            f" ssl;\n        ssl_certificate {listen.certificate};\n        ssl_certificate_key {listen.key};\n"
            "        ssl_protocols TLSv1.2 TLSv1.3"
        )
    real_ip = (
        "set_real_ip_from 0.0.0.0/0;\n    set_real_ip_from ::/0;\n    real_ip_header X-Forwarded-For;\n    "
        if listen.forwarded_for
        else ""
    )
    return f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size {MAX_BODY};
    client_body_buffer_size 8k;
    client_header_timeout 10s;
    client_body_timeout 10s;
    send_timeout 30s;
    keepalive_timeout 30s;
    proxy_max_temp_file_size 0;
    {real_ip}limit_conn_zone $binary_remote_addr zone=per_address:1m;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen {host}:{listen.port}{tls};
        limit_conn per_address {CONNECTIONS_PER_ADDRESS};
        # Relative redirects: behind CloudFront or TLS, nginx does not know the address the browser used.
        absolute_redirect off;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        location = /_gate/auth {{
            internal;
            proxy_pass http://127.0.0.1:{gate_port}/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
        location = /signin {{ proxy_pass http://127.0.0.1:{gate_port}/signin; }}
        location = /signout {{ proxy_pass http://127.0.0.1:{gate_port}/signout; }}
        location = /_stcore/health {{ proxy_pass http://127.0.0.1:{streamlit_port}; }}
        location ^~ /_stcore/upload_file {{ return 404; }}
        location @signin {{ return 302 /signin; }}
        location / {{
            auth_request /_gate/auth;
            auth_request_set $gate_user $upstream_http_x_dashboard_user;
            error_page 401 = @signin;
            # proxy_set_header here replaces the server's list, so it is repeated in full; the user header
            # a client may have sent is overwritten by the one the service signed.
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Dashboard-User $gate_user;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1d;
            proxy_pass http://127.0.0.1:{streamlit_port};
        }}
    }}
}}
"""
