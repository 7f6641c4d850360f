"""Errors of the gateway integrations."""

from __future__ import annotations

from producers.errors import ProducerError

__all__ = ["GuardFactoryError", "UsageMappingError"]


class UsageMappingError(ProducerError, ValueError):
    """A provider's usage payload cannot be turned into a ``UsageEvent`` (missing or
    inconsistent token counts, e.g. more cached than prompt tokens)."""


class GuardFactoryError(ProducerError):
    """``METERLINE_LITELLM_GUARD`` does not name an importable ``module:callable``."""
