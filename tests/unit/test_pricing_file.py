"""User price files: YAML and JSON, exact decimals, errors naming the line and field."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.usage import EnrichedUsage, TokenCounts
from stream.errors import PriceFileError
from stream.price_file import (
    build_price_book,
    load_price_file,
    parse_price_text,
    price_file_label,
)

YAML = """\
prices:
  - provider: openai
    model: gpt-4o
    effective_from: 2025-01-01
    input: 2.50
    output: 10
    cache_read: 0.1
    discount_percent: 10
  - provider: openai
    model: gpt-4o
    effective_from: "2025-03-01T00:00:00+00:00"
    input: "2.00"
    output: "8"
"""


def test_yaml_entries_keep_exact_decimals():
    entries = parse_price_text(YAML, "prices.yaml")
    assert [e.input for e in entries] == [Decimal("2.50"), Decimal("2.00")]
    assert entries[0].cache_read == Decimal("0.1")
    assert entries[0].discount_percent == Decimal(10)
    assert entries[0].effective_from == datetime(2025, 1, 1, tzinfo=UTC)


def test_json_file_is_accepted(tmp_path: Path):
    path = tmp_path / "prices.json"
    path.write_text(
        '[{"provider": "acme", "model": "m1", "effective_from": "2025-01-01", '
        '"input": "1", "output": "2"}]'
    )
    [entry] = load_price_file(path)
    assert (entry.provider, entry.output) == ("acme", Decimal(2))


def test_book_from_file_overrides_genai_prices_from_the_date(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text(YAML)
    book = build_price_book(path)
    tokens = TokenCounts(input=1_000_000, cache_read=1_000_000)
    old = book.lookup("openai", "gpt-4o", datetime(2024, 12, 31, tzinfo=UTC))
    january = book.lookup("openai", "gpt-4o", datetime(2025, 2, 1, tzinfo=UTC))
    march = book.lookup("openai", "gpt-4o", datetime(2025, 3, 2, tzinfo=UTC))
    assert old is not None and old.ref.startswith("genai-prices==")
    digest = hashlib.sha256(YAML.encode()).hexdigest()[:12]
    assert january is not None
    assert january.ref == f"file:prices.yaml#sha256={digest}:openai/gpt-4o@2025-01-01"
    assert january.cost(tokens) == (Decimal("2.50") + Decimal("0.1")) * Decimal("0.9")
    assert march is not None and march.cost(tokens) == Decimal("4.00")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (
            "- provider: a\n  model: m\n  effective_from: 2025-01-01\n  input: -1\n  output: 1\n",
            4,
            "prices[0].input",
        ),
        (
            "- provider: a\n  model: m\n  effective_from: 2025-01-01\n  input: 1\n",
            1,
            "prices[0].output",
        ),
        (
            "- provider: a\n  model: m\n  effective_from: 2025-01-01T00:00:00\n  input: 1\n"
            "  output: 1\n",
            3,
            "prices[0].effective_from",
        ),
        (
            "- provider: a\n  model: m\n  effective_from: 2025-01-01\n  input: 1\n  output: 1\n"
            "  discount_percent: 100\n",
            6,
            "prices[0].discount_percent",
        ),
        (
            "- provider: a\n  model: m\n  effective_from: 2025-01-01\n  input: 1\n  output: 1\n"
            "  typo: 3\n",
            6,
            "prices[0].typo",
        ),
        ("prices: [1, 2", 1, ""),
    ],
)
def test_bad_file_names_line_and_field(text: str, line: int, field: str):
    with pytest.raises(PriceFileError) as caught:
        parse_price_text(text, "bad.yaml")
    assert caught.value.line == line
    assert caught.value.field == field
    assert str(caught.value).startswith(f"bad.yaml:{line}: ")


def test_duplicate_effective_date_is_refused():
    entry = "- provider: a\n  model: m\n  effective_from: 2025-01-01\n  input: 1\n  output: 1\n"
    with pytest.raises(PriceFileError, match="same provider/model/effective_from"):
        parse_price_text(entry + entry, "dup.yaml")


def test_unreadable_file_is_a_price_file_error(tmp_path: Path):
    with pytest.raises(PriceFileError, match="cannot read"):
        load_price_file(tmp_path / "missing.yaml")


def test_price_ref_changes_when_the_file_content_changes(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    at = datetime(2025, 2, 1, tzinfo=UTC)
    path.write_text(YAML)
    before = build_price_book(path, with_genai_prices=False).lookup("openai", "gpt-4o", at)
    path.write_text(YAML.replace("input: 2.50", "input: 2.40"))
    after = build_price_book(path, with_genai_prices=False).lookup("openai", "gpt-4o", at)
    assert before is not None and after is not None
    assert before.ref.startswith("file:prices.yaml#sha256=")
    assert before.ref != after.ref


def test_longest_price_ref_fits_the_stored_column():
    limit = next(
        m.max_length
        for m in EnrichedUsage.model_fields["price_ref"].metadata
        if hasattr(m, "max_length")
    )
    entry = parse_price_text(
        f"- provider: {'p' * 128}\n  model: {'m' * 128}\n"
        "  effective_from: 2025-01-01T00:00:01.123456+00:00\n  input: 1\n  output: 1\n",
        "prices.yaml",
    )[0]
    ref = entry.dated_price(price_file_label("n" * 255, "text")).price.ref
    assert len(ref) <= limit
