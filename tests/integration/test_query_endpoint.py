"""The embedded owner's query endpoint, served by its real ASGI app over the session's chDB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from sinks import wire
from sinks.server import build_app

pytestmark = pytest.mark.integration


@pytest.fixture
def endpoint(chdb_client):  # type: ignore[no-untyped-def]
    app = build_app(chdb_client, "s3cret", stats=lambda: {})
    with TestClient(app) as client:
        yield client


def post(client: TestClient, sql: str, parameters: dict | None, token: str = "s3cret"):
    body = {
        "sql": sql,
        "parameters": {k: wire.encode(v) for k, v in parameters.items()} if parameters else None,
    }
    return client.post("/query", json=body, headers={"Authorization": f"Bearer {token}"})


def test_named_parameters_of_every_kind_round_trip(endpoint, chdb_client) -> None:
    params = {
        "who": "o'brien\"; DROP TABLE x; -- ü",
        "amount": Decimal("0.000000000123"),
        "at": datetime(2026, 11, 1, 12, 30, tzinfo=UTC),
        "n": 7,
    }
    sql = "SELECT {who:String}, {amount:Decimal(38, 12)}, {at:DateTime64(3, 'UTC')}, {n:UInt32}"
    response = post(endpoint, sql, params)
    assert response.status_code == 200, response.text
    row = [wire.decode(v) for v in response.json()["rows"][0]]
    assert row[:2] == [params["who"], params["amount"]]
    assert row[2].replace(tzinfo=UTC) == params["at"]
    assert tuple(row) == chdb_client.query(sql, parameters=params).result_rows[0]


def test_refuses_without_token_and_refuses_writes(endpoint) -> None:
    assert post(endpoint, "SELECT 1", None, token="wrong").status_code == 401
    refused = post(endpoint, "DROP DATABASE system", None)
    assert refused.status_code == 400
