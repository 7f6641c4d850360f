"""Rate limit administration over the compacted ``meterline.limits`` topic (``meterline limits``
is a thin layer over these functions)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from meterline.budget_admin import PolicyInputError
from meterline.config_changes import Change, publish_changes, read_compacted
from schemas.budgets import BudgetScope
from schemas.codec import encode_one
from schemas.limits import LimitPolicy
from schemas.topics import Topics

__all__ = ["build_limit", "delete_limit", "list_limits", "put_limit"]


def build_limit(
    *,
    scope: str,
    subject: str,
    rpm: int | None = None,
    tpm: int | None = None,
    max_parallel: int | None = None,
    lease_s: float | None = None,
    now: datetime | None = None,
) -> LimitPolicy:
    """A validated ``LimitPolicy``; raises ``PolicyInputError`` with a readable reason."""
    try:
        return LimitPolicy(
            scope=BudgetScope(scope),
            subject=subject,
            rpm=rpm,
            tpm=tpm,
            max_parallel=max_parallel,
            lease_s=lease_s,
            updated_at=now or datetime.now(UTC),
        )
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'limit'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyInputError(reasons) from exc
    except ValueError as exc:
        raise PolicyInputError(str(exc)) from exc


async def put_limit(
    bootstrap: str, topics: Topics, limit: LimitPolicy, *, actor: str | None = None
) -> None:
    """Write (create or replace) a subject's limits; gateways apply it within a moment.
    ``actor`` (default: this OS user) is recorded in the history."""
    change = Change(limit.limit_id, encode_one(limit))
    await publish_changes(bootstrap, topics.limits, [change], actor=actor)


async def delete_limit(
    bootstrap: str, topics: Topics, limit_key: str, *, actor: str | None = None
) -> None:
    """Write a tombstone for ``scope:subject``."""
    await publish_changes(bootstrap, topics.limits, [Change(limit_key, None)], actor=actor)


async def list_limits(bootstrap: str, topics: Topics) -> list[LimitPolicy]:
    """The current limits: the compacted topic read to its end, latest value per subject."""
    latest = await read_compacted(bootstrap, topics.limits)
    return [
        LimitPolicy.model_validate_json(record.value)
        for _, record in sorted(latest.items())
        if record.value is not None
    ]
