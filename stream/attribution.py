"""Attribution rules: customer and feature from tags, team and owner from the key binding.

Tags are for the books; the key binding (from the authenticated key) is what budgets charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas._types import MAX_ID_LEN
from schemas.keys import KeyBinding
from schemas.usage import UNATTRIBUTED, UsageEvent

__all__ = [
    "FLAG_CUSTOMER_TAG_TOO_LONG",
    "FLAG_FEATURE_TAG_TOO_LONG",
    "FLAG_MULTIPLE_CUSTOMERS",
    "FLAG_UNBOUND_KEY",
    "Attribution",
    "attribute",
    "attribute_tags",
]

FLAG_MULTIPLE_CUSTOMERS = "multiple_customer_tags"
"""Several different ``customer:`` tags: the first is used, the event is counted once."""
FLAG_CUSTOMER_TAG_TOO_LONG = "customer_tag_too_long"
FLAG_FEATURE_TAG_TOO_LONG = "feature_tag_too_long"
FLAG_UNBOUND_KEY = "unbound_key"
"""No binding for ``api_key_id``: team and owner are empty, key budgets still apply."""


@dataclass(frozen=True)
class Attribution:
    customer: str
    feature: str
    team_id: str
    owner_customer: str
    flags: tuple[str, ...]


def attribute(event: UsageEvent, binding: KeyBinding | None) -> Attribution:
    """Who an event is for: :func:`attribute_tags` of its tags."""
    return attribute_tags(event.tags, binding)


def attribute_tags(tags: Sequence[str], binding: KeyBinding | None) -> Attribution:
    """Who an event with these tags and key binding is for. ``customer`` is the first
    ``customer:`` tag (``unattributed`` when absent or longer than an id may be), ``feature``
    the first ``feature:`` tag (empty when absent); each event yields exactly one customer, so
    it is never counted twice. Depends only on ``tags`` and ``binding`` (callers may cache on
    them)."""
    flags: list[str] = []
    customer = UNATTRIBUTED
    feature = ""
    customers: list[str] = []
    for tag in tags:
        if tag.startswith("customer:"):
            value = tag[9:]
            if value not in customers:
                customers.append(value)
        elif not feature and tag.startswith("feature:"):
            feature = tag[8:]
    if customers:
        customer = customers[0]
        if len(customers) > 1:
            flags.append(FLAG_MULTIPLE_CUSTOMERS)
        if len(customer) > MAX_ID_LEN:
            customer = UNATTRIBUTED
            flags.append(FLAG_CUSTOMER_TAG_TOO_LONG)
    if len(feature) > MAX_ID_LEN:
        feature = ""
        flags.append(FLAG_FEATURE_TAG_TOO_LONG)
    if binding is None:
        flags.append(FLAG_UNBOUND_KEY)
        return Attribution(customer, feature, "", "", tuple(flags))
    return Attribution(customer, feature, binding.team_id, binding.owner_customer, tuple(flags))
