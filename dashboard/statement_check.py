"""The SQL explorer's first guard: exactly one statement, and it must be a SELECT or a WITH query.

This check gives a clear message for the obvious cases; it is not what keeps the database safe. The
statement then runs in a READ ONLY transaction as a role that may only SELECT (see
`dashboard.queries.run_explorer_statement`), so a statement that fools this check still cannot write.
"""

from __future__ import annotations

import re

ALLOWED_FIRST_WORDS = ("select", "with")


class RefusedStatement(ValueError):
    """The SQL explorer will not run this text; the message says why, in one line."""


def _code_outside_literals(sql: str) -> str:
    """`sql` with string literals, quoted identifiers and comments blanked out (same length)."""
    kept: list[str] = []
    index, length = 0, len(sql)
    while index < length:
        char = sql[index]
        if sql.startswith("--", index):
            end = sql.find("\n", index)
            end = length if end == -1 else end
        elif sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            end = length if end == -1 else end + 2
        elif char in "'\"":
            end = index + 1
            while end < length:
                if sql[end] == char and sql.startswith(char * 2, end):
                    end += 2  # a doubled quote is an escaped quote inside the literal
                    continue
                if sql[end] == char:
                    break
                end += 1
            end = min(end + 1, length)
        elif char == "$":
            closing = _dollar_quote_end(sql, index)
            if closing is None:
                kept.append(char)
                index += 1
                continue
            end = closing
        else:
            kept.append(char)
            index += 1
            continue
        kept.append(" " * (end - index))
        index = end
    return "".join(kept)


def _dollar_quote_end(sql: str, start: int) -> int | None:
    """Where the dollar-quoted string starting at `start` ends, or None if `$` opens none ($1, a$b)."""
    close = sql.find("$", start + 1)
    if close == -1:
        return None
    tag = sql[start : close + 1]
    if not all(char.isalnum() or char == "_" for char in tag[1:-1]) or tag[1:2].isdigit():
        return None
    end = sql.find(tag, close + 1)
    return len(sql) if end == -1 else end + len(tag)


def check_read_only_statement(sql: str) -> str:
    """Return the one SELECT or WITH statement in `sql` (without a trailing ';'), or raise `RefusedStatement`."""
    code = _code_outside_literals(sql)
    stripped = code.rstrip().rstrip(";").rstrip()
    if not stripped.strip():
        raise RefusedStatement("enter a SELECT or WITH statement")
    if ";" in stripped:
        raise RefusedStatement("only one statement at a time: remove the ';' between statements")
    first_word_match = re.match(r"[\s(]*([A-Za-z_]*)", stripped)
    first_word = first_word_match[1].lower() if first_word_match else ""
    if first_word not in ALLOWED_FIRST_WORDS:
        raise RefusedStatement(
            f"only SELECT or WITH statements may run here, not {first_word.upper() or stripped.split()[0]!r}"
        )
    return sql[: len(stripped)].strip()
