from __future__ import annotations

__all__ = ["ProducerError", "ProducerNotStarted", "SpoolLocked"]


class ProducerError(RuntimeError):
    """Base of the producer's errors."""


class ProducerNotStarted(ProducerError):
    """``record()`` or ``flush()`` before ``start()`` or after ``stop()``."""


class SpoolLocked(ProducerError):
    """Another process holds the spool directory; each producer needs its own."""
