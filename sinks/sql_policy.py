"""What an ad-hoc query may be, decided on ClickHouse's own parse of it. Pure.

The engine parses the caller's text (``parseQueryToJSON``, which never runs it) and these
rules walk the JSON syntax tree; the query that then runs is the engine's canonical
formatting of that same tree, so what was checked is what runs.

A query may be:

* one ``SELECT`` (with ``WITH``, ``UNION``, subqueries, joins, ``ARRAY JOIN``…);
* ``EXPLAIN [AST|SYNTAX|QUERY TREE|PLAN|PIPELINE|ESTIMATE]`` of such a ``SELECT``;
* ``DESCRIBE [TABLE] db.table`` of one of the project's tables (see :func:`describe_target`).

It may read only tables of the project's database, the names of its own ``WITH`` subqueries
and a few ``system`` tables (:data:`SAFE_SYSTEM_TABLES`). It may not carry ``INTO OUTFILE``,
``FORMAT``, ``SETTINGS`` (the limits are the server's), table functions (``file()``, ``url()``,
``numbers()``… none is allowed), ``{name:Identifier}`` parameters (a table chosen at bind
time) or functions that reach outside the database (:data:`DENIED_FUNCTIONS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sinks.errors import QueryRefused

__all__ = [
    "DENIED_FUNCTIONS",
    "DENIED_FUNCTION_PREFIXES",
    "EXPLAIN_KINDS",
    "SAFE_SYSTEM_TABLES",
    "Verdict",
    "check_ast",
    "describe_target",
]

SAFE_SYSTEM_TABLES = frozenset({"one", "tables", "columns"})
"""``system`` tables a query may read: schema discovery only."""

EXPLAIN_KINDS = frozenset(
    {"EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "EXPLAIN QUERY TREE", "EXPLAIN PIPELINE",
     "EXPLAIN ESTIMATE"}
)  # fmt: skip

DENIED_FUNCTIONS = frozenset(
    {
        "file",  # reads any file the process can read, even with readonly = 1
        "joinget",
        "joingetornull",
        "catboostevaluate",  # loads a model file
        "showcertificate",
        "filesystemavailable",
        "filesystemcapacity",
        "filesystemunreserved",
        "hascolumnintable",  # probes other databases
        "getserversetting",  # server paths and configuration
        "getmacro",
        "getclienthttpheader",
        "logtrace",  # writes to the server log
        "evalmlmethod",
    }
)
"""Scalar functions refused (compared case-insensitively)."""

DENIED_FUNCTION_PREFIXES = (
    "dict",  # dictGet…, dictHas: dictionaries may have any source (HTTP, files, other DBs)
    "region",  # embedded geo dictionaries read from files
    "ai",  # AIGenerate, AIEmbed…: calls to model providers over the network
    "addressto",  # introspection
    "demangle",
    "__",  # internal functions
)

_ALLOWED_ROOTS = frozenset({"SelectWithUnionQuery", "SelectIntersectExceptQuery", "ExplainQuery"})
_SELECT_TYPES = frozenset({"SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery"})
# Node types named "…Query" that are parts of a SELECT, not statements of their own.
_QUERY_PARTS = _SELECT_TYPES | {"TablesInSelectQuery"}
_IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
     "globalnotnullin"}
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """An accepted statement: its kind and the names of its ``{name:Type}`` parameters."""

    kind: str
    parameters: frozenset[str]


def _nodes(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in the tree, depth first (iteratively: trees may be deep)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _function_denied(name: str) -> bool:
    lowered = name.lower()
    return lowered in DENIED_FUNCTIONS or lowered.startswith(DENIED_FUNCTION_PREFIXES)


def _check_table(parts: list[str], database: str, ctes: set[str]) -> None:
    if len(parts) == 1:
        if parts[0] in ctes:
            return
        raise QueryRefused(
            f"table {parts[0]!r}: name tables with their database ({database}.{parts[0]})"
        )
    if len(parts) != 2:
        raise QueryRefused(f"table {'.'.join(parts)!r} is not a database.table name")
    db, table = parts
    if db == database:
        return
    if db == "system" and table in SAFE_SYSTEM_TABLES:
        return
    allowed = ", ".join(f"system.{t}" for t in sorted(SAFE_SYSTEM_TABLES))
    raise QueryRefused(
        f"table {db}.{table} is out of reach: queries read the {database} database (and {allowed})"
    )


def _identifier_parts(node: Mapping[str, Any]) -> list[str]:
    parts = node.get("name_parts")
    if isinstance(parts, list) and parts:
        return [str(p) for p in parts]
    return [str(node.get("name", ""))]


def check_ast(ast: Mapping[str, Any], database: str) -> Verdict:
    """The verdict on ``ast`` (``parseQueryToJSON``'s output) for a store whose tables live
    in ``database``; ``QueryRefused`` saying why when the statement is not allowed."""
    root = str(ast.get("type", ""))
    if root not in _ALLOWED_ROOTS:
        raise QueryRefused(
            "only SELECT, WITH … SELECT, EXPLAIN and DESCRIBE TABLE run here; got "
            f"{root.removesuffix('Query') or 'an unknown statement'}"
        )
    kind = "SELECT"
    if root == "ExplainQuery":
        kind = str(ast.get("kind", ""))
        if kind not in EXPLAIN_KINDS:
            raise QueryRefused(f"{kind or 'this EXPLAIN'} is not allowed here")
        inner = ast.get("query")
        if not isinstance(inner, Mapping) or inner.get("type") not in _SELECT_TYPES:
            raise QueryRefused("EXPLAIN runs here only for a SELECT")
    nodes = list(_nodes(ast))
    ctes = {str(n.get("name")) for n in nodes if n.get("type") == "WithElement"}
    parameters: set[str] = set()
    for node in nodes:
        _check_node(node, database, ctes, parameters)
    return Verdict(kind, frozenset(parameters))


def _check_node(
    node: Mapping[str, Any], database: str, ctes: set[str], parameters: set[str]
) -> None:
    kind = str(node.get("type", ""))
    if kind.endswith("Query") and kind not in _ALLOWED_ROOTS | _QUERY_PARTS:
        raise QueryRefused(f"{kind.removesuffix('Query')} is not allowed inside a query")
    if "out_file" in node or node.get("is_into_outfile_with_stdout"):
        raise QueryRefused("INTO OUTFILE is not allowed: queries never write files")
    if "format_ast" in node:
        raise QueryRefused("FORMAT is not allowed: the endpoint chooses the output format")
    if "settings" in node or kind == "SetQuery":
        raise QueryRefused(
            "SETTINGS are not allowed: time, row and memory limits are fixed by the server"
        )
    if "table_function" in node:
        function = node["table_function"]
        name = function.get("name", "?") if isinstance(function, Mapping) else "?"
        raise QueryRefused(
            f"table function {name}() is not allowed: queries read the {database} tables only"
        )
    if kind == "QueryParameter":
        if str(node.get("param_type", "")).strip().lower() == "identifier":
            raise QueryRefused("{name:Identifier} parameters are not allowed")
        parameters.add(str(node.get("name")))
    elif kind == "TableIdentifier":
        if not node.get("name"):  # a name given by a parameter
            raise QueryRefused("table names must be written in the query")
        _check_table(_identifier_parts(node), database, ctes)
    elif kind == "Function":
        name = str(node.get("name", ""))
        if _function_denied(name):
            raise QueryRefused(f"function {name}() is not allowed: it reaches outside the database")
        if name.lower() in _IN_FUNCTIONS:
            arguments = node.get("arguments", {})
            children = arguments.get("children", []) if isinstance(arguments, Mapping) else []
            if len(children) == 2 and isinstance(children[1], Mapping):
                right = children[1]
                parts = _identifier_parts(right)
                if right.get("type") in ("Identifier", "TableIdentifier") and len(parts) > 1:
                    _check_table(parts, database, ctes)


_IDENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`\\]+`)"
_DESCRIBE = re.compile(
    rf"^\s*(?:DESCRIBE|DESC)(?:\s+TABLE)?\s+(?P<first>{_IDENT})(?:\s*\.\s*(?P<second>{_IDENT}))?"
    r"\s*;?\s*$",
    re.IGNORECASE,
)
_DESCRIBE_START = re.compile(r"^\s*(?:DESCRIBE|DESC)\b", re.IGNORECASE)


def describe_target(sql: str, database: str) -> tuple[str, str] | None:
    """``(database, table)`` when ``sql`` is ``DESCRIBE [TABLE] [db.]table`` of a table the
    rules allow (a bare name means ``database``); None when ``sql`` is not a DESCRIBE at all.
    Any other DESCRIBE (of a table function, a subquery, with settings…) is refused."""
    if not _DESCRIBE_START.match(sql):
        return None
    match = _DESCRIBE.match(sql)
    if match is None:
        raise QueryRefused("DESCRIBE runs here only as DESCRIBE TABLE database.table")
    first, second = (p.strip("`") if p else p for p in match.group("first", "second"))
    parts = [first, second] if second else [database, first]
    _check_table(parts, database, set())
    return parts[0], parts[1]
