"""Settings of the gateway-side producer (environment prefix ``METERLINE_``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field

from schemas.settings import KafkaSettings

__all__ = ["GuardSettings", "ProducerSettings"]


class ProducerSettings(KafkaSettings):
    client_id: str = "meterline-gateway"
    """Kafka client id of the gateway producer."""
    spool_dir: Path = Path(".meterline/spool")
    """The producer's disk spool (one per process; locked)."""
    queue_max: int = Field(default=100_000, ge=1)
    """Events held in memory before ``overflow`` applies."""
    overflow: Literal["spool", "drop"] = "spool"
    """Full queue: ``spool`` writes the event to the disk spool synchronously (no loss, slower
    call); ``drop`` refuses it and counts it in ``dropped``."""
    batch_max_events: int = Field(default=500, ge=1)
    """Events per batch record."""
    batch_max_bytes: int = Field(default=512 * 1024, ge=1024)
    """JSON bytes per batch record."""
    linger_ms: int = Field(default=5, ge=0)
    """How long the sender waits to fill batches."""
    compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "gzip"
    """Compression of the batch records on the wire."""
    send_timeout_ms: int = Field(default=10_000, ge=100)
    """How long a batch may wait for the broker before it is spooled instead."""
    replay_backoff_max_s: float = Field(default=5.0, gt=0)
    """Longest pause between spool replay attempts."""


class GuardSettings(KafkaSettings):
    """Settings of ``BudgetGuard`` (environment prefix ``METERLINE_``)."""

    guard_fail_mode: Literal["open", "closed"] = "open"
    """When budget state is unavailable (not loaded yet, or the broker unreachable for longer
    than ``guard_stale_after_s``) or the limits backend cannot be reached: ``open`` allows calls
    no known block refuses (unreserved); ``closed`` refuses every call."""
    guard_start_timeout_s: float = Field(default=15.0, gt=0)
    """How long ``start()`` waits to load the compacted topics before serving anyway."""
    guard_stale_after_s: float = Field(default=15.0, gt=0)
    """Without contact to the broker for this long, the state counts as unavailable."""
    limits_url: str = ""
    """Where gateway replicas share rate limits and cap reservations: ``redis://host:6379/0``
    (Valkey or Redis). Empty: counters in this process (one gateway)."""
    limits_timeout_ms: int = Field(default=200, ge=1)
    """How long a decision or settle may wait for the limits backend before the fail mode
    (``guard_fail_mode``) decides."""
    limits_lease_s: float = Field(default=300.0, gt=0)
    """How long a call's parallel slot and cap reservation outlive a gateway that died
    mid-call (a limit's own ``lease_s`` overrides it for its slots)."""
    limits_default_max_tokens: int = Field(default=4096, ge=1)
    """Output tokens reserved for a call that does not set ``max_tokens``."""
    limits_unpriced_call_cost: Decimal = Field(default=Decimal(1), ge=0)
    """USD reserved against a ``block`` cap for a call whose worst case cannot be priced (no
    price for the model and no ``max_call_cost`` on the policy)."""
