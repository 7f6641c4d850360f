"""The console's pages on the report API's FastAPI app (``mount_console``).

Server-rendered with Jinja2: every table reads without JavaScript; charts are drawn by the
vendored Chart.js from JSON embedded in the page. Nothing loads from another origin (the
Content-Security-Policy says so to the browser), and ``/docs`` serves Swagger UI's own assets
from the ``swagger-ui-bundle`` package.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from reports._sql import QueryClient
from reports.api_guard import BodyTooLarge, declared_length
from reports.console import data
from reports.console.auth import ConsoleKeys, InvalidCredential
from reports.console.figures import Figures
from reports.console.gate import Gate
from reports.console.live import LiveBudgets, LiveSnapshot, budget_rows
from reports.console.views import chart_payload, money, number, percent
from reports.csv_inputs import parse_provider_bill
from reports.errors import ReportError
from reports.periods import TimeRange, month_period
from reports.plans import PlansFile
from reports.render import csv_text, invoice_rows, jsonable

__all__ = ["STATIC_DIR", "mount_console"]

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NAV = (
    ("/", "Overview"),
    ("/customers", "Customers"),
    ("/features", "Features"),
    ("/budgets", "Budgets"),
    ("/invoices", "Invoices"),
    ("/reconcile", "Reconcile"),
    ("/dead-letters", "Dead letters"),
)


def _this_month() -> str:
    return f"{datetime.now(UTC):%Y-%m}"


class ConsoleError(Exception):
    """Shown to the user as an error page with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _SignInRequired(Exception):
    pass


def _period(value: str | None) -> TimeRange:
    try:
        return month_period(value or _this_month())
    except ReportError as exc:
        raise ConsoleError(400, str(exc)) from exc


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def mount_console(
    app: FastAPI,
    client: QueryClient,
    database: str,
    token: str,
    plans: PlansFile | None = None,
    live: LiveBudgets | None = None,
    secret: str | None = None,
    max_body_bytes: int = 10 * 1024 * 1024,
) -> None:
    """Add the console (pages, sign-in, share links, static assets, offline ``/docs``) to
    ``app``. ``secret`` (default: ``token``) signs sessions and share links; a form post (sign
    in, a bill upload) larger than ``max_body_bytes`` is refused with 413."""
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes)
    gate = Gate(token, ConsoleKeys(secret or token))
    figures = Figures(client, database)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.filters.update(money=money, number=number, percent=percent)
    templates.env.globals.update(nav=NAV)

    app.mount("/static/swagger", StaticFiles(directory=_swagger_assets()), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    def snapshot() -> LiveSnapshot | None:
        return live.snapshot() if live is not None else None

    def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("share", False)
        context.setdefault("charts", [])
        context["charts_json"] = json.dumps(context["charts"])
        started = time.perf_counter()
        response = templates.TemplateResponse(request, template, context, status_code=status)
        response.headers.update(_PAGE_HEADERS)
        response.headers["Server-Timing"] = (
            f"render;dur={(time.perf_counter() - started) * 1e3:.1f}"
        )
        return response

    def viewer(request: Request) -> None:
        if not gate.allows(request):
            raise _SignInRequired

    @app.exception_handler(_SignInRequired)
    async def _sign_in(request: Request, _: _SignInRequired) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(here)}", status_code=303)
        return Response(
            "sign in at /login or send Authorization: Bearer <token>\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer", **_PAGE_HEADERS},
            media_type="text/plain",
        )

    @app.exception_handler(ConsoleError)
    async def _console_error(request: Request, exc: ConsoleError) -> Response:
        return page(request, "error.html", exc.status, message=str(exc))

    signed_in = [Depends(viewer)]

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        return page(request, "login.html", next=_safe_next(next), failed=False, share=True)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
    ) -> Response:
        if not gate.token_matches(token.strip()):
            return page(request, "login.html", 401, next=_safe_next(next), failed=True, share=True)
        response = RedirectResponse(_safe_next(next), status_code=303)
        gate.sign_in(request, response)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        gate.sign_out(request, response)
        return response

    @app.get("/", include_in_schema=False, dependencies=signed_in)
    def overview_page(request: Request, period: str | None = None) -> Response:
        month = _period(period)
        view = data.overview(figures, month, plans)
        charts = [chart_payload("daily", "bar", view.daily.labels, view.daily.datasets, True)]
        return page(request, "overview.html", period=month, view=view, charts=charts)

    @app.get("/customers", include_in_schema=False, dependencies=signed_in)
    def customers_page(
        request: Request,
        period: str | None = None,
        q: str = "",
        sort: str = "cost",
        dir: str = "desc",
    ) -> Response:
        month = _period(period)
        table = data.customers_table(figures, month, plans, snapshot(), q, sort, dir != "asc")
        return page(request, "customers.html", period=month, rows=table, q=q, sort=sort, dir=dir)

    @app.get("/customers.csv", include_in_schema=False, dependencies=signed_in)
    def customers_csv(request: Request, period: str | None = None, q: str = "") -> Response:
        month = _period(period)
        table = data.customers_table(figures, month, plans, snapshot(), q)
        rows = [{**r.__dict__, "budget": r.budget.value if r.budget else ""} for r in table]
        return _download(csv_text(rows), f"customers-{month.label}.csv", "text/csv")

    def customer_view(request: Request, customer: str, period: str | None, share: bool) -> Response:
        month = _period(period)
        view = data.customer_page(figures, month, customer, plans, snapshot(), own_only=share)
        charts = [
            chart_payload(
                "by-feature", "bar", view.daily_feature.labels, view.daily_feature.datasets, True
            ),
            chart_payload(
                "by-model", "bar", view.daily_model.labels, view.daily_model.datasets, True
            ),
        ]
        return page(request, "customer.html", period=month, view=view, charts=charts, share=share)

    @app.get("/customers/{customer}", include_in_schema=False, dependencies=signed_in)
    def customer_page(request: Request, customer: str, period: str | None = None) -> Response:
        return customer_view(request, customer, period, share=False)

    @app.get("/share/{share_token}", include_in_schema=False)
    def shared_customer(request: Request, share_token: str, period: str | None = None) -> Response:
        try:
            shared = gate.keys.check_share(share_token, int(time.time()))
        except InvalidCredential as exc:
            return page(request, "error.html", 403, message=f"this share link is not valid ({exc})")
        return customer_view(request, shared.customer, period, share=True)

    @app.get("/features", include_in_schema=False, dependencies=signed_in)
    def features_page(request: Request, period: str | None = None, customer: str = "") -> Response:
        month = _period(period)
        rows = data.feature_table(figures, month, customer or None)
        shares = {
            "cost share %": [format(r.unit.cost_share_percent, "f") for r in rows],
            "request share %": [format(r.unit.request_share_percent, "f") for r in rows],
        }
        charts = [chart_payload("shares", "bar", [r.unit.feature for r in rows], shares, False)]
        return page(
            request,
            "features.html",
            period=month,
            rows=rows,
            charts=charts,
            customer=customer,
            customers=data.customer_names(figures, month),
        )

    @app.get("/budgets", include_in_schema=False, dependencies=signed_in)
    def budgets_page(request: Request) -> Response:
        live_now = snapshot()
        return page(
            request,
            "budgets.html",
            live=live_now,
            budgets=budget_rows(live_now, data.window_spend(client, database, live_now))
            if live_now
            else [],
            alerts=data.budget_alerts(client, database),
            now=datetime.now(UTC),
        )

    @app.get("/invoices", include_in_schema=False, dependencies=signed_in)
    def invoices_page(request: Request, period: str | None = None) -> Response:
        month = _period(period)
        invoices = figures.at(month).invoices(plans) if plans else []
        return page(request, "invoices.html", period=month, invoices=invoices, plans=plans)

    @app.get("/invoices.{fmt}", include_in_schema=False, dependencies=signed_in)
    def invoices_download(request: Request, fmt: str, period: str | None = None) -> Response:
        month = _period(period)
        if plans is None:
            raise ConsoleError(409, "no plans file configured (METERLINE_REPORT_PLANS_FILE)")
        invoices = figures.at(month).invoices(plans)
        if fmt == "json":
            body = json.dumps(jsonable(invoices), indent=2)
            return _download(body, f"invoices-{month.label}.json", "application/json")
        if fmt == "csv":
            return _download(
                csv_text(invoice_rows(invoices)), f"invoices-{month.label}.csv", "text/csv"
            )
        raise ConsoleError(404, "invoices download is .json or .csv")

    @app.get("/reconcile", include_in_schema=False, dependencies=signed_in)
    def reconcile_page(request: Request, period: str | None = None, fresh: int = 0) -> Response:
        month = _period(period)
        now = figures.at(month)
        if fresh:
            result, checked_at = now.reconciliation(), time.time()
        else:
            checked_at, result, _ = now.recent_reconciliation(data.RECONCILE_MAX_AGE_S)
        return page(
            request,
            "reconcile.html",
            period=month,
            result=result,
            error="",
            checked_at=datetime.fromtimestamp(checked_at, UTC),
        )

    @app.post("/reconcile", include_in_schema=False, dependencies=signed_in)
    def reconcile_upload(
        request: Request, bill: UploadFile, period: Annotated[str, Form()] = ""
    ) -> Response:
        month = _period(period)
        try:
            lines = parse_provider_bill(bill.file.read().decode("utf-8-sig"))
            result = data.reconcile_with_bill(client, database, month, lines)
        except (ReportError, UnicodeDecodeError) as exc:
            result = figures.at(month).reconciliation()
            return page(request, "reconcile.html", 400, period=month, result=result, error=str(exc))
        return page(request, "reconcile.html", period=month, result=result, error="")

    @app.get("/dead-letters", include_in_schema=False, dependencies=signed_in)
    def dead_letters_page(request: Request, period: str | None = None) -> Response:
        month = _period(period)
        recent, kinds = data.dead_letters(client, database, month)
        live_now = snapshot()
        owners = {b.api_key_id: b for b in live_now.bindings} if live_now else {}
        return page(
            request, "dead_letters.html", period=month, recent=recent, kinds=kinds, owners=owners
        )


class BodyLimit:
    """Bounds the bodies of the console's form posts (``/v1`` has its own guard), by
    Content-Length at once and while streaming."""

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        length = declared_length(list(scope.get("headers", [])))
        if length == -1 or (length is not None and length > self.max_body_bytes):
            response = Response("request body too large\n", 413, media_type="text/plain")
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge(413, "request body too large")
            return message

        await self.app(scope, counted, send)


def _swagger_assets() -> Path:
    """Swagger UI 5 (it renders OpenAPI 3.1) as shipped inside the ``fastapi-offline`` wheel."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _download(body: str, filename: str, media_type: str) -> Response:
    return Response(
        content=body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **_PAGE_HEADERS},
    )
