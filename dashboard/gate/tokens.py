"""The gate's two signed values (itsdangerous, HMAC-SHA1 over a key only the gate and Streamlit hold).

- the session cookie: the user name and when it was signed; valid for `SESSION_SECONDS`;
- the user header: the user name, signed again by the service for each request nginx lets through, and
  checked by Streamlit (`dashboard.login`), so that a client that reached Streamlit some other way could
  not name itself a user by sending the header.
"""

from __future__ import annotations

from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

SESSION_COOKIE = "dashboard_session"
#: A sign-in lasts this long; then the browser is sent to the sign-in page again.
SESSION_SECONDS = 12 * 3600
USER_HEADER = "X-Dashboard-User"


def session_cookie(key: str, username: str) -> str:
    return URLSafeTimedSerializer(key, salt="dashboard-session").dumps(username)


def session_user(key: str, cookie: str | None) -> str | None:
    """The user name of a valid, unexpired session cookie, else None."""
    if not cookie:
        return None
    try:
        name = URLSafeTimedSerializer(key, salt="dashboard-session").loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:  # SignatureExpired is one
        return None
    return name if isinstance(name, str) else None


def user_header(key: str, username: str) -> str:
    return Signer(key, salt="dashboard-user").sign(username).decode()


def header_user(key: str, header: str | None) -> str | None:
    """The user name of a user header the gate signed, else None."""
    if not header:
        return None
    try:
        return Signer(key, salt="dashboard-user").unsign(header).decode()
    except BadSignature:
        return None
