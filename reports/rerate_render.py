"""Re-rate explanations as text (for ``reconcile``'s table output) and JSON; money exact."""

from __future__ import annotations

from typing import Any

from reports.render import table_text
from reports.rerate_history import RerateExplanation

__all__ = ["rerate_json", "rerate_text"]


def _money(value: Any) -> str:
    return format(value, "f")


def rerate_json(explained: RerateExplanation | None) -> dict[str, Any] | None:
    if explained is None:
        return None
    return {
        "original_total": _money(explained.original_total),
        "current_total": _money(explained.current_total),
        "runs": [
            {"rerate_id": r.rerate_id, "rated_at": r.rated_at.isoformat(), "events": r.events,
             "old_cost": _money(r.old_cost), "new_cost": _money(r.new_cost)}
            for r in explained.runs
        ],
        "by_day_model": [
            {"day": c["day"].isoformat(), "model": c["model"], "events": c["events"],
             "old_cost": _money(c["old_cost"]), "new_cost": _money(c["new_cost"]),
             "difference": _money(c["difference"])}
            for c in explained.by_day_model
        ],
    }  # fmt: skip


def rerate_text(explained: RerateExplanation) -> str:
    change = explained.current_total - explained.original_total
    lines = [
        f"re-rated: total before re-rates {_money(explained.original_total)}, "
        f"now {_money(explained.current_total)} (change {_money(change)})",
    ]
    for run in explained.runs:
        lines.append(
            f"  {run.rerate_id}  {run.rated_at:%Y-%m-%d %H:%M:%S} UTC  {run.events} events  "
            f"{_money(run.old_cost)} -> {_money(run.new_cost)}"
        )
    lines.append("change by day and model (re-rated events):")
    lines.append(table_text([dict(c) for c in explained.by_day_model]))
    return "\n".join(lines)
