"""Key bindings: which team and customer an authenticated gateway key belongs to."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas._types import MAX_ID_LEN, Identifier, UtcDatetime

__all__ = ["KeyBinding"]


class KeyBinding(BaseModel):
    """Value on the compacted ``meterline.keys`` topic, keyed by ``api_key_id``.

    A tombstone (null value) unbinds the key. ``owner_customer`` is the customer a dedicated key
    belongs to; a shared key leaves it empty and relies on ``customer:`` tags for the books.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key_id: Identifier
    team_id: str = Field(default="", max_length=MAX_ID_LEN)
    owner_customer: str = Field(default="", max_length=MAX_ID_LEN)
    updated_at: UtcDatetime
