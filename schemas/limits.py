"""Rate limits per key, team or owner customer: requests and tokens per minute, calls in flight."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas._types import Identifier, UtcDatetime
from schemas.budgets import BudgetScope

__all__ = ["LimitPolicy", "limit_id"]


def limit_id(scope: BudgetScope | str, subject: str) -> str:
    """The record key of a subject's limits: one ``LimitPolicy`` per ``scope:subject``."""
    return f"{BudgetScope(scope).value}:{subject}"


class LimitPolicy(BaseModel):
    """Value on the compacted ``meterline.limits`` topic, keyed by ``limit_id(scope, subject)``.

    Like budgets, limits are charged to the authenticated key's binding (the key, its team, its
    owner customer), never to a tag. Every gateway enforces each limit it names; ``None`` means
    no limit of that kind.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: BudgetScope
    subject: Identifier
    rpm: int | None = Field(default=None, gt=0, le=1_000_000)
    """Requests admitted in any sliding 60 s window."""
    tpm: int | None = Field(default=None, gt=0)
    """Tokens (input + output) admitted in any sliding 60 s window; reserved at admission from
    the estimate, corrected with the real count when the call settles."""
    max_parallel: int | None = Field(default=None, gt=0, le=100_000)
    """Calls in flight at once across every gateway."""
    lease_s: float | None = Field(default=None, gt=0, le=24 * 3600)
    """How long a slot outlives a gateway that died mid-call (default: the guard's setting)."""
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _never_on_tags(self) -> LimitPolicy:
        if self.scope is BudgetScope.TAG_CUSTOMER:
            raise ValueError(
                "limits follow the key's binding (key, team or owner customer), never a "
                "customer: tag, which any caller of a shared key can set"
            )
        return self

    @model_validator(mode="after")
    def _some_limit(self) -> LimitPolicy:
        if self.rpm is None and self.tpm is None and self.max_parallel is None:
            raise ValueError("set at least one of rpm, tpm, max_parallel")
        return self

    @property
    def limit_id(self) -> str:
        return limit_id(self.scope, self.subject)
