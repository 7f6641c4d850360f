"""A customer invoice as one printable HTML page (no scripts, no external resources). Pure."""

from __future__ import annotations

from html import escape

from reports.invoice_document import CustomerInvoice
from reports.money_format import money_text

__all__ = ["invoice_html"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;color:#111}
h1{font-size:1.6rem;margin:0}table{width:100%;border-collapse:collapse;margin-top:1.5rem}
th,td{padding:.4rem .5rem;border-bottom:1px solid #ddd;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tfoot td{font-weight:600;border-top:2px solid #111;border-bottom:none}
.meta{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin-top:1rem}
@media print{body{margin:0}}
"""


def _quantity(value: object) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def invoice_html(doc: CustomerInvoice) -> str:
    """The invoice as a standalone HTML document; every value from the data is escaped."""
    e = escape
    rows = "\n".join(
        f"<tr><td>{e(line.description)}</td><td class=n>{e(_quantity(line.quantity))}</td>"
        f"<td>{e(line.unit)}</td><td class=n>{e(format(line.unit_price, 'f'))}</td>"
        f"<td class=n>{e(money_text(line.amount))}</td></tr>"
        for line in doc.lines
    )
    issuer = f"<p>{e(doc.issuer)}</p>" if doc.issuer else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Invoice {e(doc.number)}</title><style>{_STYLE}</style></head>
<body>
{issuer}<h1>Invoice {e(doc.number)}</h1>
<div class="meta">
<span>Bill to</span><strong>{e(doc.customer)}</strong>
<span>Period</span><span>{e(doc.period)}</span>
<span>Issue date</span><span>{doc.issue_date.isoformat()}</span>
<span>Due date</span><span>{doc.due_date.isoformat()}</span>
</div>
<table>
<thead><tr><th>Description</th><th class=n>Quantity</th><th>Unit</th>
<th class=n>Unit price ({e(doc.currency)})</th>
<th class=n>Amount ({e(doc.currency)})</th></tr></thead>
<tbody>
{rows}
</tbody>
<tfoot><tr><td colspan=4>Total due</td>
<td class=n>{e(money_text(doc.total))} {e(doc.currency)}</td></tr></tfoot>
</table>
</body></html>
"""
