"""The SQL explorer's statement check, made with PostgreSQL's own parser (pglast), not with patterns.

A statement passes when it is exactly one plain query (SELECT, VALUES, TABLE or WITH without
data-modifying parts, or EXPLAIN of one), takes no row locks, creates nothing (SELECT INTO), and calls
only functions that can neither reach beyond the query nor affect other sessions: no signalling of
other backends, sleeping, advisory locks, configuration, large objects, files, sequences, other
databases (dblink), or functions that run SQL text of their own (query_to_xml, ts_stat). It reads no
view of other sessions (pg_stat_activity, pg_stat_statements, pg_locks ...): every visitor's statement
runs as the same role, so those would show one visitor another's statements.

The check is one layer of several: the statement then runs as its own role with limits set on the role,
in a READ ONLY transaction, through a cursor (see `dashboard.explorer`). What the check passes is the
user's text itself; it is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast.parser import ParseError, parse_sql_json

#: Longer text is refused unread: an explorer statement is something a person types.
MAX_STATEMENT_CHARACTERS = 20_000

# Functions whose name starts with one of these are refused unless `ALLOWED_FUNCTIONS` names them:
# pg_ covers backends (pg_terminate_backend, pg_cancel_backend), sleeping (pg_sleep*), advisory locks
# (pg_advisory*, pg_try_advisory*), configuration (pg_reload_conf), files (pg_read_file, pg_ls_dir),
# notifications, replication and WAL control; lo_ the large objects; dblink other databases; the
# *_to_xml families and ts_stat / ts_rewrite run SQL text given as an argument, out of this check's sight.
DENIED_FUNCTION_PREFIXES: tuple[str, ...] = (
    "pg_",
    "lo_",
    "dblink",
    "query_to_xml",
    "cursor_to_xml",
    "table_to_xml",
    "schema_to_xml",
    "database_to_xml",
)
DENIED_FUNCTIONS: frozenset[str] = frozenset(
    {
        "set_config",
        "loread",
        "lowrite",
        "nextval",
        "setval",
        "ts_stat",
        "ts_rewrite",
        "inet_server_addr",
        "inet_server_port",
        "explorer_fetch",
    }
)
#: pg_ functions that only describe values or the schema.
ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    {
        "pg_typeof",
        "pg_column_size",
        "pg_column_compression",
        "pg_size_pretty",
        "pg_size_bytes",
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_get_viewdef",
        "pg_get_indexdef",
        "pg_get_constraintdef",
        "pg_get_expr",
        "pg_input_is_valid",
    }
)

#: Views of the server's sessions and statements. Every visitor runs as the same role, and a role sees
#: its own sessions' query text, so these would show one visitor the statements of another.
DENIED_RELATION_PREFIXES: tuple[str, ...] = ("pg_stat", "pg_locks", "pg_prepared_xacts")

# Statements nested anywhere in a query that would write.
_WRITING_NODES = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
}
# Parse-tree node names as PostgreSQL's own words, for the message that refuses a statement kind.
_KIND_WORDS = {
    "CopyStmt": "COPY",
    "VariableSetStmt": "SET",
    "VariableShowStmt": "SHOW",
    "TransactionStmt": "a transaction command",
    "DoStmt": "DO",
    "CallStmt": "CALL",
    "LockStmt": "LOCK",
    "DeclareCursorStmt": "DECLARE",
    "FetchStmt": "FETCH",
    "PrepareStmt": "PREPARE",
    "ExecuteStmt": "EXECUTE",
    "VacuumStmt": "VACUUM",
    "NotifyStmt": "NOTIFY",
    "ListenStmt": "LISTEN",
}


class RefusedStatement(ValueError):
    """The SQL explorer will not run this text; the message says why, in one line."""


@dataclass(frozen=True)
class CheckedStatement:
    """A statement that passed the check: the user's text as given, and whether it is an EXPLAIN."""

    text: str
    explain: bool


def check_read_only_statement(sql: str) -> CheckedStatement:
    """The one plain query in `sql`, unchanged, or `RefusedStatement` saying what is not allowed."""
    if len(sql) > MAX_STATEMENT_CHARACTERS:
        raise RefusedStatement(f"the statement is longer than {MAX_STATEMENT_CHARACTERS:,} characters")
    try:
        return _check(sql)
    except RefusedStatement:
        raise
    except RecursionError:
        # The parse tree of deeply nested expressions is deeper than Python decodes or walks.
        raise RefusedStatement("the statement is nested too deeply to check; simplify it") from None
    except Exception as error:  # a failure of the check itself refuses; it never passes the text on
        raise RefusedStatement(f"the statement could not be checked ({type(error).__name__})") from None


def _check(sql: str) -> CheckedStatement:
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError as error:
        raise RefusedStatement(f"not valid SQL: {error}") from None
    statements = tree.get("stmts", [])
    if not statements:
        raise RefusedStatement("enter a SELECT, VALUES, WITH or EXPLAIN statement")
    if len(statements) > 1:
        raise RefusedStatement("only one statement at a time: remove the ';' between statements")
    statement = statements[0]["stmt"]
    kind, body = next(iter(statement.items()))
    explain = kind == "ExplainStmt"
    if explain:
        kind, body = next(iter(body["query"].items()))
    if kind != "SelectStmt":
        word = _WRITING_NODES.get(kind) or _KIND_WORDS.get(kind) or _statement_word(kind)
        raise RefusedStatement(
            f"only a query (SELECT, VALUES, TABLE, WITH or EXPLAIN) may run here, not {word}"
        )
    _check_query({kind: body})
    return CheckedStatement(sql, explain)


def _statement_word(kind: str) -> str:
    # CreateStmt -> CREATE, DropStmt -> DROP, AlterTableStmt -> ALTER ...: the first word of the node name.
    name = kind.removesuffix("Stmt")
    for index in range(1, len(name)):
        if name[index].isupper():
            return name[:index].upper()
    return name.upper()


def _check_query(query: dict[str, Any]) -> None:
    nodes = list(_nodes(query))
    for name, node in nodes:
        if name in _WRITING_NODES:
            raise RefusedStatement(f"a query may not contain {_WRITING_NODES[name]} (data-modifying WITH)")
        if name == "SelectStmt" and node.get("intoClause"):
            raise RefusedStatement("SELECT INTO creates a table; use a plain SELECT")
        if name == "SelectStmt" and node.get("lockingClause"):
            raise RefusedStatement("FOR UPDATE / FOR SHARE lock rows; remove the locking clause")
        if name == "FuncCall":
            _check_function(node)
    # Relations last: `pg_terminate_backend(pid) FROM pg_stat_activity` is refused for its function.
    for name, node in nodes:
        if name == "RangeVar":
            _check_relation(node)


def _check_relation(relation: dict[str, Any]) -> None:
    table = relation.get("relname", "").lower()
    if table.startswith(DENIED_RELATION_PREFIXES):
        raise RefusedStatement(f"{table} shows other sessions and their statements; it may not be read here")


def _check_function(call: dict[str, Any]) -> None:
    parts = [part["String"]["sval"] for part in call["funcname"] if "String" in part]
    function = parts[-1].lower()
    schema = parts[0].lower() if len(parts) > 1 else None
    if schema not in (None, "pg_catalog", "public"):
        raise RefusedStatement(f"functions of schema {schema!r} may not be called here")
    if function in ALLOWED_FUNCTIONS:
        return
    if function in DENIED_FUNCTIONS or function.startswith(DENIED_FUNCTION_PREFIXES):
        raise RefusedStatement(f"the function {function}() may not be called here")


def _nodes(tree: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every parse-tree node of `tree` as (node type, fields), depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key[:1].isupper() and isinstance(value, dict):
                    yield key, value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
