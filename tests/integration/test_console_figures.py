"""The console reads the ``usage_daily`` rollup only while it equals ``usage_events FINAL``:
with a duplicate stored (which the rollup counts twice) its pages still show the FINAL figures.
Also: no page or download without credentials, and the offline ``/docs``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from reports.api import create_app
from reports.plans import parse_plans
from sinks.ddl import USAGE_EVENT_COLUMNS
from sinks.migrations import migrate
from tests.integration._reports_data import BY_CUSTOMER, TOTAL, insert, known_rows

pytestmark = pytest.mark.integration

TOKEN = "figures-token"
PLANS = parse_plans("plans: {payg: {kind: markup, markup_percent: 10}}\ncustomers: {acme: payg}")


class _Cells(HTMLParser):
    """``data-customer`` of each row of ``#customers`` → its first ``data-value``."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-customer") is not None:
            self._row = a["data-customer"]
        elif tag == "td" and self._row is not None and a.get("data-value") is not None:
            self.found.setdefault(self._row, a["data-value"] or "")


def _costs(http: TestClient) -> dict[str, Decimal]:
    page = http.get("/customers", params={"period": "2026-11"})
    assert page.status_code == 200
    cells = _Cells()
    cells.feed(page.text)
    return {c: Decimal(v) for c, v in cells.found.items()}


@pytest.fixture
def http(chdb_client, ch_database) -> TestClient:  # type: ignore[no-untyped-def]
    migrate(chdb_client, ch_database)
    chdb_client.command(f"SYSTEM STOP MERGES {ch_database}.usage_events")
    insert(chdb_client, ch_database, known_rows())
    app = create_app(chdb_client, ch_database, TOKEN, PLANS)
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def test_pages_show_final_figures_from_the_rollup_or_without_it(
    http: TestClient,
    chdb_client,
    ch_database,  # type: ignore[no-untyped-def]
) -> None:
    overview = http.get("/", params={"period": "2026-11"}).text
    assert "Figures from usage_daily" in overview
    assert f'data-value="{TOTAL}"' in overview
    assert _costs(http) == BY_CUSTOMER

    retry = known_rows()[0]  # e1 again, stored a second time: FINAL hides it, the rollup sums it
    retry[USAGE_EVENT_COLUMNS.index("enriched_at")] = datetime(2026, 12, 2, tzinfo=UTC)
    insert(chdb_client, ch_database, [retry])
    (rollup,) = chdb_client.query(
        f"SELECT sum(cost) FROM {ch_database}.usage_daily WHERE customer = 'acme' "
        "AND day >= '2026-11-01' AND day < '2026-12-01'"
    ).result_rows[0]
    assert rollup > BY_CUSTOMER["acme"], "the rollup counts the duplicate"

    overview = http.get("/", params={"period": "2026-11"}).text
    assert "Figures from usage_events FINAL" in overview
    assert f'data-value="{TOTAL}"' in overview
    assert _costs(http) == BY_CUSTOMER
    acme = http.get("/customers/acme", params={"period": "2026-11"}).text
    assert f'data-value="{BY_CUSTOMER["acme"]}"' in acme


@pytest.mark.parametrize(
    "path",
    ["/", "/customers", "/customers/acme", "/features", "/budgets", "/invoices", "/reconcile",
     "/dead-letters", "/customers.csv", "/invoices.json", "/invoices.csv"],
)  # fmt: skip
def test_nothing_without_credentials(http: TestClient, path: str) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        res = http.get(path, headers=headers, follow_redirects=False)
        assert res.status_code == 401 and "acme" not in res.text
    res = http.get(
        path, headers={"Authorization": "", "Accept": "text/html"}, follow_redirects=False
    )
    assert res.status_code == 303 and res.headers["location"].startswith("/login?next=")
    res = http.post("/reconcile", headers={"Authorization": ""}, files={"bill": ("b.csv", b"x")})
    assert res.status_code == 401


def test_docs_load_their_assets_from_this_server(http: TestClient) -> None:
    docs = http.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert http.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert http.get("/redoc").status_code in (401, 404)


def test_form_posts_are_bounded(chdb_client, ch_database) -> None:  # type: ignore[no-untyped-def]
    migrate(chdb_client, ch_database)
    app = create_app(chdb_client, ch_database, TOKEN, PLANS, max_body_bytes=1000)
    http = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    big = b"date,provider,model,cost\n" + b"2026-11-01,openai,gpt-4o,1\n" * 100
    res = http.post("/reconcile", data={"period": "2026-11"}, files={"bill": ("b.csv", big)})
    assert res.status_code == 413
    assert http.post("/login", data={"token": "x" * 2000}).status_code == 413
    small = b"date,provider,model,cost\n2026-11-01,openai,gpt-4o,1\n"
    res = http.post("/reconcile", data={"period": "2026-11"}, files={"bill": ("b.csv", small)})
    assert res.status_code == 200 and 'id="variances"' in res.text
