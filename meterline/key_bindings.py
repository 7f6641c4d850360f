"""Key bindings on the compacted ``meterline.keys`` topic: bind, unbind, list.

The stream reads the topic as a Faust GlobalTable, so a change reaches every worker without a
restart. A binding never holds the key's secret, only its id.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from meterline.config_changes import Change, publish_changes, read_compacted
from schemas.codec import encode_one
from schemas.keys import KeyBinding

__all__ = ["InvalidBinding", "bind_key", "list_bindings", "make_binding", "unbind_key"]


class InvalidBinding(ValueError):
    """A key id, team or customer the binding contract refuses (message says which)."""


def make_binding(api_key_id: str, team_id: str, owner_customer: str, now: datetime) -> KeyBinding:
    """A binding of a key to a (non-empty) team and an optional owner customer; raises
    ``InvalidBinding`` naming the field otherwise."""
    if not team_id:
        raise InvalidBinding("team_id: must not be empty")
    try:
        return KeyBinding(
            api_key_id=api_key_id, team_id=team_id, owner_customer=owner_customer, updated_at=now
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidBinding(f"{field}: {first['msg']}") from exc


async def bind_key(
    bootstrap: str, topic: str, binding: KeyBinding, *, actor: str | None = None
) -> None:
    """Publish ``binding`` (replacing any earlier one for the key); returns once the broker has
    it. ``actor`` (default: this OS user) is recorded in the history. Raises aiokafka's
    ``KafkaError`` when the broker is unreachable."""
    change = Change(binding.api_key_id, encode_one(binding))
    await publish_changes(bootstrap, topic, [change], actor=actor)


async def unbind_key(
    bootstrap: str, topic: str, api_key_id: str, *, actor: str | None = None
) -> None:
    """Publish a tombstone: the key has no team or owner from now on."""
    await publish_changes(bootstrap, topic, [Change(api_key_id, None)], actor=actor)


async def list_bindings(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[KeyBinding]:
    """Current bindings (latest value per key, tombstones removed), sorted by key id.

    Reads the topic from its start to its end at call time; records that are not valid
    bindings are skipped, as the stream skips them.
    """
    bindings = []
    for record in (await read_compacted(bootstrap, topic, timeout_s)).values():
        if record.value is None:
            continue
        try:
            bindings.append(KeyBinding.model_validate_json(record.value))
        except ValidationError:
            continue
    return sorted(bindings, key=lambda b: b.api_key_id)
