"""The raw fast path gives what the pydantic path gives: the same enriched events, dead letters,
duplicates, dedupe entries and counts, for any record; it never accepts what the model refuses."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.events import usage_event
from schemas.codec import encode_one
from schemas.keys import KeyBinding
from schemas.usage import TokenCounts
from stream.dedupe import SeenIndex
from stream.enrich import Enricher
from stream.fast_raw import FastEnricher, decode_batch
from stream.genai_source import GenaiPriceSource
from stream.price_cache import IntCost, PriceCache, constant_over_day
from stream.pricing import DatedPrice, PriceBook, Rates, TieredRate, UnitPrice
from stream.validation import SourcePosition

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
_D = Decimal
USER_PRICES = [
    ("acme", "flat", DatedPrice(datetime(2026, 1, 1, tzinfo=UTC), UnitPrice(
        Rates(_D("1.5"), _D("6"), _D("0.15")), "file:t:acme/flat@2026-01-01"))),
    # A price that changes at noon: never cached by the day.
    ("acme", "flat", DatedPrice(datetime(2026, 3, 1, 12, tzinfo=UTC), UnitPrice(
        Rates(_D("2"), _D("8"), None, _D("2.5"), _D("9")), "file:t:acme/flat@2026-03-01T12",
        discount_percent=_D("12.5")))),
    ("acme", "tiered", DatedPrice(datetime(2026, 1, 1, tzinfo=UTC), UnitPrice(
        Rates(TieredRate(_D("3"), ((200_000, _D("6")),)), _D("15")), "file:t:acme/tiered"))),
]  # fmt: skip
BOOK = PriceBook.build(USER_PRICES, GenaiPriceSource())
BINDINGS = {"k1": KeyBinding(api_key_id="k1", team_id="t1", owner_customer="o1", updated_at=NOW)}
MODELS = [("acme", "flat"), ("acme", "tiered"), ("openai", "gpt-4o"), ("openai", "nope")]
DAYS = [
    datetime(2026, 3, d, h, m, s, us, tzinfo=UTC)
    for d, h, m, s, us in [(1, 0, 0, 0, 0), (1, 11, 59, 59, 999_999), (1, 12, 0, 0, 0),
                           (2, 23, 1, 2, 500)]
]  # fmt: skip


def _base(rng: random.Random, n: int) -> list[dict]:
    events = []
    for i in range(n):
        provider, model = MODELS[i % len(MODELS)]
        output = rng.randrange(0, 900)
        event = usage_event(
            api_key_id=rng.choice(["k1", "k2"]),
            provider=provider,
            model=model,
            customer=rng.choice([None, "c1", "c2"]),
            feature=rng.choice([None, "chat"]),
            tags=rng.choice([(), ("env:prod",), ("customer:c9",)]),
            input_tokens=rng.randrange(0, 300_000),
            output_tokens=output,
            cache_read_tokens=rng.randrange(0, 5000),
            cache_write_tokens=rng.randrange(0, 50),
            reasoning_tokens=rng.randrange(0, output + 1),
            provider_cost=rng.choice([None, "0.25", "0", "3.000000000001"]),
            occurred_at=DAYS[(i + i // 4) % len(DAYS)],
            event_id=f"e{i}",
        )
        events.append(orjson.loads(encode_one(event)))
    return events


BASE = _base(random.Random(5), 12)
# The enrichment's names too: the fast path reads them into the fields it then sets, the model
# ignores them.
ENRICHMENT = ["customer", "feature", "team_id", "owner_customer", "cost", "computed_cost",
              "cost_source", "price_ref", "flags", "enriched_at"]  # fmt: skip
FIELDS = sorted(
    {k for e in BASE for k in e}
    | {"tokens.input", "tokens.reasoning", "tokens.x"}
    | set(ENRICHMENT)
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=140),
    st.sampled_from([
        "", "0.1", "1e3", "-1", "007", "0.0", "1.1234567890123", "12345678901234567890123456",
        "2026-13-01T00:00:00Z", "2026-03-01T00:00:00", "2026-03-01T00:00:00+05:30",
        "2026-03-01T00:00:00+00:00", "2026-03-01T00:00:00.000000Z", "2026-03-01T00:00:00.5Z",
        "2026-03-01T00:00:00.500000Z", "2026-02-29T00:00:00Z", "2028-02-29T23:59:59Z",
        "2026-03-01T24:00:00Z", "2026-03-01 00:00:00Z", "customer:", "customer: ", "Customer:x",
        "a:b\n", "success", "error", "USD", "EUR", "usd", " k1", "k" * 129, "k/1+=@:",
        "\u0662026-03-01T00:00:00Z", 2, "1", 1.0, [], {}, ["customer:c1", "customer:c2"],
        ["x" * 300 + ":y"], ["feature:" + "f" * 200], {"input": 1, "output": 2},
    ]),
)  # fmt: skip


# Values next to the canonical form, field by field: each is one rule of the model.
NEAR_MISSES = [
    ("currency", "usd"), ("currency", "EUR"), ("currency", "US"), ("currency", "USD\n"),
    ("currency", None), ("status", "SUCCESS"), ("status", "cancelled"), ("streamed", 0),
    ("streamed", True), ("latency_ms", 86_400_000), ("latency_ms", 86_400_001),
    ("latency_ms", -1), ("latency_ms", 5.0), ("schema_version", 2), ("schema_version", "1"),
    ("schema_version", True), ("schema_version", 1.0), ("tokens.reasoning", 10**6),
    ("tokens.input", -1), ("tokens.input", 100_000_000), ("tokens.input", 100_000_001),
    ("tokens.output", True), ("tokens.extra", 1), ("tokens", None), ("tokens", {}),
    ("provider_cost", 1), ("provider_cost", "1.50"), ("provider_cost", "01.5"),
    ("provider_cost", "1."), ("provider_cost", ".5"), ("provider_cost", "1e-3"),
    ("provider_cost", " 1"), ("provider_cost", "0.0000000000001"), ("provider_cost", "-0"),
    ("provider_cost", "99999999999999999999999999"), ("provider_cost", "NaN"),
    ("occurred_at", "2026-03-01T00:00:00.000001Z"), ("occurred_at", "2026-03-01T00:00:00.1Z"),
    ("occurred_at", "2026-03-01T00:00:00z"), ("occurred_at", "2026-03-01T00:00:60Z"),
    ("occurred_at", "2026-02-30T00:00:00Z"), ("occurred_at", "0000-01-01T00:00:00Z"),
    ("occurred_at", "2026-03-01T00:00:00-01:00"), ("occurred_at", 1_772_000_000),
    ("event_id", ""), ("event_id", "-x"), ("event_id", "x y"), ("event_id", "e" * 128),
    ("event_id", "e" * 129), ("event_id", "é"), ("event_id", "x\n"), ("api_key_id", "k 1"),
    ("api_key_id", "k3"), ("gateway", ""), ("gateway", "g" * 129), ("gateway", "ü" * 128),
    ("request_id", "r" * 257), ("request_id", None), ("provider", "ACME"), ("model", "Flat"),
    ("tags", ["customer:" + "c" * 130]), ("tags", ["ab"]), ("tags", ["a:"]), ("tags", ["a: "]),
    ("tags", ["a:\u00a0"]), ("tags", ["a:b\x00"]), ("tags", ["-a:b"]), ("tags", ["A:b"]),
    ("tags", ["a" * 65 + ":b"]), ("tags", ["a:b"] * 33), ("tags", ["a:b"] * 32),
    ("tags", ["abc\n:b"]), ("tags", [":b"]), ("tags", None), ("extra_field", {"any": 1}),
    ("customer", "c7"), ("customer", None), ("feature", 1), ("team_id", "t9"), ("cost", "9.5"),
    ("cost", 9.5), ("computed_cost", "x"), ("cost_source", "provider"), ("price_ref", None),
    ("flags", ["unbound_key"]), ("flags", "x"), ("enriched_at", "2020-01-01T00:00:00Z"),
    ("owner_customer", []),
]  # fmt: skip


def _mutate(element: dict, changes: list) -> dict:
    element = copy.deepcopy(element)
    for name, value in changes:
        target, key = element, name
        if name.startswith("tokens."):
            target, key = element.get("tokens"), name.split(".", 1)[1]
            if not isinstance(target, dict):
                continue
        if value is KeyError:
            target.pop(key, None)
        else:
            target[key] = value
    return element


def _json(value) -> bytes:
    """Any Python value as JSON text, big integers and NaN included (as other clients write)."""
    return json.dumps(value).encode()


def _run(path, records: list[bytes], seen: SeenIndex):
    results = []
    for offset, value in enumerate(records):
        outcome = path.process(
            value,
            key="k1",
            position=SourcePosition("raw", 3, offset),
            seen=seen,
            bindings=BINDINGS.get,
            now=NOW,
        )
        enriched = [e for v in outcome.enriched_values(16 * 1024) for e in orjson.loads(v)]
        dead = outcome.dead_letter_values(16 * 1024)
        duplicates = [e.event_id for e in outcome.duplicates]
        results.append((enriched, dead, duplicates, outcome.seen_entry))
    return results


def _both(records: list[bytes]):
    slow = Enricher(BOOK, Decimal(5), 64 * 1024)
    fast = FastEnricher(Enricher(BOOK, Decimal(5), 64 * 1024))
    slow_out = _run(slow, records, SeenIndex(timedelta(hours=1)))
    fast_out = _run(fast, records, SeenIndex(timedelta(hours=1)))
    return slow_out, fast_out, slow.counts, fast.slow.counts, fast


def test_canonical_batches_take_the_fast_path_with_the_same_output():
    records = [orjson.dumps(BASE[:6]), orjson.dumps(BASE[6:]), orjson.dumps(BASE[3:9])]
    slow_out, fast_out, slow_counts, fast_counts, fast = _both(records)
    assert fast.fast_records == 3
    assert fast_out == slow_out and fast_counts == slow_counts
    assert fast_counts.duplicates == 6
    enriched = [e for out in fast_out for e in out[0]]
    assert any("unpriced_model" in e["flags"] for e in enriched)
    assert {e["price_ref"] for e in enriched} >= {d.price.ref for _, _, d in USER_PRICES}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(
        st.tuples(
            st.integers(0, len(BASE) - 1),
            st.lists(
                st.sampled_from(NEAR_MISSES)
                | st.tuples(st.sampled_from(FIELDS), JUNK | st.just(KeyError)),
                max_size=2,
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    split=st.integers(1, 4),
    wrap=st.sampled_from(["array", "object", "bytes"]),
)
def test_fast_path_gives_what_the_model_path_gives(picks, split, wrap):
    elements = [_mutate(BASE[i], changes) for i, changes in picks]
    if wrap == "object":
        records = [_json(e) for e in elements]
    elif wrap == "bytes":
        records = [_json(elements)[:-split], None, b"[" + b" " * split + b"]"]
    else:
        records = [_json(elements[:split]), _json(elements[split - 1 :])]
    slow_out, fast_out, slow_counts, fast_counts, _ = _both(records)
    assert fast_out == slow_out
    assert fast_counts == slow_counts


@pytest.mark.parametrize(("name", "value"), NEAR_MISSES)
def test_each_rule_of_the_model_holds_on_the_fast_path(name, value):
    for base in BASE[:4]:
        records = [_json([BASE[5], _mutate(base, [(name, value)])])]
        slow_out, fast_out, slow_counts, fast_counts, _ = _both(records)
        assert fast_out == slow_out
        assert fast_counts == slow_counts


def test_fast_decode_declines_what_is_not_plainly_valid():
    good = orjson.dumps(BASE[:2])
    assert decode_batch(good) is not None
    assert decode_batch(orjson.dumps(BASE[0])) is None  # a single object: the model path
    assert decode_batch(orjson.dumps([*BASE[:2], {"event_id": "x"}])) is None
    offset = _mutate(BASE[0], [("occurred_at", "2026-03-01T00:00:00+00:00")])
    assert decode_batch(orjson.dumps([offset])) is None
    assert decode_batch(b"[{") is None


def test_price_cache_keeps_a_day_only_when_the_price_cannot_change_within_it():
    assert constant_over_day(BOOK, "acme", "flat", datetime(2026, 2, 1, tzinfo=UTC).date())
    assert not constant_over_day(BOOK, "acme", "flat", datetime(2026, 3, 1, tzinfo=UTC).date())
    cache = PriceCache(BOOK)
    before, _ = cache.price("acme", "flat", "2026-03-01T11:59:59.999999Z")
    after, _ = cache.price("acme", "flat", "2026-03-01T12:00:00Z")
    assert before is not None and after is not None
    assert before.ref.endswith("@2026-01-01") and after.ref.endswith("T12")


_RATE = st.integers(0, 16).flatmap(
    lambda places: st.decimals(min_value=0, max_value=10_000, places=places)
)
_OPTIONAL_RATE = (
    st.none()
    | _RATE
    | st.builds(
        lambda base, tiers: TieredRate(base, tuple(sorted(tiers))),
        _RATE,
        st.lists(st.tuples(st.integers(0, 400_000), _RATE), max_size=3, unique_by=lambda t: t[0]),
    )
)
_COUNT = st.integers(0, 100_000_000)


@settings(max_examples=400, deadline=None)
@given(
    rates=st.tuples(_RATE | _OPTIONAL_RATE, _RATE, _OPTIONAL_RATE, _OPTIONAL_RATE, _OPTIONAL_RATE),
    counts=st.tuples(_COUNT, _COUNT, _COUNT, _COUNT, _COUNT),
)
def test_integer_cost_is_the_decimal_cost(rates, counts):
    rate_in, rate_out, read, write, reason = rates
    price = UnitPrice(Rates(rate_in or Decimal(0), rate_out, read, write, reason), "r")
    t_in, t_out, t_read, t_write, t_reason = counts
    tokens = TokenCounts(
        input=t_in, output=max(t_out, t_reason), cache_read=t_read, cache_write=t_write,
        reasoning=t_reason,
    )  # fmt: skip
    text = IntCost(price).text(tokens)
    if text is not None:
        assert text == format(price.cost(tokens), "f")


@pytest.mark.parametrize(
    ("rate", "tokens", "expected"),
    [
        ("0.0000005", 1, "0.000000000000"),  # a tie rounds to even
        ("0.0000015", 1, "0.000000000002"),
        ("0.0000025", 1, "0.000000000002"),
        ("0.00000051", 1, "0.000000000001"),
        ("2.5", 3, "0.000007500000"),
        ("1E+1", 7, "0.000070000000"),
    ],
)
def test_integer_cost_rounds_half_even(rate, tokens, expected):
    price = UnitPrice(Rates(Decimal(rate), Decimal(0)), "r")
    assert IntCost(price).text(TokenCounts(input=tokens)) == expected
    assert format(price.cost(TokenCounts(input=tokens)), "f") == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("model", '"nope"'), ("currency", '"usd"'), ("event_id", '"x y"'), ("provider_cost", '"1.5"')],
)
def test_a_repeated_key_means_the_same_on_both_paths(name, value):
    element = json.dumps(BASE[0])
    record = f'[{element[:-1]}, "{name}": {value}}}]'.encode()
    slow_out, fast_out, slow_counts, fast_counts, _ = _both([record])
    assert fast_out == slow_out and fast_counts == slow_counts
