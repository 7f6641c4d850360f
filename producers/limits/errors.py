"""Errors of the limits guard."""

from __future__ import annotations

from producers.errors import ProducerError
from producers.limits.rules import LimitKind, Refusal

__all__ = ["LimitExceeded", "LimitsUnavailable"]


class LimitExceeded(ProducerError):
    """A call was refused before any provider was called. ``kind`` is ``rpm``, ``tpm``,
    ``parallel``, ``budget`` (or ``unavailable`` when the shared counters cannot be reached and
    the fail mode is ``closed``); ``retry_after_s`` is when trying again may succeed."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal

    @property
    def kind(self) -> LimitKind:
        return self.refusal.kind

    @property
    def subject(self) -> str:
        return self.refusal.subject

    @property
    def retry_after_s(self) -> float:
        return self.refusal.retry_after_s


class LimitsUnavailable(ProducerError):
    """The shared counters (Valkey/Redis) could not be reached for a decision or a settle."""
