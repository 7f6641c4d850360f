"""Settings of the gateway integrations (environment prefix ``METERLINE_LITELLM_``).

The producer itself is configured by ``producers.config.ProducerSettings`` (``METERLINE_*``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LiteLLMSettings"]


class LiteLLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_LITELLM_", extra="ignore")

    gateway: str = Field(default="litellm", min_length=1, max_length=128)
    """``UsageEvent.gateway`` of every event this callback publishes."""
    key_identity: Literal["hash", "alias"] = "hash"
    """``api_key_id`` of an event: LiteLLM's SHA-256 of the virtual key (``hash``), or the key's
    alias (``alias``; keys without a usable alias fall back to the hash). Never the secret."""
    anonymous_key_id: str = Field(default="litellm-anonymous", min_length=1, max_length=128)
    """``api_key_id`` for calls with no authenticated key (LiteLLM SDK, a proxy without auth)."""
    guard: str = "producers.integrations.guard:limit_guard"
    """``module:callable`` returning the guard the pre-call hook asks: a ``LimitGuard``
    (reserve before the call, settle after: rate limits and ``block`` caps) or any object with
    ``check(api_key_id) -> GuardDecision`` (``...:budget_guard``: the stream's blocks only);
    empty: no enforcement."""
