"""Budget policies, the per-subject state gateways follow, and threshold alerts."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas._types import Identifier, Money, NonNegativeMoney, UtcDatetime

__all__ = [
    "TAG_BUDGETS_ALERT_ONLY",
    "BudgetAction",
    "BudgetAlert",
    "BudgetPolicy",
    "BudgetScope",
    "BudgetState",
    "BudgetStatus",
    "BudgetUnit",
    "BudgetWindow",
]


class BudgetScope(StrEnum):
    KEY = "key"
    TEAM = "team"
    CUSTOMER = "customer"
    """The ``owner_customer`` of the key binding, never a tag."""
    TAG_CUSTOMER = "tag_customer"
    """The event's ``customer:`` tag (customers sharing a key). Alert-only: any caller of a shared
    key can set a tag, so a tag never blocks a key."""


TAG_BUDGETS_ALERT_ONLY = (
    "budgets on tag customers are alert-only: a customer: tag is for the books and any caller "
    "of a shared key can set it, so it never blocks the key. Use --action alert, or bind a "
    "dedicated key to the customer (meterline keys bind KEY --team TEAM --customer CUSTOMER) "
    "and budget --scope customer, which can block"
)


class BudgetUnit(StrEnum):
    USD = "usd"
    TOKENS = "tokens"
    REQUESTS = "requests"


class BudgetWindow(StrEnum):
    ROLLING_1H = "1h"
    ROLLING_24H = "24h"
    ROLLING_7D = "7d"
    ROLLING_30D = "30d"
    MONTH = "month"
    """Calendar month in UTC."""


class BudgetAction(StrEnum):
    BLOCK = "block"
    ALERT = "alert"


class BudgetStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"
    EXCEEDED = "exceeded"


Percent = Annotated[Money, Field(gt=0, le=100)]


class BudgetPolicy(BaseModel):
    """Value on the compacted ``meterline.budgets.policies`` topic, keyed by ``policy_id``.

    Spend is charged to ``scope``/``subject`` from the authenticated key's binding. Soft
    ``thresholds`` (percent, below 100) alert; at 100 % ``action`` decides between alerting and
    blocking the subject's keys at every gateway.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_id: Identifier
    scope: BudgetScope
    subject: Identifier
    limit: NonNegativeMoney = Field(gt=0)
    unit: BudgetUnit = BudgetUnit.USD
    window: BudgetWindow = BudgetWindow.ROLLING_24H
    thresholds: list[Percent] = Field(
        default_factory=lambda: [Decimal(50), Decimal(80)], max_length=10
    )
    action: BudgetAction = BudgetAction.BLOCK
    max_call_cost: NonNegativeMoney | None = None
    """What a gateway reserves for one call against a ``block`` cap, when set; otherwise the
    call's worst case from the price book (prompt estimate and ``max_tokens``)."""
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _tags_never_block(self) -> BudgetPolicy:
        if self.scope is BudgetScope.TAG_CUSTOMER and self.action is BudgetAction.BLOCK:
            raise ValueError(TAG_BUDGETS_ALERT_ONLY)
        return self

    @field_validator("thresholds")
    @classmethod
    def _sorted_soft(cls, value: list[Decimal]) -> list[Decimal]:
        soft = sorted(set(value))
        if soft and soft[-1] >= 100:
            raise ValueError("soft thresholds must be below 100; 100 % is the hard limit")
        return soft


class BudgetState(BaseModel):
    """Value on the compacted ``meterline.budgets.state`` topic, keyed by ``policy_id``.

    Gateways keep the latest per policy and block a key while any policy over the key, its team
    or its owner customer is ``exceeded`` with action ``block``, until ``resets_at``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_id: Identifier
    scope: BudgetScope
    subject: Identifier
    status: BudgetStatus
    action: BudgetAction
    unit: BudgetUnit
    window: BudgetWindow
    spend: Money
    limit: NonNegativeMoney
    window_start: UtcDatetime
    resets_at: UtcDatetime | None = None
    """When enough spend leaves the window (rolling) or the month ends, so the status may drop."""
    updated_at: UtcDatetime


class BudgetAlert(BaseModel):
    """One threshold crossing on ``meterline.budgets.alerts``.

    ``alert_id`` is deterministic in (policy, threshold, window instance), so a reprocessed event
    produces the same id and consumers deliver it once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: Identifier
    policy_id: Identifier
    scope: BudgetScope
    subject: Identifier
    threshold: Percent
    spend: Money
    limit: NonNegativeMoney
    unit: BudgetUnit
    window: BudgetWindow
    window_start: UtcDatetime
    action: BudgetAction
    event_id: Identifier
    """The event whose spend crossed the threshold."""
    occurred_at: UtcDatetime
    emitted_at: UtcDatetime

    @model_validator(mode="after")
    def _nonnegative_spend(self) -> BudgetAlert:
        if self.spend < 0:
            raise ValueError("spend cannot be negative")
        return self
