"""Typed errors of the stream package."""

from __future__ import annotations

__all__ = ["OutputMarkMissing", "PriceFileError", "StreamError"]


class StreamError(Exception):
    """Base of every error the stream raises on purpose."""


class PriceFileError(StreamError):
    """A price file that cannot be used; the message names the file, line and field."""

    def __init__(self, source: str, line: int, field: str, message: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.message = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


class OutputMarkMissing(StreamError):
    """A raw record reached the enrichment agent before its partition's output mark was loaded.

    The mark is loaded on rebalance-complete, before Faust resumes the partition, so this is
    a bug; emitting without the mark could double output, so the agent stops instead."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        super().__init__(f"raw partition {partition}: output mark not loaded before its records")
