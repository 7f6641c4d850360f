"""The fast path of budget charging: the fields budgets read of an enriched record, decoded with
msgspec in C.

With a budget on any subject, the budget agent decodes every enriched record. Validating it
into pydantic ``SpendView``s cost more per event than the whole enrichment (``meterline bench
stream --budgets``). This path accepts a record only when it is a JSON array whose every element
has these fields written the way the stream writes them: the times are canonical UTC ending in
``Z``, and the money is a plain decimal string. Anything else, including a record that is
merely unusual, returns ``None``, and ``stream.budget_deltas.decode_enriched`` then validates it
element by element as before. ``tests/unit/test_spend_fast.py`` checks that it never accepts
what the pydantic path refuses and that it reads the same values.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from stream.canonical_text import check_day, plain_money, utc_time

__all__ = ["SpendRow", "decode_spend"]

_Count = Annotated[int, msgspec.Meta(ge=0)]
_Id = Annotated[str, msgspec.Meta(min_length=1)]


class SpendTokens(msgspec.Struct, gc=False):
    input: _Count = 0
    output: _Count = 0
    cache_read: _Count = 0
    cache_write: _Count = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


class SpendRow(msgspec.Struct, gc=False):
    """What budgets read of one enriched event (other fields are skipped, as the model path
    ignores them). ``occurred_at`` and ``cost`` are the record's text; :func:`decode_spend`
    sets ``at`` and ``usd`` from them."""

    event_id: _Id
    occurred_at: str
    api_key_id: _Id
    cost: str
    team_id: str = ""
    owner_customer: str = ""
    customer: str = ""
    tokens: SpendTokens = msgspec.field(default_factory=SpendTokens)
    at: int | msgspec.UnsetType = msgspec.UNSET
    """Epoch second of ``occurred_at`` (set by :func:`decode_spend`)."""
    usd: Decimal | msgspec.UnsetType = msgspec.UNSET
    """``cost`` as a ``Decimal`` (set by :func:`decode_spend`)."""


_DECODER = msgspec.json.Decoder(list[SpendRow])


class _Unsure(Exception):
    """Not written the way the stream writes it; the model path decides."""


def _check(row: SpendRow) -> None:
    text = row.occurred_at
    if not utc_time(text) or not plain_money(row.cost):
        raise _Unsure
    check_day(text[:10])
    row.at = int(datetime.fromisoformat(text).timestamp())
    row.usd = Decimal(row.cost)


def decode_spend(data: bytes | None) -> list[SpendRow] | None:
    """The spend rows of an enriched record, or ``None`` when any element is not plainly valid
    and canonical (the caller then takes the model path)."""
    if not data or data[:1] != b"[":
        return None
    try:
        rows = _DECODER.decode(data)
        for row in rows:
            _check(row)
    except (_Unsure, msgspec.ValidationError, msgspec.DecodeError, ValueError):
        return None
    return rows
