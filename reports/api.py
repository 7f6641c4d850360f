"""Read-only HTTP API over the reports (FastAPI). Every data route needs
``Authorization: Bearer <token>``; ``/healthz`` and the OpenAPI docs (``/docs``,
``/openapi.json``) carry no data and need none.

``create_app`` takes the query client the process already has (one chDB directory per
process) and serialises queries on it; ``?format=csv`` gives CSV, JSON otherwise (money as
exact decimal strings).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from reports._sql import QueryClient, QueryResult
from reports.aliases import Aliases
from reports.api_guard import RequestGuard
from reports.console import LiveBudgets, mount_console
from reports.cost import DIMENSIONS, CostFilter, CostReport, cost_report, feature_report
from reports.csv_inputs import parse_provider_bill, parse_revenue
from reports.errors import InputFileError, QueryFailedError, ReportError
from reports.invoice_document import customer_invoice
from reports.invoice_html import invoice_html
from reports.invoice_math import Invoice
from reports.invoices import revenue_from_invoices
from reports.margin import MarginReport
from reports.margin_report import margin_report
from reports.periods import date_range, month_period
from reports.plans import PlansFile
from reports.reconcile import DEFAULT_TOLERANCE, Reconciliation, reconcile
from reports.render import (
    cost_rows,
    csv_text,
    document_rows,
    feature_rows,
    invoice_rows,
    jsonable,
    margin_rows,
    variance_rows,
)
from reports.rerate_history import invoices_with_adjustments
from reports.unit_costs import FeatureUnitCost
from reports.uploads import CSV_REQUEST_BODY, csv_upload

__all__ = ["create_app"]

T = TypeVar("T")
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
Period = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (UTC)")]
From = Annotated[date, Query(alias="from", description="first day, UTC")]
To = Annotated[date, Query(alias="to", description="last day, included")]
Customer = Annotated[str | None, Query(description="only this customer (exact)")]
Tags = Annotated[list[str], Query(alias="tag", description="k:v; repeat, all must match")]
CsvBody = Annotated[bytes, Depends(csv_upload)]
Top = Annotated[int | None, Query(ge=1, le=1_000_000)]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")

log = logging.getLogger(__name__)


def _text(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{what} is not UTF-8 text (byte {exc.start})") from None


class _SerialClient:
    """One query at a time on the shared client (the embedded engine is one per process)."""

    def __init__(self, client: QueryClient) -> None:
        self._client = client
        self._lock = threading.Lock()

    def query(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> QueryResult:
        with self._lock:
            return self._client.query(query, parameters=parameters, settings=settings)


_BEARER = HTTPBearer(auto_error=False, description="the METERLINE_REPORT_API_TOKEN")


class _BearerAuth:
    """Dependency refusing (401) any request without ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def __call__(
        self, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
    ) -> None:
        if creds is None or not secrets.compare_digest(creds.credentials.encode(), self._expected):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _docs(model: type) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "content": {"text/csv": {}}}}


def create_app(
    client: QueryClient,
    database: str,
    token: str,
    plans: PlansFile | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    aliases: Aliases | None = None,
    budget_status: Callable[[], Sequence[BaseModel]] | None = None,
    live: LiveBudgets | None = None,
    console_secret: str | None = None,
) -> FastAPI:
    """The API app with the console (``reports.console``) at ``/``. ``token`` must be
    non-empty: with no token there is no data. Data routes check the token before reading a
    body, and refuse bodies over ``max_body_bytes`` (413). ``budget_status`` answers
    ``/v1/budgets`` (it reads the broker, which reports do not)."""
    if not token:
        raise ValueError("the report API needs a bearer token")
    store = _SerialClient(client)
    authorized = _BearerAuth(token)

    app = FastAPI(
        title="Meterline reports",
        version="1",
        description="Per-customer LLM cost, invoices, reconciliation and margin (read-only).",
        docs_url=None,  # served from local assets by the console
        redoc_url=None,
    )

    app.add_middleware(RequestGuard, token=token, max_body_bytes=max_body_bytes)

    @app.exception_handler(ReportError)
    async def _report_error(_: Request, exc: ReportError) -> JSONResponse:
        if isinstance(exc, QueryFailedError):
            # The engine's text names paths and internals: it goes to the log, not the caller.
            log.error("report query failed: %s", exc.__cause__ or exc)
            name = _ERROR_NAME.search(str(exc.__cause__ or exc))
            detail = (
                f"the report query on database {database} failed"
                f"{f' ({name.group(1)})' if name else ''}; the API log has the details"
            )
            return JSONResponse(status_code=503, content={"detail": detail})
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    def run(report: Callable[[QueryClient, str], T]) -> T:
        return report(store, database)

    auth = [Depends(authorized)]

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/cost", dependencies=auth, response_model=None, responses=_docs(CostReport))
    def cost(
        first: From,
        last: To,
        by: Annotated[str, Query(description=f"comma-separated: {', '.join(DIMENSIONS)}")] = (
            "customer"
        ),
        customer: Customer = None,
        tags: Tags = [],  # noqa: B006 - FastAPI copies query defaults
        top: Top = None,
        format: Format = "json",
    ) -> Any:
        """Cost, computed cost, requests and tokens per group; the groups sum to ``total``."""
        period = date_range(first, last)
        dims = tuple(d.strip() for d in by.split(",") if d.strip())
        flt = CostFilter(customer=customer, tags=tuple(tags))
        result = run(lambda c, db: cost_report(c, db, period, by=dims, flt=flt, top=top))
        return (
            _csv(csv_text(cost_rows(result, with_total=False)), "cost")
            if format == "csv"
            else jsonable(result)
        )

    @app.get(
        "/v1/features", dependencies=auth, response_model=None, responses=_docs(FeatureUnitCost)
    )
    def features(
        first: From,
        last: To,
        customer: Customer = None,
        tags: Tags = [],  # noqa: B006
        format: Format = "json",
    ) -> Any:
        """Cost versus usage per feature, most expensive per request first."""
        period = date_range(first, last)
        flt = CostFilter(customer=customer, tags=tuple(tags))
        result = run(lambda c, db: feature_report(c, db, period, flt=flt))
        if format == "csv":
            return _csv(csv_text(feature_rows(result)), "features")
        return jsonable(result)

    @app.get("/v1/budgets", dependencies=auth, response_model=None)
    def budgets() -> Any:
        """Every budget policy with its spend, limit, percent used, state, reset time and last
        alert, most used first."""
        if budget_status is None:
            raise HTTPException(status_code=409, detail="no broker configured for budget status")
        return jsonable(list(budget_status()))

    def _plans() -> PlansFile:
        if plans is None:
            raise HTTPException(
                status_code=409, detail="no plans file configured (METERLINE_REPORT_PLANS_FILE)"
            )
        return plans

    @app.get("/v1/invoices", dependencies=auth, response_model=None, responses=_docs(Invoice))
    def invoices(
        period: Period,
        format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
        view: Annotated[
            Literal["internal", "customer"],
            Query(description="internal: cost and markup; customer: the invoice to send"),
        ] = "internal",
        customer: Customer = None,
    ) -> Any:
        """One invoice per customer under the configured plans file; ``format=html`` with
        ``customer=`` is the printable invoice."""
        chosen = _plans()
        month = month_period(period)
        result = run(lambda c, db: invoices_with_adjustments(c, db, month, chosen))
        if customer is not None:
            result = [i for i in result if i.customer == customer]
        docs = [customer_invoice(i, month, chosen) for i in result if i.plan is not None]
        if format == "html":
            if customer is None or len(docs) != 1:
                raise HTTPException(
                    status_code=400, detail="format=html needs customer= (one planned customer)"
                )
            return HTMLResponse(invoice_html(docs[0]))
        if format == "csv":
            rows = invoice_rows(result) if view == "internal" else document_rows(docs)
            return _csv(csv_text(rows), f"invoices-{month.label}")
        return jsonable(result) if view == "internal" else jsonable(docs)

    @app.get("/v1/margin", dependencies=auth, response_model=None, responses=_docs(MarginReport))
    def margin_from_invoices(period: Period, format: Format = "json") -> Any:
        """Margin per customer with the month's invoices (configured plans) as revenue."""
        chosen = _plans()
        month = month_period(period)
        result = run(
            lambda c, db: margin_report(
                c, db, month, revenue_from_invoices(invoices_with_adjustments(c, db, month, chosen))
            )
        )
        if format == "csv":
            return _csv(csv_text(margin_rows(result)), f"margin-{month.label}")
        return jsonable(result)

    @app.get(
        "/v1/reconcile", dependencies=auth, response_model=None, responses=_docs(Reconciliation)
    )
    def reconcile_ledger(period: Period, format: Format = "json") -> Any:
        """The month's reconciliation without a provider bill (``reconciled`` says the verdict;
        CSV: cost per customer)."""
        month = month_period(period)
        result = run(lambda c, db: reconcile(c, db, month))
        if format == "csv":
            rows = [c.model_dump() for c in result.ledger.customers]
            return _csv(csv_text(rows), f"customer-costs-{month.label}")
        return jsonable(result)

    @app.post(
        "/v1/reconcile",
        dependencies=auth,
        response_model=None,
        responses=_docs(Reconciliation),
        openapi_extra=CSV_REQUEST_BODY,
    )
    def reconcile_bill(
        period: Period,
        bill: CsvBody,
        tolerance: Annotated[
            Decimal, Query(ge=0, description="largest absolute gap per line and for the total")
        ] = DEFAULT_TOLERANCE,
        format: Format = "json",
    ) -> Any:
        """Reconcile against a provider bill posted as CSV (date,provider,model,cost, or the
        OpenAI/Anthropic cost export); CSV out: the variance per provider × model × day,
        biggest gap first. Reads only."""
        month = month_period(period)
        lines = parse_provider_bill(_text(bill, "the provider bill"))
        result = run(lambda c, db: reconcile(c, db, month, lines, tolerance, aliases))
        if format == "csv":
            return _csv(csv_text(variance_rows(result)), f"bill-variance-{month.label}")
        return jsonable(result)

    @app.post(
        "/v1/margin",
        dependencies=auth,
        response_model=None,
        responses=_docs(MarginReport),
        openapi_extra=CSV_REQUEST_BODY,
    )
    def margin(period: Period, revenue: CsvBody, format: Format = "json") -> Any:
        """Margin per customer from revenue posted as CSV (customer,revenue). Reads only."""
        month = month_period(period)
        rev = parse_revenue(_text(revenue, "the revenue file"))
        result = run(lambda c, db: margin_report(c, db, month, rev))
        if format == "csv":
            return _csv(csv_text(margin_rows(result)), f"margin-{month.label}")
        return jsonable(result)

    mount_console(app, store, database, token, plans, live, console_secret, max_body_bytes)
    return app
