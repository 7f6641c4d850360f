"""What the LiteLLM hook reserves and settles: a call's worst-case cost and its real usage."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["settled_usage", "worst_case_cost"]

log = logging.getLogger(__name__)


def worst_case_cost(model: object, prompt_tokens: int, max_tokens: int) -> Decimal | None:
    """Prompt estimate × input price + ``max_tokens`` × output price from LiteLLM's price map
    (the prices LiteLLM reports as ``response_cost``, which the stream takes as the call's
    cost); ``None`` when the model has no price there."""
    if not isinstance(model, str) or not model:
        return None
    try:
        import litellm

        prompt_cost, output_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=max_tokens
        )
        return Decimal(str(prompt_cost)) + Decimal(str(output_cost))
    except Exception as exc:  # LiteLLM raises bare Exceptions for unknown models
        log.debug("no LiteLLM price for %r: %s", model, exc)
        return None


def settled_usage(payload: dict[str, Any]) -> tuple[int, Decimal]:
    """(total tokens, USD cost) of a finished call from LiteLLM's standard logging payload;
    zero for what is missing (a failed call that used nothing)."""
    tokens = payload.get("total_tokens")
    try:
        cost = Decimal(str(payload.get("response_cost") or 0))
    except InvalidOperation:
        cost = Decimal(0)
    if not cost.is_finite() or cost < 0:
        cost = Decimal(0)
    return (tokens if isinstance(tokens, int) and tokens > 0 else 0), cost
