"""Dead letters: input the pipeline could not accept, kept with the reason."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas._types import UtcDatetime

__all__ = ["DeadLetter", "ErrorKind"]


class ErrorKind(StrEnum):
    DECODE = "decode"
    """Bytes that are not UTF-8 JSON."""
    SCHEMA = "schema"
    """JSON that does not validate as the expected model (wrong types, negative tokens, …)."""
    UNSUPPORTED_VERSION = "unsupported_version"
    OVERSIZED = "oversized"
    SINK_REJECTED = "sink_rejected"
    """A row the database refused."""


class DeadLetter(BaseModel):
    """Value on ``meterline.usage.dlq`` and a row of ``dead_letters``.

    ``raw`` keeps the original bytes (of the one event when a batch could be split, else of the
    whole record) so the input can be fixed and replayed. ``dead_letter_id`` is deterministic in
    the source position, so reprocessing the same record yields the same id.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    dead_letter_id: str = Field(min_length=1, max_length=256)
    source_topic: str = Field(max_length=256)
    partition: int = Field(ge=-1)
    offset: int = Field(ge=-1)
    index_in_record: int = Field(default=-1, ge=-1)
    event_id: str = Field(default="", max_length=256)
    api_key_id: str = Field(default="", max_length=256)
    error_kind: ErrorKind
    reason: str = Field(max_length=4096)
    raw: bytes
    received_at: UtcDatetime
