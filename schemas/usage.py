"""Usage events: the raw fact a gateway publishes and the priced, attributed record."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas._types import (
    MAX_ID_LEN,
    Identifier,
    Name,
    NonNegativeMoney,
    Tags,
    TokenCount,
    UtcDatetime,
)

__all__ = [
    "UNATTRIBUTED",
    "USAGE_SCHEMA_VERSION",
    "CostSource",
    "EnrichedUsage",
    "Status",
    "TokenCounts",
    "UsageEvent",
]

USAGE_SCHEMA_VERSION: Final = 1
UNATTRIBUTED = "unattributed"


class Status(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"


class CostSource(StrEnum):
    PROVIDER = "provider"
    PRICE_BOOK = "price_book"
    UNPRICED = "unpriced"


class TokenCounts(BaseModel):
    """Token counts of one call. The four billed buckets are disjoint and add up to all tokens:

    * ``input``: prompt tokens neither read from nor written to the provider's cache;
    * ``cache_read``: prompt tokens served from the cache;
    * ``cache_write``: prompt tokens written to the cache;
    * ``output``: every generated token, reasoning included.

    ``reasoning`` is the part of ``output`` spent on reasoning, so it never exceeds ``output``.
    OpenAI's ``prompt_tokens`` is ``input + cache_read``; Anthropic's ``input_tokens`` is ``input``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: TokenCount = 0
    output: TokenCount = 0
    cache_read: TokenCount = 0
    cache_write: TokenCount = 0
    reasoning: TokenCount = 0

    @model_validator(mode="after")
    def _reasoning_within_output(self) -> TokenCounts:
        if self.reasoning > self.output:
            raise ValueError(
                f"tokens.reasoning ({self.reasoning}) is part of tokens.output ({self.output}) "
                "and cannot exceed it"
            )
        return self

    @property
    def prompt_total(self) -> int:
        return self.input + self.cache_read + self.cache_write

    @property
    def total(self) -> int:
        return self.prompt_total + self.output


class UsageEvent(BaseModel):
    """One model call as the gateway saw it (topic ``meterline.usage.raw``).

    ``event_id`` is made once at the gateway and reused on every retry: it is the idempotency key
    of the whole pipeline. ``api_key_id`` identifies the authenticated key (an id or a hash, never
    the secret); budgets follow it. Tags are for the books only.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = USAGE_SCHEMA_VERSION
    event_id: Identifier
    occurred_at: UtcDatetime
    gateway: Name
    api_key_id: Identifier
    request_id: str = Field(default="", max_length=256)
    provider: Name
    model: Name
    tokens: TokenCounts = Field(default_factory=TokenCounts)
    tags: Tags = Field(default_factory=list)
    status: Status = Status.SUCCESS
    streamed: bool = False
    latency_ms: int = Field(default=0, ge=0, le=86_400_000)
    provider_cost: NonNegativeMoney | None = None
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")

    def tag_values(self, name: str) -> list[str]:
        """Values of every ``name:value`` tag with this name, in order."""
        prefix = name + ":"
        return [t[len(prefix) :] for t in self.tags if t.startswith(prefix)]


class EnrichedUsage(UsageEvent):
    """A raw event attributed and priced by the stream (topic ``meterline.usage.enriched``).

    ``cost`` is what reports sum: the provider's settled ``provider_cost`` when the gateway sent
    one, the price-book ``computed_cost`` otherwise, and 0 for an unknown model
    (``cost_source = unpriced``). ``customer`` comes from the ``customer:`` tag
    (``unattributed`` when absent); ``team_id`` and ``owner_customer`` from the key binding.
    """

    customer: str = Field(default=UNATTRIBUTED, min_length=1, max_length=MAX_ID_LEN)
    feature: str = Field(default="", max_length=MAX_ID_LEN)
    team_id: str = Field(default="", max_length=MAX_ID_LEN)
    owner_customer: str = Field(default="", max_length=MAX_ID_LEN)
    cost: NonNegativeMoney
    computed_cost: NonNegativeMoney
    cost_source: CostSource
    price_ref: str = Field(default="", max_length=512)
    flags: list[str] = Field(default_factory=list, max_length=32)
    enriched_at: UtcDatetime
