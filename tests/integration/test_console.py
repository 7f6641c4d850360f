"""The cost console on a running ``meterline demo --serve``: every page over HTTP with the token
(and nothing without it), then in a real headless Chromium with the network cut to 127.0.0.1:
sign in, open every page, compare its numbers with SQL over ``usage_events FINAL``, upload a
provider bill, sign out, and check that a share link shows one customer and nothing else.

One demo stack and one browser serve the whole module. Screenshots of every page go to the
artifacts directory printed at the start (``METERLINE_TEST_ARTIFACTS`` chooses it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from reports.console.auth import ConsoleKeys
from tests.integration._console_support import (
    CHROMIUM_FLAGS,
    ServedDemo,
    Store,
    chromium_or_skip,
    served_demo,
    shown_money,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAGES = (
    "/",
    "/customers",
    "/customers/acme",
    "/features",
    "/budgets",
    "/invoices",
    "/reconcile",
    "/dead-letters",
)
PERIOD_FILTER = (
    "occurred_at >= toStartOfMonth(now64(3, 'UTC')) AND occurred_at < toStartOfMonth(now64(3, "
    "'UTC')) + INTERVAL 1 MONTH"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    with served_demo(tmp_path_factory.mktemp("console-demo")) as served:
        yield served


@pytest.fixture(scope="module")
def store(demo: ServedDemo) -> Iterator[Store]:
    sql = Store(demo.chdb_dir)
    yield sql
    sql.close()


@pytest.fixture(scope="module")
def period(store: Store) -> str:
    (row,) = store.rows(
        "SELECT formatDateTime(max(occurred_at), '%Y-%m') AS p FROM meterline.usage_events"
    )
    assert row["p"] == f"{datetime.now(UTC):%Y-%m}", "the demo's day lies in this month"
    return row["p"]


def test_every_page_answers_the_token_and_nothing_without_it(demo: ServedDemo) -> None:
    bearer = {"Authorization": f"Bearer {demo.token}"}
    with httpx.Client(base_url=demo.url, timeout=60) as http:
        for path in PAGES:
            page = http.get(path, headers=bearer)
            assert page.status_code == 200, (path, page.text[:500])
            assert "acme" in page.text, path
            assert page.headers["content-security-policy"].startswith("default-src 'self'")
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Cookie": "meterline_session=v1.9999999999.x.y"},
            ):
                html = http.get(path, headers={**headers, "Accept": "text/html"})
                assert html.status_code == 303 and html.headers["location"].startswith("/login")
                plain = http.get(path, headers=headers)
                assert plain.status_code == 401 and "acme" not in plain.text
        for path in ("/customers.csv", "/invoices.json", "/invoices.csv"):
            assert http.get(path).status_code == 401
            assert "acme" in http.get(path, headers=bearer).text
        assert http.get("/docs").status_code == 200


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("METERLINE_TEST_ARTIFACTS")
    path = Path(chosen) / "console" if chosen else tmp_path_factory.mktemp("console-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {path}")
    return path


class CutNetwork:
    """Every request not to 127.0.0.1 is aborted and remembered; failed requests and console
    errors (CSP violations included) are remembered too."""

    def __init__(self, context: Any) -> None:
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        context.route("**/*", self._route)
        context.on("requestfailed", self._failed)
        context.on("weberror", lambda e: self.errors.append(str(e.error)))
        context.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )

    def _failed(self, request: Any) -> None:
        # ERR_ABORTED is the browser dropping a request of a page it navigated away from (seen
        # with the chart script); an asset that really fails answers 404 or is refused, and an
        # undrawn chart fails the page on its own.
        if request.failure != "net::ERR_ABORTED":
            self.failed.append(f"{request.url} {request.failure}")

    def _route(self, route: Any) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    def assert_clean(self, where: str) -> None:
        assert not self.blocked, f"{where} reached for the internet: {self.blocked}"
        assert not self.failed, f"{where} had failed requests: {self.failed}"
        assert not self.errors, f"{where} logged errors: {self.errors}"


@pytest.fixture(scope="module")
def browser(demo: ServedDemo) -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _context(browser: Any) -> tuple[Any, CutNetwork]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    return context, CutNetwork(context)


def _cells(page: Any, table: str, key: str) -> dict[str, list[str]]:
    """``data-<key>`` of each row → the exact values (``data-value``) of its cells."""
    return page.eval_on_selector_all(
        f"{table} tbody tr[data-{key}]",
        """(rows, key) => Object.fromEntries(rows.map(r => [r.dataset[key],
             Array.from(r.querySelectorAll('td[data-value]')).map(c => c.dataset.value)]))""",
        key,
    )


def _charts_drawn(page: Any) -> None:
    page.wait_for_load_state("load")
    canvases = page.locator("canvas")
    for i in range(canvases.count()):
        assert int(canvases.nth(i).get_attribute("data-drawn") or 0) > 0, "a chart was not drawn"


def _open(page: Any, net: CutNetwork, path: str, shots: Path, name: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    _charts_drawn(page)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    net.assert_clean(path)


def _money(values: list[dict[str, Any]], key: str, field: str = "cost") -> dict[str, Decimal]:
    return {r[key]: r[field] for r in values}


def test_console_in_a_browser_shows_what_sql_says(
    demo: ServedDemo, store: Store, period: str, browser: Any, artifacts: Path
) -> None:
    context, net = _context(browser)
    page = context.new_page()
    base = demo.url
    q = f"?period={period}"

    # Signing in: a wrong token is refused, the right one lands on the page asked for.
    page.goto(f"{base}/customers{q}")
    assert page.url.startswith(f"{base}/login")
    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    net.errors.clear()  # the browser logs the refused sign-in's 401
    page.fill("input[name=token]", demo.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/customers{q}")
    cookie = next(c for c in context.cookies() if c["name"] == "meterline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    per_customer = store.rows(
        f"SELECT customer, sum(cost) AS cost, count() AS requests FROM meterline.usage_events "
        f"FINAL WHERE {PERIOD_FILTER} GROUP BY customer"
    )
    (total,) = store.rows(
        f"SELECT sum(cost) AS cost FROM meterline.usage_events FINAL WHERE {PERIOD_FILTER}"
    )

    _open(page, net, f"{base}/{q}", artifacts, "overview")
    shown = page.locator("#total-cost .value")
    assert Decimal(shown.get_attribute("data-value")) == total["cost"]
    assert shown.inner_text() == shown_money(total["cost"])
    assert page.locator("#reconciled .value").inner_text() == "yes"
    top = _cells(page, "#top-customers", "customer")
    costs = _money(per_customer, "customer")
    assert top and all(Decimal(v[0]) == costs[c] for c, v in top.items())
    assert page.locator("#standout .big").inner_text().strip() != ""

    _open(page, net, f"{base}/customers{q}", artifacts, "customers")
    table = _cells(page, "#customers", "customer")
    assert set(table) >= set(costs)
    for row in per_customer:
        cost, requests = table[row["customer"]][0:2]
        assert (Decimal(cost), int(requests)) == (row["cost"], row["requests"])
    # Sorted by cost (highest first) without JavaScript: the server sorts.
    shown_costs = [Decimal(v[0]) for v in table.values()]
    assert shown_costs == sorted(shown_costs, reverse=True)
    page.goto(f"{base}/customers{q}&q=acm")
    assert list(_cells(page, "#customers", "customer")) == ["acme"]

    _open(page, net, f"{base}/customers/acme{q}", artifacts, "customer-acme")
    acme_features = store.rows(
        f"SELECT feature, sum(cost) AS cost FROM meterline.usage_events FINAL "
        f"WHERE {PERIOD_FILTER} AND customer = 'acme' GROUP BY feature"
    )
    shown_features = _cells(page, "#customer-features", "feature")
    assert {f: Decimal(v[0]) for f, v in shown_features.items()} == _money(acme_features, "feature")
    assert (
        Decimal(page.locator("#customer-cost .value").get_attribute("data-value")) == costs["acme"]
    )
    assert page.locator("#budget-table tr[data-policy=acme-daily-cap]").count() == 1
    assert page.locator("#invoice").is_visible()

    _open(page, net, f"{base}/features{q}", artifacts, "features")
    per_feature = store.rows(
        f"SELECT if(feature = '', '(none)', toString(feature)) AS feature, sum(cost) AS cost "
        f"FROM meterline.usage_events FINAL WHERE {PERIOD_FILTER} GROUP BY feature"
    )
    shown_features = _cells(page, "#features", "feature")
    assert {f: Decimal(v[0]) for f, v in shown_features.items()} == _money(per_feature, "feature")
    assert page.locator("#features tr.standout").count() >= 1

    deadline = time.monotonic() + 30  # the console reads the compacted topics at start
    while True:
        _open(page, net, f"{base}/budgets", artifacts, "budgets")
        if "Reading budget state" not in page.content() or time.monotonic() > deadline:
            break
    assert "Reading budget state" not in page.content(), "live budget state never caught up"
    acme_cap = page.locator("#budget-table tr[data-policy=acme-daily-cap]")
    assert "exceeded" in acme_cap.inner_text()
    shared = page.locator("#budget-table tr[data-policy=shared-key-daily] td[data-value]")
    assert Decimal(shared.get_attribute("data-value")) > 0, "the shared key has spent"
    acme_alerts = store.rows(
        "SELECT count() AS n FROM meterline.budget_alerts FINAL WHERE policy_id = 'acme-daily-cap'"
    )[0]["n"]
    assert (
        page.locator("#alert-table tbody tr", has_text="acme-daily-cap").count() == acme_alerts == 3
    )

    _open(page, net, f"{base}/invoices{q}", artifacts, "invoices")
    invoices = _cells(page, "#invoices", "customer")
    assert Decimal(invoices["acme"][0]) == costs["acme"]  # usage cost column

    _open(page, net, f"{base}/dead-letters{q}", artifacts, "dead-letters")
    (dead,) = store.rows(
        "SELECT count() AS n FROM meterline.dead_letters FINAL WHERE received_at >= "
        "toStartOfMonth(now64(3, 'UTC'))"
    )
    assert page.locator("#dead-letters tbody tr").count() == dead["n"] == 3

    _open(page, net, f"{base}/reconcile{q}", artifacts, "reconcile")
    assert "yes" in page.locator("#verdict").inner_text()
    ledger = _cells(page, "#ledger-customers", "customer")
    assert {c: Decimal(v[0]) for c, v in ledger.items()} == costs
    # A provider bill that matches the store except one line, 5.00 over: it tops the variances.
    lines = store.rows(
        f"SELECT toDate(occurred_at) AS day, toString(provider) AS provider, toString(model) "
        f"AS model, sum(cost) AS cost FROM meterline.usage_events FINAL WHERE {PERIOD_FILTER} "
        f"GROUP BY day, provider, model ORDER BY cost DESC"
    )
    bill = "date,provider,model,cost\n" + "".join(
        f"{r['day']},{r['provider']},{r['model']},{r['cost'] + (5 if i == 0 else 0)}\n"
        for i, r in enumerate(lines)
    )
    bill_path = artifacts / "bill.csv"
    bill_path.write_text(bill)
    page.set_input_files("input[name=bill]", str(bill_path))
    page.click("#bill-form button[type=submit]")
    page.wait_for_selector("#variances")
    first = page.locator("#variances tbody tr").first
    assert lines[0]["provider"] in first.inner_text()  # the model may show its canonical name
    assert Decimal(first.locator("td[data-value]").nth(2).get_attribute("data-value")) == 5
    assert "no" in page.locator("#verdict").inner_text()
    page.screenshot(path=str(artifacts / "reconcile-bill.png"), full_page=True)
    net.assert_clean("reconcile with a bill")

    # Swagger UI renders from local assets.
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    page.screenshot(path=str(artifacts / "docs.png"))
    net.assert_clean("/docs")

    # Signing out ends the session, also for a copy of the cookie kept elsewhere.
    page.goto(f"{base}/{q}")
    page.click(".signout button")
    page.wait_for_url(f"{base}/login")
    replay = httpx.get(
        f"{base}/customers", headers={"Cookie": f"meterline_session={cookie['value']}"}
    )
    assert replay.status_code == 401 and "acme" not in replay.text
    context.close()


def test_share_link_shows_one_customer_and_nothing_else(
    demo: ServedDemo, store: Store, period: str, browser: Any, artifacts: Path
) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "meterline", "share", "globex", "--expires", "1h"],
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    link = made.stdout.strip()
    assert link.startswith(f"{demo.url}/share/")
    context, net = _context(browser)
    page = context.new_page()

    _open(page, net, link, artifacts, "share-globex")
    (globex,) = store.rows(
        f"SELECT sum(cost) AS cost FROM meterline.usage_events FINAL "
        f"WHERE {PERIOD_FILTER} AND customer = 'globex'"
    )
    assert (
        Decimal(page.locator("#customer-cost .value").get_attribute("data-value")) == globex["cost"]
    )
    assert "acme" not in page.content()
    assert "shared-key-daily" not in page.content(), "a shared key budget spans customers"
    assert page.locator("header nav").count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert all(h.startswith("/share/") for h in hrefs), hrefs
    page.goto(f"{link}?period={period}")
    assert "globex" in page.locator("h1").inner_text()

    # The link opens nothing else: no other page, no other customer, no session.
    for path in ("/", "/customers", "/customers/acme", "/budgets", "/customers.csv"):
        page.goto(demo.url + path)
        assert page.url.startswith(f"{demo.url}/login"), path
        assert page.locator("h1").inner_text() == "Sign in"
        assert page.locator("[data-value]").count() == 0, f"{path} showed figures"
    assert not [c for c in context.cookies() if c["name"] == "meterline_session"]

    token = link.rsplit("/", 1)[1]
    payload, signature = token.split(".")
    keys = ConsoleKeys(demo.token)
    forged = keys.share_token("acme", int(time.time()) + 3600).split(".")[0] + "." + signature
    expired = keys.share_token("globex", int(time.time()) - 1)
    for bad in (forged, expired, payload, token[:-2]):
        response = page.goto(f"{demo.url}/share/{bad}")
        assert response is not None and response.status == 403
        assert "acme" not in page.content() and "globex" not in page.content()
    context.close()
