"""Typed errors of the stream package."""

from __future__ import annotations

__all__ = ["PriceFileError", "StreamError"]


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
