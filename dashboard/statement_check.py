"""The SQL explorer's statement check, made with PostgreSQL's own parser (pglast), not with patterns.

A statement passes when it is exactly one plain query (SELECT, VALUES, TABLE or WITH without
data-modifying parts, or EXPLAIN of one), takes no row locks, creates nothing (SELECT INTO), and uses
only the functions, operators and constructs of an allow list (`dashboard.statement_bounds`): none
that reaches beyond the query or affects other sessions (signalling backends, sleeping, advisory locks,
configuration, large objects, files, sequences, dblink, SQL text run by a function), and none that
builds values larger than its inputs, so one statement's memory is bounded. It reads no
view of other sessions (pg_stat_activity, pg_stat_statements, pg_locks ...): every visitor's statement
runs as the same role, so those would show one visitor another's statements.

The check is one layer of several: the statement then runs as its own role with limits set on the role,
in a READ ONLY transaction, through a cursor (see `dashboard.explorer`). What the check passes is the
user's text itself; it is never rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pglast.parser import ParseError, parse_sql, parse_sql_json
from pglast.stream import RawStream

from dashboard.statement_bounds import BoundsVisitor, function_problem, parse_tree_nodes

#: Longer text is refused unread: an explorer statement is something a person types.
MAX_STATEMENT_CHARACTERS = 20_000

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
    """A statement that passed the check: the user's text as given, and whether it is an EXPLAIN.

    `query` is the query an EXPLAIN explains (the parser's own rendering of it), which the runner plans
    first to bound the plan's memory; a plain query is planned as given.
    """

    text: str
    explain: bool
    query: str | None = None

    @property
    def planned_text(self) -> str:
        return self.query or self.text


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
    return CheckedStatement(sql, explain, _explained_query(sql) if explain else None)


def _explained_query(sql: str) -> str:
    # Only for planning: what runs is always the visitor's own text.
    explain: Any = parse_sql(sql)[0].stmt
    return str(RawStream()(explain.query))


def _statement_word(kind: str) -> str:
    # CreateStmt -> CREATE, DropStmt -> DROP, AlterTableStmt -> ALTER ...: the first word of the node name.
    name = kind.removesuffix("Stmt")
    for index in range(1, len(name)):
        if name[index].isupper():
            return name[:index].upper()
    return name.upper()


def _check_query(query: dict[str, Any]) -> None:
    """One walk over the query's tree: what it may not do, the allow list's bounds, the relations it reads."""
    bounds = BoundsVisitor(query)
    first_problem: str | None = None
    relations: list[dict[str, Any]] = []
    for name, node in parse_tree_nodes(query):
        bounds.visit(name, node)
        if first_problem is None:
            first_problem = _query_problem(name, node)
        if name == "RangeVar":
            relations.append(node)
    if first_problem:
        raise RefusedStatement(first_problem)
    problem = bounds.problem()
    if problem:
        raise RefusedStatement(problem)
    # Relations last: `pg_terminate_backend(pid) FROM pg_stat_activity` is refused for its function.
    for relation in relations:
        _check_relation(relation)


def _query_problem(name: str, node: dict[str, Any]) -> str | None:
    """Why this node makes the statement more than a plain query (writes, creates, locks, calls out)."""
    if name in _WRITING_NODES:
        return f"a query may not contain {_WRITING_NODES[name]} (data-modifying WITH)"
    if name == "SelectStmt" and node.get("intoClause"):
        return "SELECT INTO creates a table; use a plain SELECT"
    if name == "SelectStmt" and node.get("lockingClause"):
        return "FOR UPDATE / FOR SHARE lock rows; remove the locking clause"
    if name == "FuncCall":
        return function_problem(node)
    return None


def _check_relation(relation: dict[str, Any]) -> None:
    table = relation.get("relname", "").lower()
    if table.startswith(DENIED_RELATION_PREFIXES):
        raise RefusedStatement(f"{table} shows other sessions and their statements; it may not be read here")
