"""Typed errors of the reports. Each carries a message fit to show a user as is."""

from __future__ import annotations

__all__ = [
    "InputFileError",
    "InvalidIdentifierError",
    "InvalidPeriodError",
    "PlansError",
    "QueryFailedError",
    "ReportError",
]


class ReportError(Exception):
    """Base of every error a report raises on bad input; the message is for the user."""


class InvalidIdentifierError(ReportError):
    """A database name that is not a plain identifier (it would be spliced into SQL)."""


class InvalidPeriodError(ReportError):
    """A period or date range that cannot be read or is empty."""


class PlansError(ReportError):
    """A plans file that does not describe valid plans."""


class InputFileError(ReportError):
    """A CSV input (revenue, provider bill) with a bad header or row; names the line."""


class QueryFailedError(ReportError):
    """The database refused or failed a report query (missing tables, unreachable server…);
    the driver's exception is the ``__cause__``."""
