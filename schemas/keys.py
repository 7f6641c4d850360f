"""Key bindings: which team and customer an authenticated gateway key belongs to."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas._types import Identifier, OptionalIdentifier, UtcDatetime

__all__ = ["KeyBinding"]


class KeyBinding(BaseModel):
    """Value on the compacted ``meterline.keys`` topic, keyed by ``api_key_id``.

    A tombstone (null value) unbinds the key. ``owner_customer`` is the customer a dedicated key
    belongs to; a shared key leaves it empty and relies on ``customer:`` tags for the books.
    Team and customer follow the key-id grammar (no spaces or control characters), the same
    one a budget's subject follows.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key_id: Identifier
    team_id: OptionalIdentifier = ""
    owner_customer: OptionalIdentifier = ""
    updated_at: UtcDatetime
