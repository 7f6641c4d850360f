"""Contracts of Meterline: every message and record as a pydantic v2 model."""

from schemas._types import MAX_TAG_LEN, MAX_TAGS, MAX_TOKENS, MONEY_SCALE
from schemas.budgets import (
    BudgetAction,
    BudgetAlert,
    BudgetPolicy,
    BudgetScope,
    BudgetState,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)
from schemas.codec import decode_batch, encode_batch, encode_one, join_encoded
from schemas.dead_letters import DeadLetter, ErrorKind
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy
from schemas.topics import ALL_TOPICS, Topics, TopicSpec
from schemas.usage import (
    UNATTRIBUTED,
    USAGE_SCHEMA_VERSION,
    CostSource,
    EnrichedUsage,
    Status,
    TokenCounts,
    UsageEvent,
)

__all__ = [
    "ALL_TOPICS",
    "MAX_TAGS",
    "MAX_TAG_LEN",
    "MAX_TOKENS",
    "MONEY_SCALE",
    "UNATTRIBUTED",
    "USAGE_SCHEMA_VERSION",
    "BudgetAction",
    "BudgetAlert",
    "BudgetPolicy",
    "BudgetScope",
    "BudgetState",
    "BudgetStatus",
    "BudgetUnit",
    "BudgetWindow",
    "CostSource",
    "DeadLetter",
    "EnrichedUsage",
    "ErrorKind",
    "KeyBinding",
    "LimitPolicy",
    "Status",
    "TokenCounts",
    "TopicSpec",
    "Topics",
    "UsageEvent",
    "decode_batch",
    "encode_batch",
    "encode_one",
    "join_encoded",
]
