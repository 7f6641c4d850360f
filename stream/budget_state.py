"""What the evaluator keeps per budget subject in its changelog-backed table (pure data).

One ``SubjectState`` per ``scope:subject``, written once per delta; ``to_json``/``from_json``
keep money as decimal strings so a restart restores it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from schemas.budgets import BudgetStatus

__all__ = ["SUBJECTS_TABLE", "PolicyTally", "SubjectState", "subjects_changelog"]

SUBJECTS_TABLE = "budget-subjects"
"""Name of the evaluator's Faust table."""


def subjects_changelog(app_id: str) -> str:
    """The changelog topic Faust keeps that table in (``<app id>-<table>-changelog``): empty or
    missing means the budget windows' state is lost."""
    return f"{app_id}-{SUBJECTS_TABLE}-changelog"


@dataclass
class PolicyTally:
    """Spend buckets and fired thresholds of one policy over one subject."""

    basis: str
    """``unit/window`` the buckets were counted in."""
    version: str = ""
    """``updated_at`` of the policy last evaluated."""
    buckets: dict[int, Decimal] = field(default_factory=dict)
    fired: set[tuple[int, Decimal]] = field(default_factory=set)
    """(window instance, threshold) pairs already alerted."""
    status: BudgetStatus = BudgetStatus.OK

    def to_json(self) -> dict:
        return {
            "basis": self.basis,
            "version": self.version,
            "buckets": {str(b): format(v, "f") for b, v in self.buckets.items()},
            "fired": [[i, format(t, "f")] for i, t in sorted(self.fired)],
            "status": self.status.value,
        }

    @classmethod
    def from_json(cls, raw: dict) -> PolicyTally:
        return cls(
            basis=raw["basis"],
            version=raw.get("version", ""),
            buckets={int(b): Decimal(v) for b, v in raw["buckets"].items()},
            fired={(int(i), Decimal(t)) for i, t in raw["fired"]},
            status=BudgetStatus(raw["status"]),
        )


@dataclass
class SubjectState:
    """Everything kept per subject in the changelog-backed table (one write per delta)."""

    offsets: dict[str, int] = field(default_factory=dict)
    tallies: dict[str, PolicyTally] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "offsets": dict(self.offsets),
            "tallies": {pid: t.to_json() for pid, t in self.tallies.items()},
        }

    @classmethod
    def from_json(cls, raw: dict | None) -> SubjectState:
        if not raw:
            return cls()
        return cls(
            offsets={str(k): int(v) for k, v in raw["offsets"].items()},
            tallies={pid: PolicyTally.from_json(t) for pid, t in raw["tallies"].items()},
        )
