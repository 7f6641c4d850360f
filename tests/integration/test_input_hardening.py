"""Issue 10 items 6–7: request bodies are bounded and need the token first; out-of-range dates
and amounts are a 400 with a clear message in the API and a clean error in the CLI; engine
errors never reach an API caller."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from meterline.cli import cli
from meterline.commands._reports import CLIENT_KEY
from reports.api import create_app
from reports.plans import parse_plans
from tests.integration._reports_data import load_known

pytestmark = pytest.mark.integration

TOKEN = "hardening-token"
PLANS = "plans: {payg: {kind: markup, markup_percent: 10}}\ncustomers: {acme: payg}"
BILL = "date,provider,model,cost\n2026-11-02,openai,gpt-4o,1\n"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/csv"}


@pytest.fixture
def api(chdb_client, ch_database) -> TestClient:  # type: ignore[no-untyped-def]
    load_known(chdb_client, ch_database)
    return TestClient(create_app(chdb_client, ch_database, TOKEN, max_body_bytes=1000))


def test_an_oversized_body_is_a_413_and_no_token_a_401_first(api):
    big = "customer,revenue\n" + "acme,1\n" * 1000
    res = api.post("/v1/margin", params={"period": "2026-11"}, content=big, headers=AUTH)
    assert res.status_code == 413 and "1000 bytes" in res.json()["detail"]
    res = api.post("/v1/margin", params={"period": "2026-11"}, content=big,
                   headers={"Content-Type": "text/csv"})  # fmt: skip
    assert res.status_code == 401

    def chunks():  # no Content-Length: streamed, counted while read
        for _ in range(1000):
            yield b"acme,1\n"

    res = api.post("/v1/margin", params={"period": "2026-11"}, content=chunks(), headers=AUTH)
    assert res.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("GET", "/v1/cost?from=2026-11-01&to=9999-12-31", None, "out of range"),
        ("GET", "/v1/cost?from=0001-01-01&to=2026-11-30", None, "out of range"),
        ("GET", "/v1/features?from=0001-01-01&to=2026-11-30", None, "out of range"),
        ("GET", "/v1/reconcile?period=9999-12", None, "out of range"),
        ("GET", "/v1/reconcile?period=1969-12", None, "out of range"),
        ("POST", "/v1/margin?period=2026-11", "customer,revenue\nacme,1e999999999\n",
         "out of range"),
        ("POST", "/v1/reconcile?period=2026-11",
         "date,provider,model,cost\n2026-11-01,openai,gpt-4o,1e100000000\n", "out of range"),
        ("POST", "/v1/margin?period=2026-11", b"customer,revenue\n\xff\xfe,1\n", "UTF-8"),
    ],
)  # fmt: skip
def test_out_of_range_input_is_a_clear_400(api, method, path, body, message):
    res = api.request(method, path, content=body, headers=AUTH)
    assert res.status_code == 400, res.text
    assert message in res.json()["detail"]


def test_a_huge_top_is_refused_not_sent_to_the_engine(api):
    res = api.get("/v1/cost", params={"from": "2026-11-01", "to": "2026-11-30",
                                      "top": str(10**30)}, headers=AUTH)  # fmt: skip
    assert res.status_code == 422


def test_engine_errors_stay_in_the_log(chdb_client):
    app = create_app(chdb_client, "no_such_database", TOKEN)
    res = TestClient(app).get("/v1/reconcile", params={"period": "2026-11"}, headers=AUTH)
    assert res.status_code == 503
    detail = res.json()["detail"]
    assert "no_such_database" in detail and "UNKNOWN_DATABASE" in detail
    assert "DB::Exception" not in detail and "Code:" not in detail


@pytest.fixture
def invoke(chdb_client, ch_database):  # type: ignore[no-untyped-def]
    load_known(chdb_client, ch_database)

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(cli, list(args), obj={CLIENT_KEY: (chdb_client, ch_database)})
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and result.exception is not None
        assert isinstance(result.exception, SystemExit)
        return result.output

    return run


def test_cli_out_of_range_values_are_clean_errors(invoke, tmp_path: Path):
    out = invoke("report", "cost", "--from", "2026-11-01", "--to", "9999-12-31")
    assert "out of range" in out
    out = invoke("report", "cost", "--from", "0001-01-01", "--to", "2026-11-30")
    assert "out of range" in out
    result = CliRunner().invoke(cli, ["report", "cost", "--from", "2026-11-01", "--to",
                                      "2026-11-30", "--top", str(10**30)])  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output
    out = invoke("reconcile", "--period", "9999-12")
    assert "out of range" in out
    revenue = tmp_path / "revenue.csv"
    revenue.write_text("customer,revenue\nacme,1e999999999\n")
    assert "out of range" in invoke("margin", "--period", "2026-11", "--revenue", str(revenue))
    bill = tmp_path / "bill.csv"
    bill.write_text("date,provider,model,cost\n2026-11-01,openai,gpt-4o,1e100000000\n")
    out = invoke("reconcile", "--period", "2026-11", "--provider-bill", str(bill))
    assert "out of range" in out


def test_prices_check_on_deeply_nested_yaml_is_a_clean_error(tmp_path: Path):
    deep = tmp_path / "prices.yaml"
    deep.write_text("prices:\n- " + "[" * 20000 + "]" * 20000 + "\n")
    result = CliRunner().invoke(cli, ["prices", "check", str(deep)])
    assert result.exit_code == 1 and "nested too deeply" in result.output
    assert isinstance(result.exception, SystemExit)


def test_every_report_runs_as_a_guest(chdb_url, chdb_client, ch_database):
    """The reports' own SQL passes the guest rules (it goes through them in embedded mode)."""
    from sinks.config import QueryLimits
    from sinks.readonly import ReadOnlyClient

    load_known(chdb_client, ch_database)
    guest = ReadOnlyClient(chdb_url, ch_database, QueryLimits())
    api = TestClient(create_app(guest, ch_database, TOKEN, parse_plans(PLANS)))
    for method, path, body in [
        ("GET", "/v1/cost?from=2026-11-01&to=2026-11-30&by=customer,feature&top=2", None),
        ("GET", "/v1/features?from=2026-11-01&to=2026-11-30&tag=feature:chat", None),
        ("GET", "/v1/invoices?period=2026-11", None),
        ("GET", "/v1/reconcile?period=2026-11", None),
        ("POST", "/v1/reconcile?period=2026-11", BILL),
        ("POST", "/v1/margin?period=2026-11", "customer,revenue\nacme,2\n"),
    ]:  # fmt: skip
        res = api.request(method, path, content=body, headers=AUTH)
        assert res.status_code == 200, (path, res.text)
