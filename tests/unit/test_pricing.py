"""Pricing rules: rates per bucket, dated prices, discounts, tolerance, unknown models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.usage import CostSource, TokenCounts
from stream.genai_source import GenaiPriceSource
from stream.pricing import (
    FLAG_COST_MISMATCH,
    FLAG_UNPRICED,
    DatedPrice,
    PriceBook,
    Rates,
    TieredRate,
    UnitPrice,
    decide_cost,
)

D = Decimal
JAN = datetime(2025, 1, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)


def _price(ref="test", discount="0", **rates) -> UnitPrice:
    values = {"input": D("2"), "output": D("8"), **{k: D(v) for k, v in rates.items()}}
    return UnitPrice(Rates(**values), ref, D(discount))


def test_each_bucket_has_its_rate():
    price = _price(cache_read="0.5", cache_write="2.5", reasoning="12")
    tokens = TokenCounts(input=1000, cache_read=4000, cache_write=2000, output=300, reasoning=100)
    # 1000*2 + 4000*0.5 + 2000*2.5 + 200*8 + 100*12 = 2000+2000+5000+1600+1200
    assert price.cost(tokens) == D("0.0118")


def test_missing_cache_and_reasoning_rates_fall_back_to_input_and_output():
    price = _price()
    tokens = TokenCounts(input=1000, cache_read=1000, cache_write=1000, output=500, reasoning=500)
    assert price.cost(tokens) == D("0.01")  # 3000*2 + 500*8 = 10000 per 1M


def test_reasoning_is_part_of_output_not_extra():
    price = _price()
    with_reasoning = TokenCounts(output=1000, reasoning=400)
    assert price.cost(with_reasoning) == price.cost(TokenCounts(output=1000))


def test_discount_percent_applies_to_the_whole_cost():
    full = _price().cost(TokenCounts(input=1_000_000))
    assert _price(discount="15").cost(TokenCounts(input=1_000_000)) == full * D("0.85")


def test_tier_switches_on_the_whole_prompt_including_cache():
    rate = TieredRate(base=D("3"), tiers=((200_000, D("6")),))
    price = UnitPrice(Rates(input=rate, output=D("15")), "tiered")
    below = TokenCounts(input=100_000, cache_read=100_000)
    above = TokenCounts(input=100_000, cache_read=100_001)
    assert price.cost(below) == D("0.6")
    assert price.cost(above) == D("1.200006")


def test_price_change_on_a_date_prices_events_either_side_differently():
    book = PriceBook.build(
        [
            ("openai", "gpt-x", DatedPrice(JAN, _price("old"))),
            ("openai", "gpt-x", DatedPrice(MAR, _price("new", input="1"))),
        ],
        fallback=None,
    )
    before = book.lookup("openai", "gpt-x", datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC))
    on_the_day = book.lookup("openai", "gpt-x", MAR)
    assert before is not None and before.ref == "old"
    assert on_the_day is not None and on_the_day.ref == "new"
    tokens = TokenCounts(input=1000)
    assert before.cost(tokens) == 2 * on_the_day.cost(tokens)


def test_user_price_overrides_fallback_only_from_its_effective_date():
    fallback_price = _price("fallback")
    book = PriceBook.build(
        [("OpenAI", "GPT-X", DatedPrice(MAR, _price("file")))],
        fallback=lambda provider, model, at: fallback_price,
    )
    assert book.lookup("openai", "gpt-x", JAN) is fallback_price
    assert book.lookup("openai", "gpt-x", MAR).ref == "file"  # type: ignore[union-attr]


def test_unknown_model_costs_zero_unpriced_and_flagged():
    result = decide_cost(None, TokenCounts(input=10_000), None, D(5))
    assert result.cost == 0 and result.computed_cost == 0
    assert result.cost_source is CostSource.UNPRICED
    assert result.flags == (FLAG_UNPRICED,)


def test_provider_cost_settles_and_computed_cost_is_kept():
    price = _price()
    tokens = TokenCounts(input=1_000_000)  # computed: 2
    close = decide_cost(price, tokens, D("2.09"), D(5))
    assert (close.cost, close.computed_cost, close.cost_source) == (
        D("2.09"),
        D("2"),
        CostSource.PROVIDER,
    )
    assert close.flags == ()
    far = decide_cost(price, tokens, D("2.11"), D(5))
    assert far.flags == (FLAG_COST_MISMATCH,)


def test_provider_cost_for_an_unknown_model_is_still_the_cost():
    result = decide_cost(None, TokenCounts(input=5), D("0.3"), D(5))
    assert result.cost == D("0.3") and result.cost_source is CostSource.PROVIDER
    assert FLAG_UNPRICED in result.flags


def test_genai_prices_default_source_knows_gpt_4o_with_cached_rate():
    price = GenaiPriceSource()("openai", "gpt-4o", JAN)
    installed = version("genai-prices")
    assert price is not None and price.ref.startswith(f"genai-prices=={installed}:openai/gpt-4o")
    tokens = TokenCounts(input=1_000_000, cache_read=1_000_000, output=1_000_000)
    assert price.cost(tokens) == D("2.5") + D("1.25") + D("10")


def test_genai_prices_unknown_model_is_none():
    assert GenaiPriceSource()("openai", "no-such-model-xyz", JAN) is None
    assert GenaiPriceSource()("no-such-provider", "gpt-4o", JAN) is None


tokens_st = st.builds(
    lambda i, o, cr, cw, r: TokenCounts(
        input=i, output=o, cache_read=cr, cache_write=cw, reasoning=min(r, o)
    ),
    *(st.integers(0, 10_000_000) for _ in range(5)),
)
rate_st = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False)
prices_st = st.builds(
    lambda i, o, cr, cw, r, d: UnitPrice(Rates(i, o, cr, cw, r), "p", d),
    rate_st,
    rate_st,
    st.none() | rate_st,
    st.none() | rate_st,
    st.none() | rate_st,
    st.decimals(min_value=0, max_value=99, places=2, allow_nan=False),
)


@given(prices_st, tokens_st)
def test_cost_is_never_negative(price, tokens):
    assert price.cost(tokens) >= 0


@given(prices_st, tokens_st, tokens_st)
def test_linear_price_of_merged_usage_is_the_sum_of_its_parts(price, a, b):
    merged = TokenCounts(
        input=a.input + b.input,
        output=a.output + b.output,
        cache_read=a.cache_read + b.cache_read,
        cache_write=a.cache_write + b.cache_write,
        reasoning=a.reasoning + b.reasoning,
    )
    assert price.rates.is_linear()
    assert price.exact_cost(merged) == price.exact_cost(a) + price.exact_cost(b)
    # Rounded to money each part is off by at most half a unit of the last place.
    assert abs(price.cost(merged) - price.cost(a) - price.cost(b)) <= D("1e-12")


@pytest.mark.parametrize("provider_cost", [D("0"), D("1"), D("123.456")])
def test_cost_equals_provider_cost_exactly(provider_cost):
    result = decide_cost(_price(), TokenCounts(input=7), provider_cost, D(5))
    assert result.cost == provider_cost
