"""User price files (YAML or JSON): negotiated or custom prices that override genai-prices.

Format: a list of entries, or a mapping with a ``prices`` list. Each entry::

    - provider: openai
      model: gpt-4o
      effective_from: 2025-01-01        # date (UTC midnight) or ISO datetime with zone
      input: "2.50"                     # USD per 1M tokens, uncached prompt tokens
      output: "10.00"                   # every generated token (reasoning included)
      cache_read: "1.25"                # optional; default: the input price
      cache_write: "3.125"              # optional; default: the input price
      reasoning: "10.00"                # optional; default: the output price
      discount_percent: 15              # optional negotiated discount, 0 <= d < 100

Numbers are read from the file text, never through float, so ``0.1`` stays exactly ``0.1``.
A bad file raises :class:`PriceFileError` naming the line and the field.

A price from a file is referenced (``price_ref``) by the file's name and the start of the SHA-256
of its content, ``file:prices.yaml#sha256=3f9a1c2b7d4e:openai/gpt-4o@2025-01-01``, so an edited
file shows up in the stored events even when its name stays the same.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stream.errors import PriceFileError
from stream.pricing import DatedPrice, PriceBook, Rates, UnitPrice

__all__ = [
    "PriceFileEntry",
    "build_price_book",
    "load_price_file",
    "parse_price_text",
    "price_file_label",
]

_NAME_IN_REF = 64
"""Longest file name kept in a ``price_ref``; the hash identifies the content anyway. With
provider and model at most 128 characters each, a ref stays well under the 512 the schema allows."""
_HASH_IN_REF = 12

PerMillion = Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class PriceFileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=1, max_length=128)
    model: str = Field(min_length=1, max_length=128)
    effective_from: datetime
    input: PerMillion
    output: PerMillion
    cache_read: PerMillion | None = None
    cache_write: PerMillion | None = None
    reasoning: PerMillion | None = None
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, lt=100, allow_inf_nan=False)

    @field_validator("effective_from", mode="before")
    @classmethod
    def _date_or_aware(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10:
            value = date.fromisoformat(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time(0), tzinfo=UTC)
        return value

    @field_validator("effective_from")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("effective_from needs a time zone (or give a plain date, read as UTC)")
        return value.astimezone(UTC)

    def dated_price(self, label: str) -> DatedPrice:
        """This entry as a price whose ``ref`` starts with ``label`` (:func:`price_file_label`)."""
        rates = Rates(
            input=self.input,
            output=self.output,
            cache_read=self.cache_read,
            cache_write=self.cache_write,
            reasoning=self.reasoning,
        )
        stamp = self.effective_from.date().isoformat()
        if self.effective_from.time() != time(0):
            stamp = self.effective_from.isoformat()
        ref = f"{label}:{self.provider}/{self.model}@{stamp}"
        return DatedPrice(self.effective_from, UnitPrice(rates, ref, self.discount_percent))


def _plain(node: yaml.Node) -> Any:
    """YAML node to Python with every scalar kept as its source text (no float, no date)."""
    if isinstance(node, yaml.MappingNode):
        return {_plain(k): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    if node.tag.endswith(":null") or node.value in ("", "~", "null"):
        return None
    return node.value


def parse_price_text(
    text: str, source: str, problems: list[PriceFileError] | None = None
) -> list[PriceFileEntry]:
    """Entries of a price file's text; ``source`` names it in errors and ``price_ref``.

    A bad entry raises :class:`PriceFileError`, unless ``problems`` is given: then every bad
    entry's error is appended to it and the good entries are returned (a file that is not a
    list of prices at all still raises)."""
    try:
        return _parse_price_text(text, source, problems)
    except RecursionError:
        raise PriceFileError(source, 0, "", "nested too deeply to be a price file") from None


def _parse_price_text(
    text: str, source: str, problems: list[PriceFileError] | None
) -> list[PriceFileEntry]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise PriceFileError(source, line, "", f"not valid YAML/JSON: {exc}") from exc
    if root is None:
        return []
    items = root
    if isinstance(root, yaml.MappingNode):
        found = [v for k, v in root.value if k.value == "prices"]
        if not found:
            raise PriceFileError(source, root.start_mark.line + 1, "", "expected a 'prices' list")
        items = found[0]
    if not isinstance(items, yaml.SequenceNode):
        raise PriceFileError(source, items.start_mark.line + 1, "", "expected a list of prices")
    entries = []
    seen: dict[tuple[str, str, datetime], int] = {}
    for index, node in enumerate(items.value):
        line = node.start_mark.line + 1
        data = _plain(node)
        try:
            entry = _entry(node, data, source, index, line)
            key = (entry.provider.lower(), entry.model.lower(), entry.effective_from)
            if key in seen:
                raise PriceFileError(
                    source,
                    line,
                    f"prices[{index}]",
                    f"same provider/model/effective_from as the entry on line {seen[key]}",
                )
        except PriceFileError as exc:
            if problems is None:
                raise
            problems.append(exc)
            continue
        seen[key] = line
        entries.append(entry)
    return entries


def _entry(node: yaml.Node, data: Any, source: str, index: int, line: int) -> PriceFileEntry:
    if not isinstance(data, dict):
        raise PriceFileError(source, line, f"prices[{index}]", "expected a mapping")
    try:
        return PriceFileEntry.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        field_line = _field_line(node, str(first["loc"][0])) if first["loc"] else line
        raise PriceFileError(source, field_line, f"prices[{index}].{field}", first["msg"]) from exc


def _field_line(node: yaml.Node, field: str) -> int:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == field:
                return value.start_mark.line + 1
    return node.start_mark.line + 1


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceFileError(str(path), 0, "", f"cannot read: {exc}") from exc


def price_file_label(name: str, text: str) -> str:
    """``file:NAME#sha256=HASH``: the file a price came from and which version of it."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_IN_REF]
    return f"file:{name[:_NAME_IN_REF]}#sha256={digest}"


def load_price_file(
    path: Path, problems: list[PriceFileError] | None = None
) -> list[PriceFileEntry]:
    """Read and validate a price file. Raises :class:`PriceFileError` (also when unreadable);
    with ``problems``, bad entries are collected there instead (see ``parse_price_text``)."""
    return parse_price_text(_read(path), path.name, problems)


def build_price_book(path: Path | None, *, with_genai_prices: bool = True) -> PriceBook:
    """The price book the stream uses: the user file (when given) over genai-prices."""
    from stream.genai_source import GenaiPriceSource

    entries: list[PriceFileEntry] = []
    label = ""
    if path is not None:
        text = _read(path)
        entries = parse_price_text(text, path.name)
        label = price_file_label(path.name, text)
    return PriceBook.build(
        ((e.provider, e.model, e.dated_price(label)) for e in entries),
        GenaiPriceSource() if with_genai_prices else None,
    )
