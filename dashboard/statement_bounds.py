"""What keeps one explorer statement's memory bounded: only constructs whose values cannot grow, by allow list.

PostgreSQL's `work_mem` bounds sorts, hashes and materialised rows (they spill to temporary files, which
`temp_file_limit` bounds), but not the values a statement builds: `repeat`, `lpad`, `string_agg`,
`array_agg`, `json_agg`, `regexp_replace`, `||`, row values and whole-row references, or a cast to
`char(10485760)` each hold hundreds of megabytes in one backend, and a subquery that uses a column
twice, nested 28 times, makes the planner build an expression of 2^28 nodes (gigabytes, and the planner
does not even stop for statement_timeout). So the check is default-deny: a statement may use only the
parse-tree nodes, functions and operators listed here, each of which makes a value no larger than its
inputs (or of fixed size), no recursive WITH, no whole-row reference, no type modifier above
`MAX_TYPE_MODIFIER`; and the size of its expressions once the planner has pulled its subqueries up is
estimated and held under `MAX_EXPANDED_NODES`. Together with the role's `work_mem`, `hash_mem_multiplier`
and `temp_file_limit` (sql/0023), that bounds a backend's memory by the statement's text, not by the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: Functions that return a value of fixed size or no larger than their arguments, aggregates whose state
#: is fixed or kept by a tuplesort (which spills), window functions, and the row sources that spill.
ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    {
        # Aggregates with fixed state; percentile_*/mode sort through a tuplesort, which spills.
        *("count", "sum", "avg", "min", "max", "any_value", "bool_and", "bool_or", "every"),
        *("stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop"),
        *("corr", "covar_pop", "covar_samp", "regr_slope", "regr_intercept", "regr_r2", "regr_count"),
        *("regr_avgx", "regr_avgy", "regr_sxx", "regr_syy", "regr_sxy", "bit_and", "bit_or", "bit_xor"),
        *("percentile_cont", "percentile_disc", "mode"),
        # Window functions (their frames are kept in a tuplestore, which spills).
        *("row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile"),
        *("lag", "lead", "first_value", "last_value", "nth_value"),
        # Numbers (a numeric has at most 131,072 digits).
        *("abs", "ceil", "ceiling", "floor", "round", "trunc", "sign", "sqrt", "cbrt", "exp", "ln"),
        *("log", "log10", "power", "pow", "mod", "div", "pi", "degrees", "radians", "random"),
        *("sin", "cos", "tan", "asin", "acos", "atan", "atan2", "width_bucket", "scale", "gcd", "lcm"),
        *("num_nulls", "num_nonnulls"),
        # Dates and times.
        *("date_trunc", "date_part", "extract", "date_bin", "age", "now", "clock_timestamp"),
        *("make_date", "make_time", "make_timestamp", "make_timestamptz", "make_interval", "isfinite"),
        *("to_char", "to_date", "to_timestamp", "to_number", "timezone"),
        *("justify_days", "justify_hours", "justify_interval"),
        # Text no longer than its argument (or of fixed size).
        *("length", "char_length", "character_length", "octet_length", "bit_length", "lower", "upper"),
        *("initcap", "substr", "substring", "left", "right", "trim", "btrim", "ltrim", "rtrim"),
        *("position", "strpos", "starts_with", "split_part", "md5", "ascii", "chr", "to_hex", "reverse"),
        # Arrays given as literals (none can be built), and rows from a series (kept in a tuplestore).
        *("cardinality", "array_length", "array_lower", "array_upper", "array_ndims", "unnest"),
        "generate_series",
        # pg_ functions that only describe values or the schema.
        *("pg_typeof", "pg_column_size", "pg_size_pretty", "pg_size_bytes", "pg_relation_size"),
        *("pg_total_relation_size", "pg_table_size", "pg_indexes_size", "pg_input_is_valid"),
    }
)

#: Parse-tree nodes of a plain query that build no value larger than their inputs.
ALLOWED_NODES: frozenset[str] = frozenset(
    {
        *("SelectStmt", "ExplainStmt", "DefElem", "ResTarget", "ColumnRef", "A_Star", "String"),
        *("A_Const", "Integer", "Float", "Boolean", "BitString", "List", "TypeCast", "TypeName"),
        *("A_Expr", "BoolExpr", "BooleanTest", "NullTest", "CaseExpr", "CaseWhen", "CoalesceExpr"),
        *("MinMaxExpr", "SQLValueFunction", "CollateClause", "NamedArgExpr", "A_Indirection", "A_Indices"),
        *("FuncCall", "WindowDef", "SortBy", "GroupingSet", "GroupingFunc", "SubLink", "Alias"),
        *("RangeVar", "RangeSubselect", "RangeFunction", "RangeTableSample", "JoinExpr"),
        *("WithClause", "CommonTableExpr"),
    }
)
#: Words for the refused nodes a visitor is likely to write.
NODE_WORDS = {
    "RowExpr": "row constructors such as ROW(a, b) or (a, b)",
    "A_ArrayExpr": "ARRAY[...] constructors",
    "XmlExpr": "XML functions",
    "XmlSerialize": "XMLSERIALIZE",
    "RangeTableFunc": "XMLTABLE",
    "JsonTable": "JSON_TABLE",
    "JsonObjectConstructor": "JSON_OBJECT",
    "JsonArrayConstructor": "JSON_ARRAY",
    "JsonArrayQueryConstructor": "JSON_ARRAY",
    "JsonObjectAgg": "JSON_OBJECTAGG",
    "JsonArrayAgg": "JSON_ARRAYAGG",
    "ColumnDef": "column definition lists",
}
#: Concatenation (of text, arrays, JSON, bit strings) builds longer values; a regular expression
#: (~, SIMILAR TO) is compiled into automata that held 165 MB for one 40-character pattern. LIKE stays.
DENIED_OPERATORS: frozenset[str] = frozenset({"||", "~", "~*", "!~", "!~*"})
#: char(n), bit(n) and the like pad a value to n: a cast to char(10485760) makes 10 MB from ''.
MAX_TYPE_MODIFIER = 1_000
#: Expression nodes once the planner has pulled every subquery up into its parent (estimated from above).
MAX_EXPANDED_NODES = 100_000


class BoundsVisitor:
    """The allow list as a visitor of the statement check's one walk over a query's parse tree.

    `visit` is called with every node of the query (a SelectStmt's tree), in the walk's order; then
    `problem` says why the query could hold unbounded memory, or None when it cannot. A whole-row
    reference can only be told from a column once every table name of the query is known, so column
    references are judged at the end, each in its place in the walk's order.
    """

    def __init__(self, query: dict[str, Any]) -> None:
        self._query = query
        self._names: set[str] = set()
        self._expanded_stars: set[int] = set()
        self._column_references: list[tuple[int, dict[str, Any]]] = []
        self._first_problem: tuple[int, str] | None = None
        self._visited = 0

    def visit(self, name: str, node: dict[str, Any]) -> None:
        """Take in one node of the query's tree: the names it defines, or what it breaks."""
        position, self._visited = self._visited, self._visited + 1
        self._learn_names(name, node)
        if self._first_problem is not None:
            return
        if name == "ColumnRef":
            self._column_references.append((position, node))
            return
        problem = _node_problem(name, node)
        if problem:
            self._first_problem = (position, problem)

    def problem(self) -> str | None:
        """Why the visited query could hold unbounded memory (the first such node), or None."""
        found = [self._first_problem] if self._first_problem else []
        for position, node in self._column_references:
            problem = self._column_problem(node)
            if problem:
                found.append((position, problem))
                break
        if found:
            return min(found)[1]
        size = _expanded_size(self._query)
        if size > MAX_EXPANDED_NODES:
            return (
                f"its subqueries, pulled up, make expressions of about {size:,} nodes "
                f"(at most {MAX_EXPANDED_NODES:,}); use each subquery's column fewer times"
            )
        return None

    def _learn_names(self, name: str, node: dict[str, Any]) -> None:
        # Every name a table, subquery or CTE is known by: as a column reference, each is a whole row.
        # A function in FROM is left out: the allowed ones return one column, which its alias names.
        if name in ("RangeVar", "RangeSubselect", "JoinExpr"):
            alias = node.get("alias")
            if isinstance(alias, dict) and alias.get("aliasname"):
                self._names.add(alias["aliasname"])
        if name == "RangeVar":
            self._names.add(node["relname"])
        elif name == "CommonTableExpr":
            self._names.add(node["ctename"])
        elif name == "SelectStmt":
            # The `*` and `t.*` that stand alone in a select list are expanded into columns.
            for target in node.get("targetList", []):
                value = target.get("ResTarget", {}).get("val", {})
                if "ColumnRef" in value:
                    self._expanded_stars.add(id(value["ColumnRef"]))

    def _column_problem(self, node: dict[str, Any]) -> str | None:
        fields = node["fields"]
        if "A_Star" in fields[-1]:
            if id(node) not in self._expanded_stars:
                return "a whole row (t.*) may only be selected as columns, not used as one value"
        elif _strings(fields)[-1] in self._names:
            return f"a whole-row reference ({_strings(fields)[-1]}) may not be used here; name its columns"
        return None


def function_problem(call: dict[str, Any]) -> str | None:
    """Why the function of a FuncCall node may not be called (another schema, or not allowed), or None."""
    parts = _strings(call["funcname"])
    function = parts[-1].lower()
    schema = parts[0].lower() if len(parts) > 1 else None
    if schema not in (None, "pg_catalog", "public"):
        return f"functions of schema {schema!r} may not be called here"
    if function not in ALLOWED_FUNCTIONS:
        return f"the function {function}() may not be called here"
    return None


def _node_problem(name: str, node: dict[str, Any]) -> str | None:
    if name not in ALLOWED_NODES:
        return f"{NODE_WORDS.get(name, name)} may not be used here"
    if name == "FuncCall":
        return function_problem(node)
    if name == "A_Expr":
        operator = "".join(_strings(node.get("name", [])))
        # A prefix ~ (no left operand) is the bitwise NOT of a number.
        if operator in DENIED_OPERATORS and (operator != "~" or "lexpr" in node):
            return f"the operator {operator} may not be used here (it builds longer values or a regular expression)"
    elif name == "SubLink" and node.get("subLinkType") == "ARRAY_SUBLINK":
        return "ARRAY(subquery) may not be used here"
    elif name == "SelectStmt" and node.get("withClause", {}).get("recursive"):
        return "WITH RECURSIVE may not be used here"
    elif name == "TypeCast":
        modifiers = [_integer(item) for item in node.get("typeName", {}).get("typmods", [])]
        if any(modifier > MAX_TYPE_MODIFIER for modifier in modifiers):
            return f"a type modifier above {MAX_TYPE_MODIFIER:,} may not be used here"
    return None


def _strings(items: list[dict[str, Any]]) -> list[str]:
    return [item["String"]["sval"] for item in items if "String" in item]


def _integer(item: dict[str, Any]) -> int:
    value = item.get("A_Const", {}).get("ival", {})
    return int(value.get("ival", 0)) if isinstance(value, dict) else 0


def _expanded_size(select: dict[str, Any]) -> int:
    """Nodes of this query's expressions with each column reference replaced by the largest inner one.

    The planner pulls a subquery (or a CTE used once) up into its parent by substituting its select
    list's expressions for the references to its columns: each reference costs the largest expression
    of the levels below. Branches of UNION and the like are sized apart; scalar subqueries are planned
    on their own.
    """
    body = select.get("SelectStmt", select)
    if body.get("op", "SETOP_NONE") != "SETOP_NONE":
        return max(_expanded_size(body["larg"]), _expanded_size(body["rarg"]))
    inner = 1
    own_nodes = own_references = 0
    for name, node, nested in _own_nodes(body):
        if nested:
            size = _expanded_size(node)
            # FROM subqueries and CTEs are pulled up; scalar subqueries are not, but still sized.
            inner = max(inner, size) if name == "pulled" else inner
            own_nodes += 1 if name == "pulled" else size
        elif name == "ColumnRef":
            own_references += 1
        else:
            own_nodes += 1
    return own_nodes + own_references * inner


def _own_nodes(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """This level's nodes, and each nested query once (as "pulled" from FROM or WITH, else "sublink")."""
    stack: list[tuple[Any, str]] = [(value, key) for key, value in body.items()]
    while stack:
        item, key = stack.pop()
        if isinstance(item, list):
            stack.extend((value, key) for value in item)
        elif isinstance(item, dict):
            for name, value in item.items():
                if name == "SelectStmt":
                    yield ("pulled" if key in ("subquery", "ctequery") else "sublink"), value, True
                elif name[:1].isupper() and isinstance(value, dict):
                    yield name, value, False
                    stack.extend((inner, inner_key) for inner_key, inner in value.items())
                else:
                    stack.append((value, name))


def parse_tree_nodes(tree: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every parse-tree node of `tree` (pglast's JSON) as (node type, fields), depth first."""
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
