"""Settings of the stream worker (environment prefix ``METERLINE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["BudgetStreamSettings", "StreamSettings"]


class StreamSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    stream_app_id: str = "meterline-stream"
    stream_data_dir: Path = Path(".meterline/stream")
    # Faust's defaults make the first group join on Tansu take ~30 s; these take ~3 s.
    broker_session_timeout_s: float = Field(default=6.0, gt=0)
    broker_rebalance_timeout_s: float = Field(default=6.0, gt=0)
    broker_heartbeat_interval_s: float = Field(default=1.0, gt=0)


class BudgetStreamSettings(BaseSettings):
    """Budget evaluation in the stream (environment prefix ``METERLINE_``)."""

    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")

    budget_late_grace_s: int = Field(default=300, ge=0)
    """How long after a calendar month ends its late events still count in it."""
    stream_fetch_max_wait_ms: int = Field(default=100, ge=1, le=1500)
    """Longest fetch long-poll of the worker (see ``stream.fetch_wait``)."""
