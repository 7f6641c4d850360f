"""Per-customer economics over the ClickHouse store: cost report, cost versus usage per
feature, invoices, reconciliation and margin. Every report is a plain function taking a query
``client`` (clickhouse-connect ``Client`` or anything with the same ``query``), a database name
and a period, and returning typed results; ``reports.api`` serves them over HTTP."""

from reports.cost import CostFilter, CostGroup, CostReport, Usage, cost_report, feature_report
from reports.csv_inputs import BillLine, parse_provider_bill, parse_revenue
from reports.errors import (
    InputFileError,
    InvalidIdentifierError,
    InvalidPeriodError,
    PlansError,
    QueryFailedError,
    ReportError,
)
from reports.invoice_math import Invoice, InvoiceLine, ModelUsage, build_invoice
from reports.invoices import build_invoices
from reports.margin import MarginReport, MarginRow, MarginStatus, compute_margins
from reports.margin_report import cost_by_customer, margin_report
from reports.periods import TimeRange, date_range, month_period
from reports.plans import PlansFile, parse_plans
from reports.reconcile import Reconciliation, reconcile
from reports.unit_costs import FeatureUnitCost

__all__ = [
    "BillLine",
    "CostFilter",
    "CostGroup",
    "CostReport",
    "FeatureUnitCost",
    "InputFileError",
    "InvalidIdentifierError",
    "InvalidPeriodError",
    "Invoice",
    "InvoiceLine",
    "MarginReport",
    "MarginRow",
    "MarginStatus",
    "ModelUsage",
    "PlansError",
    "PlansFile",
    "QueryFailedError",
    "Reconciliation",
    "ReportError",
    "TimeRange",
    "Usage",
    "build_invoice",
    "build_invoices",
    "compute_margins",
    "cost_by_customer",
    "cost_report",
    "date_range",
    "feature_report",
    "margin_report",
    "month_period",
    "parse_plans",
    "parse_provider_bill",
    "parse_revenue",
    "reconcile",
]
