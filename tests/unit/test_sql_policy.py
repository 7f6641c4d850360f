"""The guest-query rules on syntax trees shaped as ClickHouse's ``parseQueryToJSON`` emits them
(the shapes were taken from the engine; the integration tests feed real ones)."""

from __future__ import annotations

from typing import Any

import pytest

from sinks.errors import QueryRefused
from sinks.sql_policy import check_ast, describe_target

DB = "meterline"


def lit(value: Any) -> dict:
    return {"type": "Literal", "value": {"field_type": "String", "value": value}}


def table(name: str) -> dict:
    parts = name.split(".")
    node: dict = {"type": "TableIdentifier", "name": name}
    if len(parts) > 1:
        node["name_parts"] = parts
    return {
        "type": "TablesInSelectQuery",
        "children": [
            {
                "type": "TablesInSelectQueryElement",
                "table_expression": {"type": "TableExpression", "database_and_table_name": node},
            }
        ],
    }


def fn(name: str, *args: dict) -> dict:
    return {
        "type": "Function",
        "name": name,
        "arguments": {"type": "ExpressionList", "children": list(args)},
    }


def select(*columns: dict, tables: dict | None = None, **extra: Any) -> dict:
    query: dict = {
        "type": "SelectQuery",
        "select": {"type": "ExpressionList", "children": list(columns)},
    }
    if tables is not None:
        query["tables"] = tables
    query.update({k: v for k, v in extra.items() if k != "outer"})
    return {
        "type": "SelectWithUnionQuery",
        "union_mode": "UNION_DEFAULT",
        "list_of_selects": {"type": "ExpressionList", "children": [query]},
        "is_outfile_append": False,
        "is_outfile_truncate": False,
        "is_into_outfile_with_stdout": False,
        **extra.get("outer", {}),
    }


def test_a_select_of_the_project_tables_passes_with_its_parameters():
    param = {"type": "QueryParameter", "name": "c", "param_type": "String"}
    ast = select(
        fn("sum", {"type": "Identifier", "name": "cost"}),
        tables=table("meterline.usage_events"),
        where=fn("equals", {"type": "Identifier", "name": "customer"}, param),
    )
    verdict = check_ast(ast, DB)
    assert verdict.kind == "SELECT" and verdict.parameters == {"c"}


def test_safe_system_tables_and_ctes_pass():
    check_ast(select(lit(1), tables=table("system.tables")), DB)
    cte = {
        "type": "WithElement",
        "name": "recent",
        "subquery": {
            "type": "Subquery",
            "children": [select(lit(1), tables=table("meterline.usage_events"))],
        },
    }
    check_ast(
        select(
            lit(1),
            tables=table("recent"),
            **{"with": {"type": "ExpressionList", "children": [cte]}},
        ),
        DB,
    )


def test_explain_of_a_select_passes_other_explains_do_not():
    inner = select(lit(1), tables=table("meterline.usage_events"))
    assert check_ast({"type": "ExplainQuery", "kind": "EXPLAIN AST", "query": inner}, DB).kind == (
        "EXPLAIN AST"
    )
    with pytest.raises(QueryRefused, match="not allowed"):
        check_ast({"type": "ExplainQuery", "kind": "EXPLAIN TABLE OVERRIDE", "query": inner}, DB)
    with pytest.raises(QueryRefused, match="SETTINGS"):
        check_ast(
            {
                "type": "ExplainQuery",
                "kind": "EXPLAIN PIPELINE",
                "query": inner,
                "settings": {"type": "SetQuery", "changes": []},
            },
            DB,
        )


@pytest.mark.parametrize(
    ("ast", "why"),
    [
        (select(lit("a"), outer={"out_file": lit("poc.sh")}), "INTO OUTFILE"),
        (select(lit("a"), outer={"format_ast": {"type": "Identifier", "name": "CSV"}}), "FORMAT"),
        (select(lit(1), settings={"type": "SetQuery", "changes": []}), "SETTINGS"),
        ({"type": "InsertQuery", "select": select(lit(1))}, "got Insert"),
        ({"type": "AlterQuery"}, "got Alter"),
        ({"type": "SetQuery", "changes": []}, "got Set"),
        ({}, "unknown statement"),
        (select(lit(1), tables=table("system.numbers")), "system.numbers is out of reach"),
        (select(lit(1), tables=table("other.usage_events")), "other.usage_events"),
        (select(lit(1), tables=table("usage_events")), "name tables with their database"),
        (select(fn("file", lit("/etc/passwd"))), "file"),
        (select(fn("FILE", lit("/etc/passwd"))), "FILE"),
        (select(fn("dictGetString", lit("d"))), "dictGetString"),
        (select(fn("AIGenerate", lit("hi"))), "AIGenerate"),
        (
            select(
                fn(
                    "in",
                    lit(1),
                    {
                        "type": "Identifier",
                        "name": "system.processes",
                        "name_parts": ["system", "processes"],
                    },
                )
            ),
            "system.processes",
        ),
        (
            select(
                lit(1), where={"type": "QueryParameter", "name": "t", "param_type": "Identifier"}
            ),
            "Identifier",
        ),
    ],
)
def test_refused_with_a_reason(ast, why):
    with pytest.raises(QueryRefused, match=why):
        check_ast(ast, DB)


def test_table_functions_are_refused_wherever_they_hide():
    tf = {
        "type": "TablesInSelectQuery",
        "children": [
            {
                "type": "TablesInSelectQueryElement",
                "table_expression": {
                    "type": "TableExpression",
                    "table_function": fn("url", lit("http://x")),
                },
            }
        ],
    }
    nested = select(fn("in", lit(1), {"type": "Subquery", "children": [select(lit(1), tables=tf)]}))
    with pytest.raises(QueryRefused, match=r"table function url\(\)"):
        check_ast(nested, DB)


def test_a_table_named_by_a_parameter_is_refused():
    node = {
        "type": "TablesInSelectQuery",
        "children": [
            {
                "type": "TablesInSelectQueryElement",
                "table_expression": {
                    "type": "TableExpression",
                    "database_and_table_name": {
                        "type": "TableIdentifier",
                        "name": "",
                        "children": [
                            {"type": "QueryParameter", "name": "t", "param_type": "Identifier"}
                        ],
                    },
                },
            }
        ],
    }
    with pytest.raises(QueryRefused):
        check_ast(select(lit(1), tables=node), DB)


def test_a_very_deep_tree_is_walked_without_recursion():
    node: dict = lit(1)
    for _ in range(50_000):
        node = fn("plus", node, lit(1))
    with pytest.raises(QueryRefused, match="file"):
        check_ast(select(fn("file", node)), DB)


@pytest.mark.parametrize(
    ("sql", "target"),
    [
        ("DESCRIBE TABLE meterline.usage_events", ("meterline", "usage_events")),
        ("desc usage_events;", ("meterline", "usage_events")),
        ("DESC `meterline` . `dead_letters`", ("meterline", "dead_letters")),
        ("SELECT 1", None),
        ("WITH 1 AS describe SELECT describe", None),
    ],
)
def test_describe_of_a_project_table(sql, target):
    assert describe_target(sql, DB) == target


@pytest.mark.parametrize(
    "sql",
    [
        "DESCRIBE file('/etc/passwd', 'TSVWithNames')",
        "DESCRIBE url('http://127.0.0.1:9/', 'JSONEachRow')",
        "DESCRIBE (SELECT 1)",
        "DESCRIBE TABLE system.processes",
        "DESCRIBE TABLE meterline.usage_events SETTINGS describe_compact_output = 1",
        "DESC t; DROP TABLE t",
    ],
)
def test_any_other_describe_is_refused(sql):
    with pytest.raises(QueryRefused):
        describe_target(sql, DB)
