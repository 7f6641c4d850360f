"""Pure mappings from each provider's usage shape to ``TokenCounts``.

Our buckets are disjoint (see ``schemas.usage.TokenCounts``): ``input`` excludes cache reads and
writes, ``output`` includes reasoning. Each provider counts differently:

* OpenAI Chat Completions: ``prompt_tokens`` includes ``prompt_tokens_details.cached_tokens``
  (and ``cache_write_tokens`` where reported); ``completion_tokens`` includes
  ``completion_tokens_details.reasoning_tokens``.
* OpenAI Responses: the same with ``input_tokens`` / ``input_tokens_details.cached_tokens`` and
  ``.cache_write_tokens`` / ``output_tokens`` / ``output_tokens_details.reasoning_tokens``.
* Anthropic Messages: ``input_tokens`` already excludes ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``; thinking is inside ``output_tokens`` and not reported apart.
* LiteLLM normalises every provider to the OpenAI Chat shape, and its ``prompt_tokens`` also
  includes cache writes (``prompt_tokens_details.cache_creation_tokens`` /
  ``cache_write_tokens``, or Anthropic's ``cache_creation_input_tokens`` kept on the object).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from producers.integrations._fields import field, token_field
from producers.integrations.errors import UsageMappingError
from schemas.usage import TokenCounts

__all__ = [
    "anthropic_tokens",
    "litellm_tokens",
    "openai_chat_tokens",
    "openai_responses_tokens",
]


def openai_chat_tokens(usage: Any) -> TokenCounts:
    """Chat Completions ``usage`` (also the final chunk of a stream with ``include_usage``)."""
    details = field(usage, "prompt_tokens_details")
    cache_write = token_field(details, "cache_write_tokens")
    return _from_inclusive_prompt(
        prompt=token_field(usage, "prompt_tokens"),
        cache_read=token_field(details, "cached_tokens"),
        cache_write=cache_write,
        output=token_field(usage, "completion_tokens"),
        reasoning=token_field(field(usage, "completion_tokens_details"), "reasoning_tokens"),
        prompt_name="prompt_tokens",
    )


def openai_responses_tokens(usage: Any) -> TokenCounts:
    """Responses API ``usage``."""
    details = field(usage, "input_tokens_details")
    return _from_inclusive_prompt(
        prompt=token_field(usage, "input_tokens"),
        cache_read=token_field(details, "cached_tokens"),
        cache_write=token_field(details, "cache_write_tokens"),
        output=token_field(usage, "output_tokens"),
        reasoning=token_field(field(usage, "output_tokens_details"), "reasoning_tokens"),
        prompt_name="input_tokens",
    )


def anthropic_tokens(usage: Any) -> TokenCounts:
    """Messages API ``usage``; ``input_tokens`` there already excludes the cache."""
    return _counts(
        input=token_field(usage, "input_tokens"),
        cache_read=token_field(usage, "cache_read_input_tokens"),
        cache_write=token_field(usage, "cache_creation_input_tokens"),
        output=token_field(usage, "output_tokens"),
        reasoning=0,
    )


def litellm_tokens(usage: Any) -> TokenCounts:
    """LiteLLM's normalised usage (a ``litellm.Usage`` or its dict): OpenAI Chat shape whose
    ``prompt_tokens`` counts cache reads and cache writes."""
    details = field(usage, "prompt_tokens_details")
    cache_write = max(
        token_field(details, "cache_write_tokens"),
        token_field(details, "cache_creation_tokens"),
        token_field(usage, "cache_creation_input_tokens"),
    )
    cache_read = max(
        token_field(details, "cached_tokens"), token_field(usage, "cache_read_input_tokens")
    )
    return _from_inclusive_prompt(
        prompt=token_field(usage, "prompt_tokens"),
        cache_read=cache_read,
        cache_write=cache_write,
        output=token_field(usage, "completion_tokens"),
        reasoning=token_field(field(usage, "completion_tokens_details"), "reasoning_tokens"),
        prompt_name="prompt_tokens",
    )


def _from_inclusive_prompt(
    *, prompt: int, cache_read: int, cache_write: int, output: int, reasoning: int, prompt_name: str
) -> TokenCounts:
    uncached = prompt - cache_read - cache_write
    if uncached < 0:
        raise UsageMappingError(
            f"{prompt_name} ({prompt}) is smaller than its cached part "
            f"(read {cache_read} + write {cache_write})"
        )
    return _counts(
        input=uncached,
        cache_read=cache_read,
        cache_write=cache_write,
        output=output,
        reasoning=reasoning,
    )


def _counts(**counts: int) -> TokenCounts:
    try:
        return TokenCounts(**counts)
    except ValidationError as exc:
        raise UsageMappingError(f"inconsistent token counts {counts}: {exc}") from exc
