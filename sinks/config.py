"""Settings of the sinks (environment prefix ``METERLINE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseSettings):
    """The budget alert webhook notifier."""

    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    webhook_url: str = ""
    """Where each alert is POSTed; the notifier refuses to start without one."""
    webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key of the ``X-Meterline-Signature`` header; required."""
    webhook_state_path: Path = Path(".meterline/webhook/delivered.sqlite")
    """Durable record of delivered alert ids (so no id is delivered twice)."""
    webhook_group_id: str = "meterline-webhook"
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_backoff_base_s: float = Field(default=0.5, gt=0)
    webhook_backoff_max_s: float = Field(default=30.0, gt=0)
    webhook_session_timeout_s: float = Field(default=6.0, gt=0)
    """Consumer group session and rebalance timeout; a new member's join waits about this
    long on Tansu, so it is kept short."""
