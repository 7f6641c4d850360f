"""The report HTTP API: bearer-token auth, JSON and CSV, hostile filters, OpenAPI docs."""

from __future__ import annotations

import csv
import io
import sys
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient

from meterline.local.ports import free_port
from meterline.local.process import ChildProcess, http_ok
from reports.api import create_app
from reports.plans import parse_plans
from tests.integration._reports_data import BY_CUSTOMER, HOSTILE, TOTAL, load_known

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOV = {"from": "2026-11-01", "to": "2026-11-30"}
PLANS = parse_plans("plans: {payg: {kind: markup, markup_percent: 10}}\ncustomers: {acme: payg}")


@pytest.fixture
def api(chdb_client, ch_database) -> TestClient:  # type: ignore[no-untyped-def]
    load_known(chdb_client, ch_database)
    return TestClient(create_app(chdb_client, ch_database, TOKEN, PLANS))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/cost?from=2026-11-01&to=2026-11-30"),
        ("GET", "/v1/features?from=2026-11-01&to=2026-11-30"),
        ("GET", "/v1/invoices?period=2026-11"),
        ("GET", "/v1/reconcile?period=2026-11"),
        ("POST", "/v1/reconcile?period=2026-11"),
        ("POST", "/v1/margin?period=2026-11"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
     {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}x"}],
)  # fmt: skip
def test_no_token_no_data(api: TestClient, method: str, path: str, headers: dict) -> None:
    res = api.request(method, path, headers=headers, content="customer,revenue\n")
    assert res.status_code == 401
    assert "acme" not in res.text


def test_cost_json_sums_to_total(api: TestClient) -> None:
    res = api.get("/v1/cost", params=NOV, headers=AUTH)
    assert res.status_code == 200, res.text
    data = res.json()
    assert {g["group"]["customer"]: Decimal(g["cost"]) for g in data["groups"]} == BY_CUSTOMER
    assert Decimal(data["total"]["cost"]) == TOTAL


def test_cost_csv_by_feature_and_model(api: TestClient) -> None:
    res = api.get("/v1/cost", params={**NOV, "by": "feature,model", "format": "csv"}, headers=AUTH)
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert "TOTAL" not in {r["feature"] for r in rows}  # summing the file gives the total once
    assert sum(Decimal(r["cost"]) for r in rows) == TOTAL


@pytest.mark.parametrize(
    "hostile", ["'", "acme' OR '1'='1", "'; DROP TABLE usage_events; --", "ünï\u0000code", "%27"]
)
def test_hostile_filters_return_empty_results(api: TestClient, hostile: str) -> None:
    res = api.get("/v1/cost", params={**NOV, "customer": hostile, "tag": [hostile, "a:b"]},
                  headers=AUTH)  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["groups"] == []
    again = api.get("/v1/cost", params=NOV, headers=AUTH).json()
    assert Decimal(again["total"]["cost"]) == TOTAL


def test_hostile_customer_that_exists_is_found(api: TestClient) -> None:
    res = api.get("/v1/cost", params={**NOV, "customer": HOSTILE}, headers=AUTH)
    assert [Decimal(g["cost"]) for g in res.json()["groups"]] == [Decimal("0.7")]


def test_invoices_reconcile_margin(api: TestClient) -> None:
    inv = api.get("/v1/invoices", params={"period": "2026-11"}, headers=AUTH).json()
    assert {i["customer"]: Decimal(i["total"]) for i in inv}["acme"] == Decimal("3.58")
    rec = api.get("/v1/reconcile", params={"period": "2026-11"}, headers=AUTH).json()
    assert rec["reconciled"] is True and Decimal(rec["ledger"]["total_cost"]) == TOTAL
    bill = "date,provider,model,cost\n2026-11-02,openai,gpt-4o,0.84\n"
    res = api.post("/v1/reconcile", params={"period": "2026-11", "format": "csv"}, content=bill,
                   headers={**AUTH, "Content-Type": "text/csv"})  # fmt: skip
    assert res.status_code == 200, res.text
    first = next(csv.DictReader(io.StringIO(res.text)))
    # Only openai is on this bill: its biggest gap is 2026-11-01 gpt-4o, billed 0 vs 1.25.
    assert (first["day"], first["provider"], first["model"], first["gap"]) == (
        "2026-11-01",
        "openai",
        "gpt-4o",
        "-1.25",
    )
    margin = api.post("/v1/margin", params={"period": "2026-11"},
                      content="customer,revenue\nacme,2\n",
                      headers={**AUTH, "Content-Type": "text/csv"}).json()  # fmt: skip
    assert margin["rows"][0]["customer"] == "acme"
    assert margin["rows"][0]["status"] == "unprofitable"


def test_bad_input_is_a_400_not_a_crash(api: TestClient) -> None:
    res = api.get("/v1/cost", params={**NOV, "by": "planet"}, headers=AUTH)
    assert res.status_code == 400 and "--by" in res.json()["detail"]
    res = api.post("/v1/margin", params={"period": "2026-11"}, content="nope\n1\n",
                   headers={**AUTH, "Content-Type": "text/csv"})  # fmt: skip
    assert res.status_code == 400
    res = api.get("/v1/reconcile", params={"period": "2026-1"}, headers=AUTH)
    assert res.status_code == 422


def test_openapi_docs_need_no_token_and_show_the_bearer_scheme(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert "/v1/cost" in spec["paths"]
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    assert api.get("/docs").status_code == 200


def test_served_by_the_cli_on_localhost(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``meterline api`` as its own process (own chDB dir, empty): auth holds and a missing
    store is a clean 503."""
    port = free_port()
    env = {"METERLINE_CLICKHOUSE_URL": f"chdb://{tmp_path / 'chdb'}",
           "METERLINE_REPORT_API_TOKEN": TOKEN, "METERLINE_REPORT_API_PORT": str(port)}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with ChildProcess(
        [sys.executable, "-m", "meterline", "api"],
        name="report API",
        env=env,
        log_path=tmp_path / "api.log",
        ready=http_ok(f"{base}/healthz", timeout=2),
        poll_interval=0.2,
    ):
        assert httpx.get(f"{base}/v1/reconcile?period=2026-11").status_code == 401
        res = httpx.get(f"{base}/v1/reconcile?period=2026-11", headers=AUTH)
        assert res.status_code == 503 and "meterline" in res.json()["detail"]


def test_budgets_route_shows_where_each_budget_stands(
    chdb_client, ch_database, tansu, topics, monkeypatch
) -> None:
    import asyncio

    from meterline.budget_admin import build_policy, put_policy
    from meterline.commands.api import budget_status_reader

    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    policy = build_policy(policy_id="acme-cap", scope="customer", subject="acme", limit="50")
    asyncio.run(put_policy(tansu.bootstrap, topics, policy))
    app = create_app(chdb_client, ch_database, TOKEN, budget_status=budget_status_reader())
    client = TestClient(app)
    assert client.get("/v1/budgets").status_code == 401
    (row,) = client.get("/v1/budgets", headers=AUTH).json()
    assert (row["policy_id"], row["spend"], row["limit"], row["percent"], row["state"]) == (
        "acme-cap", "0.00", "50.00", "0.00", "no spend yet")  # fmt: skip
    assert {"resets_at", "last_alert", "action", "window"} <= set(row)
    no_broker = TestClient(create_app(chdb_client, ch_database, TOKEN))
    assert no_broker.get("/v1/budgets", headers=AUTH).status_code == 409


def test_multipart_uploads_html_invoice_and_margin_from_invoices(api: TestClient) -> None:
    bill = b"date,provider,model,cost\n2026-11-02,openai,gpt-4o,0.84\n"
    res = api.post("/v1/reconcile", params={"period": "2026-11"}, headers=AUTH,
                   files={"file": ("bill.csv", bill, "text/csv")})  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["bill"]["providers"] == ["openai"] and res.json()["reconciled"] is False
    revenue = ("revenue.csv", b"customer,revenue\nacme,2\n", "text/csv")
    res = api.post("/v1/margin", params={"period": "2026-11"}, headers=AUTH,
                   files={"file": revenue})  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["rows"][0]["customer"] == "acme"
    res = api.post("/v1/margin", params={"period": "2026-11"}, headers=AUTH,
                   data={"note": "no file"}, files={})  # fmt: skip
    assert res.status_code in (400, 422)

    res = api.get("/v1/invoices", params={"period": "2026-11", "view": "customer"}, headers=AUTH)
    (acme,) = res.json()
    assert acme["number"].startswith("INV-202611-") and "markup" not in res.text.lower()
    page = api.get("/v1/invoices", headers=AUTH,
                   params={"period": "2026-11", "format": "html", "customer": "acme"})  # fmt: skip
    assert page.headers["content-type"].startswith("text/html")
    assert acme["number"] in page.text and "3.58 USD" in page.text
    margin = api.get("/v1/margin", params={"period": "2026-11"}, headers=AUTH).json()
    assert {r["customer"]: r["revenue"] for r in margin["rows"]}["acme"] == "3.58"
