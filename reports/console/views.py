"""How numbers look on a page, and the chart specs the page's script draws. Pure.

Money shows rounded to cents (half up, as invoices round) with thousands separators; the exact
value travels in the cell's ``data-value`` so nothing is lost to the eye's convenience.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reports.invoice_math import to_cents

__all__ = ["chart_payload", "money", "number", "percent"]


def money(value: Decimal | None) -> str:
    """``1234.5678`` → ``1,234.57``; ``None`` → ``—``."""
    if value is None:
        return "—"
    return f"{to_cents(value):,.2f}"


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f} %"


def chart_payload(
    canvas_id: str,
    kind: str,
    labels: list[str],
    datasets: dict[str, list[str]],
    stacked: bool,
) -> dict[str, Any]:
    """What ``console.js`` needs to draw one chart into ``<canvas id=canvas_id>``; values are
    decimal strings (the chart parses them, the tables keep them exact)."""
    return {
        "id": canvas_id,
        "type": kind,
        "labels": labels,
        "datasets": [{"label": name, "data": values} for name, values in datasets.items()],
        "stacked": stacked,
    }
