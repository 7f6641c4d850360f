"""Pure rules of the LiteLLM integration: LiteLLM's ``StandardLoggingPayload`` → ``UsageEvent``,
key identity, tag hygiene and the budget refusal text. No ``litellm`` import."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from producers.budget_guard import GuardDecision
from producers.ids import derived_event_id
from producers.integrations._fields import field
from producers.integrations._tokens import litellm_tokens
from producers.integrations.errors import UsageMappingError
from schemas._types import MAX_ID_LEN, MAX_TAGS, MONEY_SCALE, Tag
from schemas.usage import Status, TokenCounts, UsageEvent

__all__ = [
    "EventOptions",
    "clean_tags",
    "decimal_cost",
    "key_identity",
    "litellm_usage_event",
    "refusal_message",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/+=\-]*$")
_TAG = TypeAdapter(Tag)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


@dataclass(frozen=True)
class EventOptions:
    gateway: str = "litellm"
    key_mode: Literal["hash", "alias"] = "hash"
    anonymous_key_id: str = "litellm-anonymous"


def key_identity(
    key_hash: str | None,
    key_alias: str | None,
    mode: Literal["hash", "alias"],
    anonymous: str,
) -> str:
    """The ``api_key_id`` of a LiteLLM virtual key: its alias (mode ``alias``, when the alias is
    a valid identifier) or LiteLLM's hash of it; ``anonymous`` without an authenticated key.
    The hook and the logger both use this, so a budget checked is the budget charged.

    A "hash" that is not one (LiteLLM's ``hash_token`` is 64 lowercase hex digits) is never used
    as is: it may be the raw ``sk-…`` secret. It is replaced by its SHA-256, which is what
    LiteLLM itself would have stored, so the id is the same and the secret never leaves."""
    if mode == "alias" and key_alias and _usable(key_alias):
        return key_alias
    if key_hash:
        return (
            key_hash
            if _SHA256_HEX.fullmatch(key_hash)
            else hashlib.sha256(key_hash.encode("utf-8", "surrogatepass")).hexdigest()
        )
    return anonymous


def clean_tags(raw: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Split request tags into Meterline tags (``name:value``) and the rest.

    LiteLLM adds its own ``User-Agent: ...`` tags, and clients may send free text; those are
    not ours to bill by, so they are returned apart for the caller to report. At most
    ``MAX_TAGS`` tags are kept, first come first kept, without duplicates.
    """
    kept: list[str] = []
    rejected: list[str] = []
    for tag in raw:
        if not isinstance(tag, str):
            rejected.append(repr(tag))
            continue
        try:
            valid = _TAG.validate_python(tag)
        except ValidationError:
            rejected.append(tag)
            continue
        if valid in kept:
            continue
        if len(kept) >= MAX_TAGS:
            rejected.append(tag)
        else:
            kept.append(valid)
    return kept, rejected


def decimal_cost(value: Any) -> Decimal | None:
    """LiteLLM's float ``response_cost`` as an exact Decimal: through ``str`` (the float's
    shortest repr, so 0.000123 stays 0.000123), rounded half-even to the money scale."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise UsageMappingError(f"response_cost is not a number: {value!r}")
    try:
        cost = Decimal(str(value))
    except InvalidOperation as exc:
        raise UsageMappingError(f"response_cost is not a number: {value!r}") from exc
    if not cost.is_finite() or cost < 0:
        raise UsageMappingError(f"response_cost must be finite and non-negative, got {value!r}")
    return cost.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def litellm_usage_event(payload: Mapping[str, Any], options: EventOptions) -> UsageEvent:
    """One event for one LiteLLM call attempt, from its ``standard_logging_object``.

    The ``event_id`` is derived from the call id, the attempt's start time and its outcome, so
    LiteLLM reporting the same attempt twice yields one event downstream, while a retried
    attempt is an event of its own. A call LiteLLM could not price gets no ``provider_cost``
    (the stream prices it from the price book). Raises ``UsageMappingError`` on usage that
    cannot be billed as reported.
    """
    metadata = field(payload, "metadata", {})
    failed = field(payload, "status") == "failure"
    started = _epoch(field(payload, "startTime"))
    ended = _epoch(field(payload, "endTime"), default=started)
    call_id = str(field(payload, "litellm_call_id") or field(payload, "id") or "")
    raw_tags = list(field(payload, "request_tags", []))
    team = field(metadata, "user_api_key_team_id")
    if team and not any(str(t).startswith("team:") for t in raw_tags):
        raw_tags.append(f"team:{team}")
    tags, rejected = clean_tags(raw_tags)
    if rejected:
        log.info("LiteLLM call %s: ignored non-Meterline tags %s", call_id, rejected[:5])
    tokens = _tokens(payload, metadata)
    cost = None
    if not field(payload, "response_cost_failure_debug_info"):
        cost = decimal_cost(field(payload, "response_cost"))
    provider = _name(field(payload, "custom_llm_provider"), "unknown")
    occurred_at = datetime.fromtimestamp(started, UTC)
    start_ms = math.floor(started * 1000)
    outcome = "failure" if failed else "success"
    try:
        return UsageEvent(
            event_id=derived_event_id(f"litellm|{call_id}|{started!r}|{outcome}", start_ms),
            occurred_at=occurred_at,
            gateway=options.gateway,
            api_key_id=key_identity(
                field(metadata, "user_api_key_hash"),
                field(metadata, "user_api_key_alias"),
                options.key_mode,
                options.anonymous_key_id,
            ),
            request_id=str(field(payload, "id", ""))[:256],
            provider=provider,
            model=_model(field(payload, "model") or field(payload, "model_group"), provider),
            tokens=tokens,
            tags=tags,
            status=Status.ERROR if failed else Status.SUCCESS,
            streamed=bool(field(payload, "stream", False)),
            latency_ms=max(0, min(round((ended - started) * 1000), 86_400_000)),
            provider_cost=cost,
        )
    except ValidationError as exc:
        raise UsageMappingError(
            f"LiteLLM call {call_id} does not make a valid event: {exc}"
        ) from exc


def _tokens(payload: Mapping[str, Any], metadata: Any) -> TokenCounts:
    usage = field(metadata, "usage_object")
    if usage:
        return litellm_tokens(usage)
    # Without LiteLLM's usage object only the two totals are known.
    return litellm_tokens(
        {
            "prompt_tokens": field(payload, "prompt_tokens", 0),
            "completion_tokens": field(payload, "completion_tokens", 0),
        }
    )


def _epoch(value: Any, default: float | None = None) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if default is not None:
        return default
    raise UsageMappingError(f"LiteLLM payload has no usable startTime: {value!r}")


def _name(value: Any, default: str) -> str:
    text = str(value or "").strip()
    return text[:MAX_ID_LEN] if text else default


def _model(value: Any, provider: str) -> str:
    """The provider's model name: LiteLLM's deployment string without its ``provider/``
    routing prefix (``openai/gpt-4o-mini`` → ``gpt-4o-mini``), as the price book keys it."""
    name = _name(value, "unknown")
    prefix = provider + "/"
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else name


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _usable(value: str) -> bool:
    return len(value) <= MAX_ID_LEN and bool(_IDENTIFIER.match(value))


def retry_after_seconds(decision: GuardDecision, now: datetime) -> int | None:
    """Whole seconds until the blocking window frees up (at least 1), if the guard knows."""
    if decision.blocked_until is None:
        return None
    return max(1, math.ceil((decision.blocked_until - now).total_seconds()))


def refusal_message(decision: GuardDecision, api_key_id: str, now: datetime) -> str:
    """What a refused caller reads: which key, why, under which policy, until when."""
    reason = decision.reason or "budget exhausted"
    parts = [f"Meterline budget: key {api_key_id} is blocked: {reason}"]
    if decision.policy_id:
        parts.append(f"policy {decision.policy_id}")
    seconds = retry_after_seconds(decision, now)
    if decision.blocked_until is not None and seconds is not None:
        parts.append(
            f"retry after {decision.blocked_until.astimezone(UTC).isoformat()} (in {seconds} s)"
        )
    return "; ".join(parts)
