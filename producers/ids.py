"""Reproducible event ids: UUIDv7 strings whose random part the caller supplies.

``producers.events.new_event_id`` draws the random part from the OS; integrations and the
simulator need ids that are a function of something they know (a LiteLLM call, a seeded RNG), so
that the same input gives the same id and a repeated delivery is deduplicated downstream.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["derived_event_id", "uuid7"]

_RAND_BITS = 74
"""UUIDv7 has 128 bits: 48 of time, 4 of version, 2 of variant and 74 left for randomness."""


def uuid7(unix_ms: int, rand: int) -> str:
    """The UUIDv7 for millisecond ``unix_ms`` with the low 74 bits of ``rand`` as its random part.

    Ids sort by time; equal inputs give equal ids.
    """
    rand &= (1 << _RAND_BITS) - 1
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def derived_event_id(key: str, unix_ms: int) -> str:
    """A UUIDv7 at ``unix_ms`` whose random part is a hash of ``key``: the same call described
    twice (same key, same time) gets the same id and so counts once."""
    digest = hashlib.sha256(key.encode()).digest()
    return uuid7(unix_ms, int.from_bytes(digest[:10], "big"))
