"""The report commands end to end on chDB (the client is handed in through ``ctx.obj``, as the
demo does in the process that owns the store)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from meterline.cli import cli
from meterline.commands._reports import CLIENT_KEY
from tests.integration._reports_data import (
    BY_CUSTOMER,
    HOSTILE,
    TOTAL,
    insert,
    load_known,
    nov,
    row,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def invoke(chdb_client, ch_database):  # type: ignore[no-untyped-def]
    load_known(chdb_client, ch_database)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj={CLIENT_KEY: (chdb_client, ch_database)})

    return run


def test_report_cost_json_and_csv_sum_to_the_total(invoke) -> None:
    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {g["group"]["customer"]: Decimal(g["cost"]) for g in data["groups"]} == BY_CUSTOMER
    assert Decimal(data["total"]["cost"]) == TOTAL

    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--by",
                 "customer,feature", "--format", "csv")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(res.output)))
    # The CSV holds only the groups: summing its cost column gives the total once.
    assert "TOTAL" not in {r["customer"] for r in rows}
    assert sum(Decimal(r["cost"]) for r in rows) == TOTAL


def test_report_cost_table_and_hostile_filters(invoke) -> None:
    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--top", "1")
    assert res.exit_code == 0, res.output
    assert "acme" in res.output and "(other)" in res.output and "4.88" in res.output
    hostile = ("--customer", "x'; DROP TABLE usage_events; --", "--tag", "ü:'\"")
    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", *hostile,
                 "--format", "json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["groups"] == []
    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--customer",
                 HOSTILE, "--format", "json")  # fmt: skip
    assert [Decimal(g["cost"]) for g in json.loads(res.output)["groups"]] == [Decimal("0.7")]


def test_user_errors_are_clean(invoke) -> None:
    res = invoke("report", "cost", "--from", "2026-11-02", "--to", "2026-11-01")
    assert res.exit_code != 0 and "before" in res.output and "Traceback" not in res.output
    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "planet")
    assert res.exit_code != 0 and "--by must name" in res.output
    res = invoke("reconcile", "--period", "2026-13")
    assert res.exit_code != 0 and "not a calendar month" in res.output
    res = invoke("margin", "--period", "Nov", "--revenue", __file__)
    assert res.exit_code != 0 and "YYYY-MM" in res.output


def test_features_view(invoke) -> None:
    res = invoke(
        "report", "features", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"
    )
    assert res.exit_code == 0, res.output
    first = json.loads(res.output)[0]
    assert (first["feature"], first["stands_out"]) == ("search", True)


def test_invoice_writes_one_file_per_customer(invoke, tmp_path: Path) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans: {payg: {kind: markup, markup_percent: 10}}\ncustomers: {acme: payg}\n")
    out = tmp_path / "inv"
    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans), "--format", "json",
                 "--view", "internal", "--out", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == len(BY_CUSTOMER)
    assert "invoice-2026-11-acme.json" in files
    assert all("/" not in f and "'" not in f and '"' not in f for f in files)
    acme = json.loads((out / "invoice-2026-11-acme.json").read_text())
    # 3.250000000001 → 3.25 at cost; 10 % → 0.33 (0.3250000000001 rounds half up to 0.33).
    assert [Decimal(line["amount"]) for line in acme["lines"]] == [Decimal("3.25"), Decimal("0.33")]
    assert Decimal(acme["total"]) == Decimal("3.58")
    assert "warning: globex: no plan assigned" in res.output

    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans), "--format", "csv",
                 "--view", "internal")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {r["customer"] for r in rows} == set(BY_CUSTOMER)
    assert [r["amount"] for r in rows if r["customer"] == "acme" and r["line"] == "total"] == [
        "3.58"
    ]


def test_invoice_with_a_broken_plans_file_is_a_clean_error(invoke, tmp_path: Path) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans: {x: {kind: markup}}\n")
    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans))
    assert res.exit_code != 0 and "markup_percent" in res.output and "Traceback" not in res.output


def test_reconcile_exit_status_gates_billing(
    invoke, chdb_client, ch_database, tmp_path: Path
) -> None:
    res = invoke("reconcile", "--period", "2026-11")
    assert res.exit_code == 0, res.output
    assert "RECONCILED" in res.output and "4.883333333334" in res.output
    bill = tmp_path / "bill.csv"
    bill.write_text(
        "date,provider,model,cost\n"
        "2026-11-01,openai,gpt-4o,1.25\n2026-11-01,anthropic,claude-sonnet,2\n"
        "2026-11-02,openai,gpt-4o,0.84\n2026-11-02,openai,gpt-4o-mini,0.1\n"
        "2026-11-15,openai,gpt-4o,0.7\n2026-11-30,openai,gpt-4o,0.5\n"
    )
    res = invoke("reconcile", "--period", "2026-11", "--provider-bill", str(bill))
    assert res.exit_code == 1
    assert "NOT RECONCILED" in res.output and "2026-11-02 openai gpt-4o" in res.output
    insert(chdb_client, ch_database, [row("bad", nov(5), "acme", "1", computed_cost="2")])
    res = invoke("reconcile", "--period", "2026-11", "--format", "json")
    assert res.exit_code == 1
    assert json.loads(res.output)["reconciled"] is False


def test_margin_table_calls_out_missing_revenue(invoke, tmp_path: Path) -> None:
    revenue = tmp_path / "revenue.csv"
    revenue.write_text("customer,revenue\nacme,2\nglobex,10\nhooli,20\n")
    res = invoke("margin", "--period", "2026-11", "--revenue", str(revenue))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[2].split()[0] == "acme" and "unprofitable" in lines[2]
    assert "cost but no revenue:" in res.output and "revenue but no usage: hooli" in res.output
    res = invoke("margin", "--period", "2026-11", "--revenue", str(revenue), "--format", "json")
    assert Decimal(json.loads(res.output)["total_cost"]) == TOTAL


def _openai_export(month: str, costs: dict[tuple[str, str], str]) -> str:
    """An OpenAI cost export as downloaded: dated model names, one row per line item."""
    lines = ["start_time,end_time,line_item,project_id,amount_value,amount_currency"]
    for (day, model), cost in costs.items():
        lines.append(f'{month}-{day}T00:00:00Z,,"{model}, input",proj_1,{cost},usd')
    return "\n".join(lines) + "\n"


_MATCHING = {
    ("01", "gpt-4o-2024-08-06"): "1.25",
    ("02", "gpt-4o-2024-08-06"): "0.33",
    ("02", "gpt-4o-mini-2024-07-18"): "0.10",
    ("15", "gpt-4o-2024-08-06"): "0.70",
    ("30", "gpt-4o-2024-08-06"): "0.50",
}


def test_reconcile_reads_the_openai_export_and_judges_period_and_total(
    invoke, tmp_path: Path
) -> None:
    bill = tmp_path / "openai.csv"
    bill.write_text(_openai_export("2026-11", _MATCHING))
    res = invoke("reconcile", "--period", "2026-11", "--provider-bill", str(bill))
    assert res.exit_code == 0, res.output
    assert "RECONCILED" in res.output and "within tolerance" in res.output

    # The same bill, a month early: every line is outside the period.
    bill.write_text(_openai_export("2026-10", _MATCHING))
    res = invoke("reconcile", "--period", "2026-11", "--provider-bill", str(bill))
    assert res.exit_code == 1, res.output
    assert "5 bill line(s) (2.88) are dated outside 2026-11" in res.output

    # Each line 0.004 high (within the default 0.005), the total 0.0157 high: not reconciled.
    high = {k: str(Decimal(v) + Decimal("0.004")) for k, v in _MATCHING.items()}
    high[("02", "gpt-4o-mini-2024-07-18")] = "0.10"
    bill.write_text(_openai_export("2026-11", high))
    res = invoke("reconcile", "--period", "2026-11", "--provider-bill", str(bill))
    assert res.exit_code == 1, res.output
    assert "PROBLEM: bill total 2.896 vs metered 2.883333333333" in res.output
    assert "line(s) differ from the bill" not in res.output
    res = invoke("reconcile", "--period", "2026-11", "--provider-bill", str(bill),
                 "--tolerance", "0.02")  # fmt: skip
    assert res.exit_code == 0, res.output


def _owned(event_id: str, day: int, customer: str, cost: str, owner: str) -> list:
    from sinks.ddl import USAGE_EVENT_COLUMNS

    values = row(event_id, nov(day), customer, cost, key=f"key-{owner}",
                 tags=(f"customer:{customer}",))  # fmt: skip
    values[USAGE_EVENT_COLUMNS.index("owner_customer")] = owner
    return values


def test_reports_by_key_owner_and_calls_tagged_for_another_customer(
    invoke, chdb_client, ch_database
) -> None:
    # key_acme belongs to acme, but two of its calls are tagged for other customers.
    insert(chdb_client, ch_database, [
        _owned("o1", 4, "acme", "2", "acme"),
        _owned("o2", 4, "cust-0001", "3", "acme"),
        _owned("o3", 5, "cust-0002", "5", "acme"),
    ])  # fmt: skip
    res = invoke("report", "cost", "--period", "2026-11", "--by", "owner", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {g["group"]["owner"]: Decimal(g["cost"]) for g in data["groups"]} == {
        "acme": Decimal(10),
        "(no owner)": TOTAL,
    }
    assert (data["owner_mismatch_events"], Decimal(data["owner_mismatch_cost"])) == (2, 8)
    res = invoke("report", "cost", "--period", "2026-11", "--owner", "acme", "--by", "customer")
    assert res.exit_code == 0, res.output
    assert "cust-0002" in res.stdout and "globex" not in res.stdout
    assert "note: 2 call(s) (cost 8.00) are tagged for a customer other than their key's owner" in (
        res.stderr
    )
    res = invoke("reconcile", "--period", "2026-11")
    assert "tag != key owner             2   (cost 8.00;" in res.output


def test_reports_default_to_this_month_and_say_where_the_data_is(invoke) -> None:
    this_month = f"{datetime.now(UTC):%Y-%m}"
    for args in (["report", "cost"], ["report", "features"], ["reconcile"]):
        default = invoke(*args, "--format", "json")
        assert default.exit_code == 0, default.output
        assert default.stdout == invoke(*args, "--period", this_month, "--format", "json").stdout
        res = invoke(*args, "--period", "2025-01")
        assert "no usage in 2025-01" in res.stderr, (args, res.output)
        assert "stored usage runs from 2026-10-31 to 2026-12-01" in res.stderr
    res = invoke("report", "cost", "--period", "2026-11", "--from", "2026-11-01")
    assert res.exit_code == 1 and "either --period or --from/--to" in res.output
    res = invoke("report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv")
    assert res.stderr == ""


_PLANS = """
issuer: Meterline Demo Ltd
payment_terms_days: 14
plans:
  payg: {kind: markup, markup_percent: 30}
  pro: {kind: flat, monthly_fee: 500, included_cost: 1, overage_markup_percent: 20, minimum: 600}
customers: {acme: payg, globex: pro}
"""


def test_the_customer_invoice_is_something_to_send(invoke, tmp_path: Path) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text(_PLANS)
    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans), "--format", "json")
    assert res.exit_code == 0, res.output
    docs = {d["customer"]: d for d in json.loads(res.stdout)}
    assert set(docs) == {"acme", "globex"}  # the unplanned get a warning, not an invoice
    acme = docs["acme"]
    assert acme["number"].startswith("INV-202611-") and len(acme["number"]) == 19
    assert (acme["issue_date"], acme["due_date"]) == ("2026-12-01", "2026-12-15")
    # Markup inside the price: one line per model, never "cost" or "markup".
    text = json.dumps(acme).lower()
    assert "markup" not in text and "at cost" not in text and "usage_cost" not in text
    assert [(line["description"].split(":")[0], line["unit"]) for line in acme["lines"]] == [
        ("claude-sonnet", "1M tokens"), ("gpt-4o", "1M tokens")]  # fmt: skip
    assert sum(Decimal(line["amount"]) for line in acme["lines"]) == Decimal(acme["total"])
    assert Decimal(acme["total"]) == Decimal("4.23")  # 3.25 at cost + 30 % → 3.25 + 0.98
    for line in acme["lines"]:
        product = Decimal(line["quantity"]) * Decimal(line["unit_price"])
        assert abs(product - Decimal(line["amount"])) < Decimal("0.01")
    assert [(line["description"], line["quantity"], line["unit_price"])
            for line in docs["globex"]["lines"]] == [
        ("monthly plan pro", "1.00", "500.00"),
        ("top-up to the monthly minimum", "1.00", "100.00"),
    ]  # fmt: skip
    # Stable: the same run again gives the same numbers; the internal view keeps the cost.
    again = json.loads(invoke("invoice", "--period", "2026-11", "--plans", str(plans),
                              "--format", "json").stdout)  # fmt: skip
    assert [d["number"] for d in again] == [docs["acme"]["number"], docs["globex"]["number"]]
    internal = json.loads(invoke("invoice", "--period", "2026-11", "--plans", str(plans),
                                 "--format", "json", "--view", "internal").stdout)  # fmt: skip
    acme_internal = next(i for i in internal if i["customer"] == "acme")
    assert acme_internal["number"] == acme["number"]
    assert [line["kind"] for line in acme_internal["lines"]] == ["usage_at_cost", "markup"]
    assert Decimal(acme_internal["total"]) == Decimal(acme["total"])

    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans), "--customer", "acme",
                 "--format", "html")  # fmt: skip
    assert res.exit_code == 0, res.output
    page = res.stdout
    assert page.startswith("<!doctype html>") and f"Invoice {acme['number']}" in page
    assert "Meterline Demo Ltd" in page and "Due date" in page and "2026-12-15" in page
    assert "4.23 USD" in page and "markup" not in page.lower()
    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans), "--format", "html")
    assert res.exit_code == 2 and "--customer" in res.output
    out = tmp_path / "html"
    res = invoke("invoice", "--period", "2026-11", "--plans", str(plans), "--format", "html",
                 "--out", str(out))  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "invoice-2026-11-acme.html", "invoice-2026-11-globex.html"]  # fmt: skip


def test_margin_takes_its_revenue_from_the_invoices(invoke, tmp_path: Path, monkeypatch) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text(_PLANS)
    res = invoke("margin", "--period", "2026-11", "--plans", str(plans), "--format", "json")
    assert res.exit_code == 0, res.output
    rows = {r["customer"]: r for r in json.loads(res.stdout)["rows"]}
    assert (Decimal(rows["acme"]["revenue"]), Decimal(rows["acme"]["cost"])) == (
        Decimal("4.23"), Decimal("3.250000000001"))  # fmt: skip
    assert Decimal(rows["globex"]["revenue"]) == Decimal(600)
    monkeypatch.setenv("METERLINE_REPORT_PLANS_FILE", str(plans))
    res = invoke("margin", "--period", "2026-11", "--revenue", "invoices")
    assert res.exit_code == 0 and "acme" in res.stdout, res.output
    monkeypatch.delenv("METERLINE_REPORT_PLANS_FILE")
    res = invoke("margin", "--period", "2026-11")
    assert res.exit_code == 2 and "METERLINE_REPORT_PLANS_FILE" in res.output
    res = invoke("margin", "--period", "2026-11", "--revenue", "nope.csv")
    assert res.exit_code == 2 and "neither 'invoices' nor a CSV file" in res.output
