from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["ProducerStats"]


@dataclass
class ProducerStats:
    """Counters of a ``UsageProducer``. ``recorded`` counts accepted events; each of them ends
    up ``sent`` (acknowledged by the broker), in the spool (``spooled`` counts every event
    written there, ``replayed`` those later sent from it) or still ``queued``. ``dropped`` counts
    events refused by the ``drop`` overflow policy."""

    recorded: int = 0
    sent: int = 0
    spooled: int = 0
    replayed: int = 0
    dropped: int = 0
    queued: int = 0
    send_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
