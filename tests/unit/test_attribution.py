"""Attribution: customer/feature from tags, team/owner from the key binding."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from producers.events import usage_event
from schemas.keys import KeyBinding
from schemas.usage import UNATTRIBUTED
from stream.attribution import (
    FLAG_CUSTOMER_TAG_TOO_LONG,
    FLAG_MULTIPLE_CUSTOMERS,
    FLAG_UNBOUND_KEY,
    attribute,
)

BINDING = KeyBinding(
    api_key_id="k1", team_id="search", owner_customer="acme", updated_at=datetime.now(UTC)
)


def _event(tags=(), **kw):
    return usage_event(api_key_id="k1", provider="openai", model="gpt-4o", tags=tags, **kw)


def test_customer_and_feature_from_tags_team_and_owner_from_binding():
    who = attribute(_event(customer="globex", feature="chat"), BINDING)
    assert (who.customer, who.feature, who.team_id, who.owner_customer) == (
        "globex",
        "chat",
        "search",
        "acme",
    )
    assert who.flags == ()


def test_no_tags_is_unattributed_with_empty_feature():
    who = attribute(_event(), BINDING)
    assert (who.customer, who.feature) == (UNATTRIBUTED, "")


def test_unbound_key_is_flagged_and_has_no_team():
    who = attribute(_event(customer="acme"), None)
    assert (who.team_id, who.owner_customer) == ("", "")
    assert FLAG_UNBOUND_KEY in who.flags


def test_several_customers_first_wins_and_is_flagged():
    who = attribute(_event(tags=["customer:a", "feature:x", "customer:b"]), BINDING)
    assert who.customer == "a" and who.feature == "x"
    assert FLAG_MULTIPLE_CUSTOMERS in who.flags


def test_same_customer_twice_is_not_a_conflict():
    who = attribute(_event(tags=["customer:a", "customer:a"]), BINDING)
    assert who.customer == "a" and who.flags == ()


def test_customer_longer_than_an_id_is_unattributed_not_truncated():
    who = attribute(_event(tags=["customer:" + "x" * 200]), BINDING)
    assert who.customer == UNATTRIBUTED and FLAG_CUSTOMER_TAG_TOO_LONG in who.flags


def test_tags_never_change_the_binding():
    who = attribute(_event(tags=["team:evil", "owner_customer:evil"]), BINDING)
    assert (who.team_id, who.owner_customer) == ("search", "acme")


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=5))
def test_exactly_one_customer_per_event(customers):
    who = attribute(_event(tags=[f"customer:{c}" for c in customers]), BINDING)
    assert who.customer == (customers[0] if customers else UNATTRIBUTED)
    assert (FLAG_MULTIPLE_CUSTOMERS in who.flags) == (len(set(customers)) > 1)
