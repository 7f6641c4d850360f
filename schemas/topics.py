"""Every Kafka topic of the contract: name, partitions, key, cleanup policy and value type.

Tests and side-by-side deployments isolate themselves with a name prefix; the logical names below
never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ALL_TOPICS", "TopicSpec", "Topics"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    """What the record key is (and so what partitions by)."""
    value: str
    """The schema of the record value."""
    cleanup_policy: Literal["delete", "compact"]
    retention_ms: int | None = None

    def configs(self) -> dict[str, str]:
        configs: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


_WEEK_MS = 7 * 24 * 3600 * 1000

USAGE_RAW = TopicSpec(
    "meterline.usage.raw",
    4,
    "api_key_id",
    "JSON array of UsageEvent (or one object)",
    "delete",
    _WEEK_MS,
)
USAGE_ENRICHED = TopicSpec(
    "meterline.usage.enriched", 4, "api_key_id", "JSON array of EnrichedUsage", "delete", _WEEK_MS
)
USAGE_DLQ = TopicSpec(
    "meterline.usage.dlq", 1, "source position", "JSON array of DeadLetter", "delete", _WEEK_MS
)
KEYS = TopicSpec("meterline.keys", 1, "api_key_id", "KeyBinding (null = unbound)", "compact")
BUDGET_POLICIES = TopicSpec(
    "meterline.budgets.policies", 1, "policy_id", "BudgetPolicy (null = deleted)", "compact"
)
LIMITS = TopicSpec(
    "meterline.limits", 1, "scope:subject", "LimitPolicy (null = deleted)", "compact"
)
BUDGET_STATE = TopicSpec("meterline.budgets.state", 1, "policy_id", "BudgetState", "compact")
BUDGET_ALERTS = TopicSpec(
    "meterline.budgets.alerts", 1, "policy_id", "BudgetAlert", "delete", _WEEK_MS
)
BUDGET_DELTAS = TopicSpec(
    "meterline.budgets.deltas",
    4,
    "scope:subject",
    "JSON array of per-record spend deltas for one subject",
    "delete",
    _WEEK_MS,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    USAGE_RAW,
    USAGE_ENRICHED,
    USAGE_DLQ,
    KEYS,
    BUDGET_POLICIES,
    LIMITS,
    BUDGET_STATE,
    BUDGET_ALERTS,
    BUDGET_DELTAS,
)


@dataclass(frozen=True)
class Topics:
    """Concrete topic names under an optional prefix (``""`` in production)."""

    prefix: str = ""

    def name(self, spec: TopicSpec) -> str:
        return f"{self.prefix}{spec.name}"

    @property
    def usage_raw(self) -> str:
        return self.name(USAGE_RAW)

    @property
    def usage_enriched(self) -> str:
        return self.name(USAGE_ENRICHED)

    @property
    def usage_dlq(self) -> str:
        return self.name(USAGE_DLQ)

    @property
    def keys(self) -> str:
        return self.name(KEYS)

    @property
    def budget_policies(self) -> str:
        return self.name(BUDGET_POLICIES)

    @property
    def limits(self) -> str:
        return self.name(LIMITS)

    @property
    def budget_state(self) -> str:
        return self.name(BUDGET_STATE)

    @property
    def budget_alerts(self) -> str:
        return self.name(BUDGET_ALERTS)

    @property
    def budget_deltas(self) -> str:
        return self.name(BUDGET_DELTAS)

    def specs(self) -> list[tuple[str, TopicSpec]]:
        return [(self.name(spec), spec) for spec in ALL_TOPICS]
