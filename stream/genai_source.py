"""The default price source: the price snapshot bundled with the ``genai-prices`` package.

genai-prices prices ``input_tokens`` that INCLUDE cached tokens and subtracts the cache buckets;
ours are disjoint (see :class:`schemas.TokenCounts`), so its ``input_mtok`` is our ``input``
rate as is. It has no separate reasoning price: reasoning is output. Its tiers switch on the whole
prompt (cached included), which is what :class:`stream.pricing.TieredRate` does.

Every price it returns names the installed genai-prices release in its ``ref``
(``genai-prices==0.2.3:openai/gpt-4o@2024-08-06``): two builds with different releases can price
the same event differently, and the stored ``price_ref`` shows which one did.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from importlib.metadata import version
from typing import Any

from stream.pricing import Rate, Rates, TieredRate, UnitPrice

__all__ = ["GenaiPriceSource", "genai_prices_label"]

_MISSING = object()


def _rate(value: Any) -> Rate | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    # genai_prices.types.TieredPrices
    return TieredRate(
        base=Decimal(value.base),
        tiers=tuple((int(t.start), Decimal(t.price)) for t in value.tiers),
    )


def genai_prices_label(snapshot: Any) -> str:
    """``genai-prices==VERSION`` of the installed package; ``+auto-update`` when ``snapshot``
    came from genai-prices' price updater instead of the data bundled with that release."""
    label = f"genai-prices=={version('genai-prices')}"
    if getattr(snapshot, "from_auto_update", False):
        label += "+auto-update"
    return label


class GenaiPriceSource:
    """``(provider, model, at) -> UnitPrice | None`` over genai-prices' bundled snapshot.

    Model lookups are cached per (provider, model), and converted prices per genai price
    object, so a steady stream costs two dict hits and the walk over the model's few dated
    prices. ``None`` means genai-prices does not know the provider/model.
    """

    def __init__(self) -> None:
        from genai_prices import data_snapshot

        self._snapshot = data_snapshot.get_snapshot()
        self.label = genai_prices_label(self._snapshot)
        """Prefix of every ``ref`` this source returns: which genai-prices data priced it."""
        self._models: dict[tuple[str, str], Any] = {}
        self._prices: dict[int, tuple[Any, UnitPrice | None]] = {}
        self._by_day: dict[tuple[str, str, date], UnitPrice | None] = {}
        self._date_only: dict[tuple[str, str], bool] = {}

    def _model(self, provider: str, model: str) -> Any:
        key = (provider, model)
        found = self._models.get(key, _MISSING)
        if found is _MISSING:
            try:
                found = self._snapshot.find_provider_model(model, None, provider, None)
            except LookupError:
                found = None
            self._models[key] = found
        return found

    def known_models(self) -> list[tuple[str, str]]:
        """Every (provider id, model id) genai-prices has a price for."""
        return [(str(p.id), str(m.id)) for p in self._snapshot.providers for m in p.models]

    def provider_for(self, model: str) -> str | None:
        """The provider genai-prices associates with ``model`` when none is given."""
        try:
            provider, _ = self._snapshot.find_provider_model(model, None, None, None)
        except LookupError:
            return None
        return str(provider.id)

    def __call__(self, provider: str, model: str, at: datetime) -> UnitPrice | None:
        day_key = (provider, model, at.date())
        try:
            return self._by_day[day_key]
        except KeyError:
            pass
        found = self._model(provider, model)
        if found is None:
            return None
        genai_provider, info = found
        price = self._lookup(genai_provider, info, at)
        if self._changes_only_by_date(provider, model, info):
            if len(self._by_day) > 100_000:
                self._by_day.clear()
            self._by_day[day_key] = price
        return price

    def constant_over_day(self, provider: str, model: str) -> bool:
        """True when this source's price for the model is the same all through any UTC day
        (always true for a model it does not know)."""
        found = self._model(provider, model)
        return found is None or self._changes_only_by_date(provider, model, found[1])

    def _changes_only_by_date(self, provider: str, model: str, info: Any) -> bool:
        """Prices with only start-date constraints are constant over a UTC day, so a day's
        lookup can be cached; time-of-day prices are looked up per event."""
        key = (provider, model)
        known = self._date_only.get(key)
        if known is None:
            conditionals = info.prices if isinstance(info.prices, list) else []
            known = all(
                c.constraint is None or hasattr(c.constraint, "start_date") for c in conditionals
            )
            self._date_only[key] = known
        return known

    def _lookup(self, genai_provider: Any, info: Any, at: datetime) -> UnitPrice | None:
        model_price = info.get_prices(at)
        cached = self._prices.get(id(model_price))
        if cached is not None and cached[0] is model_price:
            return cached[1]
        price = self._convert(genai_provider.id, info, model_price)
        # Keep the genai object referenced so its id() is not reused by another object.
        self._prices[id(model_price)] = (model_price, price)
        return price

    def _convert(self, provider_id: str, info: Any, model_price: Any) -> UnitPrice | None:
        input_rate = _rate(getattr(model_price, "input_mtok", None))
        output_rate = _rate(getattr(model_price, "output_mtok", None))
        if input_rate is None and output_rate is None:
            return None
        since = ""
        for conditional in info.prices if isinstance(info.prices, list) else ():
            if conditional.prices is model_price and conditional.constraint is not None:
                start = getattr(conditional.constraint, "start_date", None)
                if start is not None:
                    since = f"@{start.isoformat()}"
        rates = Rates(
            input=input_rate if input_rate is not None else Decimal(0),
            output=output_rate if output_rate is not None else Decimal(0),
            cache_read=_rate(getattr(model_price, "cache_read_mtok", None)),
            cache_write=_rate(getattr(model_price, "cache_write_mtok", None)),
        )
        return UnitPrice(rates=rates, ref=f"{self.label}:{provider_id}/{info.id}{since}")
