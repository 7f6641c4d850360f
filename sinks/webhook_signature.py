"""Signing and verifying budget-alert webhooks. Pure (time is passed in).

Each POST carries ``X-Meterline-Timestamp: <unix seconds>`` and
``X-Meterline-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body under the secret>``.
A receiver recomputes the signature and accepts the request only when the timestamp is within
:data:`TOLERANCE_S` (five minutes) of its own clock, so a captured request cannot be replayed
later. Retries are signed afresh, so a delivery delayed by backoff is still fresh on arrival.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "TOLERANCE_S", "sign", "verify"]

SIGNATURE_HEADER = "X-Meterline-Signature"
TIMESTAMP_HEADER = "X-Meterline-Timestamp"
TOLERANCE_S = 300
"""How far a request's timestamp may be from the receiver's clock, either way."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``X-Meterline-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    message = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    body: bytes,
    signature: str,
    timestamp: str,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """What a receiver does: True only for a signature of exactly this body and timestamp
    (constant-time comparison) whose timestamp is within ``tolerance_s`` of ``now``."""
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return False
    if abs(now - int(stamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, int(stamp)), signature)
