"""Credentials out of every message: the one place that knows what a password in a database address looks like.

Messages of libpq, of psycopg and of the settings may echo a database URI whole, malformed ones too, so
anything that may hold one passes through `redact` before it is shown or logged.
"""

from __future__ import annotations

import re

# scheme://user:password@host, and a keyword conninfo's password=... (quoted or not).
_URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):[^\s@]*@")
_KEYWORD_PASSWORD = re.compile(r"(?P<head>password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` (a URI, a conninfo string or a message holding either) with every password as ``***``.

    Pattern-based rather than parsed, so that a URI too malformed to parse is redacted all the same.
    """
    text = _URI_PASSWORD.sub(lambda match: f"{match['head']}:***@", text)
    return _KEYWORD_PASSWORD.sub(lambda match: f"{match['head']}***", text)


def one_line_reason(error: BaseException) -> str:
    """An error as one line with any credential it echoes redacted."""
    return redact(" ".join(str(error).split()))
