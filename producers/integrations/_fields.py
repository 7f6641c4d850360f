"""Reading provider payloads that arrive as SDK objects (pydantic models) or plain dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.integrations.errors import UsageMappingError

__all__ = ["field", "token_field"]


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; ``default`` when absent or None."""
    if obj is None:
        return default
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return default if value is None else value


def token_field(obj: Any, name: str) -> int:
    """A token count (0 when absent). Raises ``UsageMappingError`` for anything but a
    non-negative integer: token counts are billed, a guess is worse than a loud error."""
    value = field(obj, name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UsageMappingError(f"usage field {name!r} is not an integer: {value!r}")
    if value < 0:
        raise UsageMappingError(f"usage field {name!r} is negative: {value}")
    return value
