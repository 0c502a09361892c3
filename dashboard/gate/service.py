"""The sign-in service nginx asks about every request (`auth_request`), and the sign-in page itself.

Routes (on 127.0.0.1; nginx sets X-Real-IP to the client's address):

- ``GET /auth``: 200 with the signed user header for a valid session cookie, else 401 (nginx then
  sends the browser to the sign-in page, and a websocket handshake fails);
- ``GET /signin``: the sign-in form; ``POST /signin``: checks the form (at most `MAX_BODY_BYTES`, a
  user name of `MAX_USERNAME` and a password of `MAX_PASSWORD` characters) after the throttle allows it,
  off the event loop (scrypt takes tens of milliseconds), and sets the session cookie;
- ``GET /signout``: clears the cookie.

Every page is fixed text: nothing a client sent is written back.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboard.gate.credentials import Credentials
from dashboard.gate.throttle import Throttle
from dashboard.gate.tokens import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    USER_HEADER,
    session_cookie,
    session_user,
    user_header,
)

MAX_BODY_BYTES = 4096
MAX_USERNAME = 64
MAX_PASSWORD = 1024
_ADDRESS_HEADER = "x-real-ip"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label,input,button{{display:block;width:100%;margin:.4rem 0}}input{{padding:.4rem}}
button{{padding:.5rem;background:#ff4b4b;color:#fff;border:0;border-radius:.3rem}}
.message{{color:#b00020}}</style></head>
<body><h1>Sign in</h1>{message}
<form method="post" action="/signin">
<label for="username">User name</label>
<input id="username" name="username" value="admin" maxlength="{max_username}" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" maxlength="{max_password}"
 autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>
"""


def _page(message: str = "", status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    shown = f'<p class="message" role="alert">{html.escape(message)}</p>' if message else ""
    body = _PAGE.format(message=shown, max_username=MAX_USERNAME, max_password=MAX_PASSWORD)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


class Gate:
    """The service's state: the credentials, the signing key and the throttle."""

    def __init__(self, credentials: Credentials, key: str, throttle: Throttle | None = None) -> None:
        self.credentials, self.key = credentials, key
        self.throttle = throttle or Throttle()

    async def auth(self, request: Request) -> Response:
        user = session_user(self.key, request.cookies.get(SESSION_COOKIE))
        if user is None:
            return Response(status_code=401)
        return Response(status_code=200, headers={USER_HEADER: user_header(self.key, user)})

    async def sign_in_page(self, request: Request) -> Response:
        return _page()

    async def sign_in(self, request: Request) -> Response:
        form = await _small_form(request)
        if form is None:
            return _page("The form is too large.", 413)
        username, password = form.get("username", ""), form.get("password", "")
        if not username or not password or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            return _page("Enter a user name and a password.", 400)
        address = request.headers.get(_ADDRESS_HEADER) or (request.client.host if request.client else "")
        verdict = self.throttle.verdict(address, username)
        if not verdict.allowed:
            wait = max(1, round(verdict.retry_after))
            return _page(
                f"Not checked: {verdict.reason}. Try again in {wait} s.", 429, {"Retry-After": str(wait)}
            )
        with self.throttle.checking(address):
            accepted = await run_in_threadpool(self.credentials.accepts, username, password)
        if not accepted:
            self.throttle.failed(address, username)
            return _page("Wrong user name or password.", 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_cookie(self.key, username),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.headers.get("x-forwarded-proto") == "https",
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
        return response


async def _small_form(request: Request) -> dict[str, str] | None:
    """The url-encoded form's first value of each field, or None when the body exceeds MAX_BODY_BYTES."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    except ValueError:
        return None
    return {name: values[0] for name, values in fields.items()}


def gate_app(gate: Gate) -> Starlette:
    """The sign-in service as an ASGI application."""
    return Starlette(
        routes=[
            Route("/auth", gate.auth, methods=["GET"]),
            Route("/signin", gate.sign_in_page, methods=["GET"]),
            Route("/signin", gate.sign_in, methods=["POST"]),
            Route("/signout", gate.sign_out, methods=["GET"]),
        ]
    )
