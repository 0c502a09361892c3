"""A local OpenID Connect provider standing in for Cognito's hosted UI, for the st.login tests.

An HTTP server on 127.0.0.1 with what an authorization-code client uses: the discovery document, an
``/authorize`` that signs the one configured user in at once (no page) and redirects back with a
code, a ``/token`` that checks the client's secret, the code, its redirect URI and PKCE verifier and
answers with an RS256-signed ID token carrying the request's nonce, and the ``/jwks`` to verify it.
Like Cognito's, the discovery document names no ``end_session_endpoint``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_ID = "stand-in-key-1"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _integer_b64url(number: int) -> str:
    return _b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


@dataclass
class ProviderState:
    """The provider's client, user and signing key, and what it has seen (for the tests' assertions)."""

    client_id: str
    client_secret: str
    email: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    tokens_issued: int = 0

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": KEY_ID,
                    "use": "sig",
                    "alg": "RS256",
                    "n": _integer_b64url(numbers.n),
                    "e": _integer_b64url(numbers.e),
                }
            ]
        }

    def id_token(self, issuer: str, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "sub": "0f6c3a52-stand-in-user",
            "aud": self.client_id,
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "email": self.email,
            "email_verified": True,
            "token_use": "id",
            **({"nonce": nonce} if nonce else {}),
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


class _Handler(BaseHTTPRequestHandler):
    server: _ProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def issuer(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/.well-known/openid-configuration":
            self._send_json(200, self._discovery())
        elif url.path == "/jwks":
            self._send_json(200, self.server.state.jwks())
        elif url.path == "/authorize":
            self._authorize({name: values[0] for name, values in parse_qs(url.query).items()})
        else:
            self._send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self._send_json(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
        self._token(form)

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, query: dict[str, str]) -> None:
        state = self.server.state
        state.authorize_requests.append(query)
        if query.get("client_id") != state.client_id or query.get("response_type") != "code":
            self._send_json(400, {"error": "invalid_request"})
            return
        code = secrets.token_urlsafe(16)
        state.codes[code] = query
        target = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        self.send_response(302)
        self.send_header("Location", f"{query['redirect_uri']}?{urlencode(target)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _client_credentials(self, form: dict[str, str]) -> tuple[str | None, str | None]:
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def _token(self, form: dict[str, str]) -> None:
        state = self.server.state
        client_id, secret = self._client_credentials(form)
        if (client_id, secret) != (state.client_id, state.client_secret):
            self._send_json(401, {"error": "invalid_client"})
            return
        request = state.codes.pop(form.get("code", ""), None)
        if request is None or form.get("redirect_uri") != request.get("redirect_uri"):
            self._send_json(400, {"error": "invalid_grant"})
            return
        challenge = request.get("code_challenge")
        if challenge is not None:
            verifier = form.get("code_verifier", "").encode()
            if _b64url(hashlib.sha256(verifier).digest()) != challenge:
                self._send_json(400, {"error": "invalid_grant", "error_description": "PKCE"})
                return
        state.tokens_issued += 1
        self._send_json(
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 3600,
                "id_token": state.id_token(self.issuer, request.get("nonce")),
            },
        )


class _ProviderServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ProviderState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@dataclass(frozen=True)
class RunningProvider:
    """A provider being served: its base URL (the issuer), discovery URL and state."""

    base_url: str
    state: ProviderState

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"


@contextlib.contextmanager
def oidc_provider(*, client_id: str, client_secret: str, email: str) -> Iterator[RunningProvider]:
    """Serve a stand-in provider on a free local port for the block."""
    server = _ProviderServer(ProviderState(client_id, client_secret, email))
    thread = threading.Thread(target=server.serve_forever, name="oidc-stand-in", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield RunningProvider(f"http://{host!s}:{port}", server.state)
    finally:
        server.shutdown()
        server.server_close()
