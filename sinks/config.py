"""Settings of the ClickHouse sink and the store (environment prefix ``METERLINE_``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from schemas.settings import KafkaSettings, ServiceSettings

__all__ = ["QueryLimits", "SinkSettings", "WebhookSettings"]


@dataclass(frozen=True)
class QueryLimits:
    """What one ad-hoc query may spend; see :mod:`sinks.readonly`."""

    timeout_s: float = 30.0
    max_result_rows: int = 1_000_000
    max_result_bytes: int = 256 * 1024 * 1024
    max_memory_bytes: int = 2 * 1024 * 1024 * 1024
    max_threads: int = 2
    concurrency: int = 4

    def session_settings(self) -> dict[str, Any]:
        """Settings of a guest session; ``readonly`` is last: once set, it locks the rest."""
        return {
            "max_execution_time": self.timeout_s,
            "timeout_overflow_mode": "throw",
            "max_result_rows": self.max_result_rows,
            "max_result_bytes": self.max_result_bytes,
            "result_overflow_mode": "throw",
            "max_memory_usage": self.max_memory_bytes,
            "max_threads": self.max_threads,
            "readonly": 1,
        }


class SinkSettings(ServiceSettings):
    """Built once at the entry point and passed down."""

    clickhouse_url: SecretStr = SecretStr("chdb://.meterline/chdb")
    """``chdb://DIR`` (embedded engine, one owning process) or
    ``http(s)://user:pass@host:8123`` (ClickHouse server)."""
    clickhouse_database: str = Field(default="meterline", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    """Database holding every table."""
    sink_group_id: str = "meterline-sink"
    """Kafka consumer group of the sink."""
    sink_batch_rows: int = Field(default=10_000, ge=1)
    """Flush when this many messages are buffered…"""
    sink_batch_seconds: float = Field(default=1.0, gt=0)
    """…or when the oldest buffered message is this old."""
    sink_retry_max_s: float = Field(default=5.0, gt=0)
    """Cap of the backoff between retries of a failing insert (retried until it succeeds)."""
    sink_stats_interval_s: float = Field(default=10.0, gt=0)
    """How often the sink logs rows/s and lag."""
    sink_query_host: str = "127.0.0.1"
    """Address of the sink's query/stats endpoint."""
    sink_query_port: int = Field(default=0, ge=0, le=65535)
    """Port of the query/stats endpoint. Embedded: 0 picks a free one (written to the owner
    file). Server mode: the endpoint only runs when this is set."""
    sink_query_token: SecretStr | None = None
    """Bearer token of the query endpoint; a random one per start when unset."""
    query_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """Time limit of one ad-hoc query (``meterline sql``, the query endpoint, reports)."""
    query_max_result_rows: int = Field(default=1_000_000, ge=1)
    """Rows one query may return; more is an error, not a truncated answer."""
    query_max_result_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    """Bytes one query may return."""
    query_max_memory_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1)
    """Memory one query may use in the engine."""
    query_max_threads: int = Field(default=2, ge=1)
    """Engine threads one query may use (ingestion keeps the rest)."""
    query_concurrency: int = Field(default=4, ge=1)
    """Queries that run at once; a further one waits up to the time limit, then is refused."""

    @field_validator("clickhouse_url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("chdb://", "http://", "https://")):
            raise ValueError(
                "METERLINE_CLICKHOUSE_URL must start with chdb://, http:// or https://"
            )
        return value

    def query_limits(self) -> QueryLimits:
        return QueryLimits(
            timeout_s=self.query_timeout_s,
            max_result_rows=self.query_max_result_rows,
            max_result_bytes=self.query_max_result_bytes,
            max_memory_bytes=self.query_max_memory_bytes,
            max_threads=self.query_max_threads,
            concurrency=self.query_concurrency,
        )

    @property
    def url(self) -> str:
        return self.clickhouse_url.get_secret_value()

    @property
    def embedded_dir(self) -> Path | None:
        """The chDB data directory in embedded mode, None on a server."""
        url = self.url
        return Path(url[len("chdb://") :]).resolve() if url.startswith("chdb://") else None


class WebhookSettings(KafkaSettings):
    """The budget alert webhook notifier."""

    webhook_url: str = ""
    """Where each alert is POSTed; the notifier refuses to start without one."""
    webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key of ``X-Meterline-Signature`` (over timestamp and body); required."""
    webhook_state_path: Path = Path(".meterline/webhook/delivered.sqlite")
    """Durable record of delivered alert ids (so no id is delivered twice)."""
    webhook_group_id: str = "meterline-webhook"
    """Kafka consumer group of the webhook notifier."""
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    """HTTP timeout per POST."""
    webhook_backoff_base_s: float = Field(default=0.5, gt=0)
    """First retry pause (doubles on each failure)."""
    webhook_backoff_max_s: float = Field(default=30.0, gt=0)
    """Longest retry pause."""
    webhook_session_timeout_s: float = Field(default=6.0, gt=0)
    """Consumer group session and rebalance timeout; a new member's join waits about this
    long on Tansu, so it is kept short."""
