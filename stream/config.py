"""Settings of the stream worker (environment prefix ``METERLINE_``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field

from schemas.settings import MeterlineSettings, ServiceSettings
from schemas.topics import USAGE_RAW

__all__ = ["BudgetStreamSettings", "StreamSettings"]


class StreamSettings(ServiceSettings):
    """Every knob of the stream worker; built once at the entry point (``python -m stream``)."""

    stream_app_id: str = "meterline-stream"
    """Faust app id (the stream's consumer group)."""
    stream_data_dir: Path = Path(".meterline/stream")
    """Faust data directory (local table state)."""
    broker_session_timeout_s: float = Field(default=6.0, gt=0)
    """Faust consumer session timeout. With Faust's defaults for this, the rebalance timeout and
    the heartbeat interval, a worker's first group join on Tansu takes ~30 s; with ours ~3 s."""
    broker_rebalance_timeout_s: float = Field(default=6.0, gt=0)
    """Faust rebalance timeout."""
    broker_heartbeat_interval_s: float = Field(default=1.0, gt=0)
    """Faust heartbeat interval."""
    usage_partitions: int = Field(default=USAGE_RAW.partitions, ge=1, le=1024)
    """Partitions of ``meterline.usage.raw`` and ``meterline.usage.enriched`` (the same number:
    a worker writes a raw partition's output to the enriched partition of that number). At most
    this many stream workers share the work. ``meterline topics create`` creates them with it
    (or ``--partitions``); workers must run with the count the topics have. Size it from
    docs/benchmarks.md."""
    price_file: Path | None = None
    """User price file (YAML/JSON) overriding genai-prices; see ``stream.price_file``."""
    dedupe_horizon_hours: float = Field(default=48.0, gt=0)
    """How long an event_id is remembered after it was first seen; later duplicates are left to
    the sink's ReplacingMergeTree."""
    dedupe_max_events: int = Field(default=1_000_000, ge=1000)
    """Upper bound of remembered event ids per worker, oldest forgotten first (~200 bytes of
    memory each). At a sustained rate R the effective horizon is min(horizon, this / R)."""
    cost_tolerance_percent: Decimal = Field(default=Decimal(5), ge=0, allow_inf_nan=False)
    """provider_cost differing from computed_cost by more than this percent is flagged."""
    max_record_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Raw records larger than this become an ``oversized`` dead letter."""
    max_output_record_bytes: int = Field(default=512 * 1024, ge=16 * 1024, le=900 * 1024)
    """Enriched/DLQ output of one raw record is split into records of at most this size
    (below Kafka's default 1 MiB message limit)."""
    stream_fetch_max_wait_ms: int = Field(default=100, ge=1, le=1500)
    """Longest a worker's fetch waits for data (Faust's own is 1500 ms). Every hop to a budget
    alert can cost this much on a broker that answers an idle fetch only when the wait ends
    (Tansu); see ``stream.fetch_wait``. 1500 restores Faust's behaviour."""
    stream_fetch_partition_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024 * 1024, le=64 * 1024 * 1024
    )
    """Most bytes one fetch returns per partition (Faust's ``consumer_max_fetch_size``, 1 MiB
    by default). The budget agent reads back its own worker's enriched output, about 80 KB per
    record of 100 events: at 1 MiB that took a fetch round trip per dozen records.
    ``meterline bench stream`` measured about a fifth fewer worker CPU seconds per event with
    4 MiB. A worker may buffer this much per assigned partition."""


class BudgetStreamSettings(MeterlineSettings):
    """Budget evaluation in the stream (environment prefix ``METERLINE_``)."""

    budget_late_grace_s: int = Field(default=300, ge=0)
    """How long after a calendar month ends its late events still count in it."""
