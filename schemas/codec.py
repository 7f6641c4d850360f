"""Wire format of batch records: a JSON array of messages sharing the record key.

Encoding is for producers; decoding per element (so one bad event does not spoil a batch) lives
in the stream's validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel, TypeAdapter

__all__ = ["decode_batch", "encode_batch", "encode_one", "join_encoded"]

M = TypeVar("M", bound=BaseModel)


def encode_one(message: BaseModel) -> bytes:
    return message.__pydantic_serializer__.to_json(message)


def join_encoded(encoded: Iterable[bytes]) -> bytes:
    """Join already-encoded JSON objects into one batch record value."""
    return b"[" + b",".join(encoded) + b"]"


def encode_batch(messages: Sequence[BaseModel]) -> bytes:
    return join_encoded(encode_one(m) for m in messages)


def decode_batch(model: type[M], data: bytes) -> list[M]:
    """Strict decode of a record holding an array (or a single object) of ``model``.

    Raises ``pydantic.ValidationError`` on any bad element; callers that must keep good
    elements of a bad batch validate element by element instead.
    """
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        return TypeAdapter(list[model]).validate_json(data)  # type: ignore[valid-type]  # model known at run time
    return [model.model_validate_json(data)]
