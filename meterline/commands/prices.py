from __future__ import annotations

import difflib
from datetime import UTC, datetime
from pathlib import Path

import click

from stream.config import StreamSettings
from stream.errors import PriceFileError
from stream.price_file import build_price_book, load_price_file
from stream.pricing import Rate, TieredRate

FILE_HELP = "Price file overriding genai-prices (default: METERLINE_PRICE_FILE)."


def _when(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date such as 2025-03-01") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_UNIT = "USD / 1M tokens"


def _fmt(rate: Rate | None, fallback: str) -> str:
    if rate is None:
        return f"(= {fallback})"
    if isinstance(rate, TieredRate):
        tiers = ", ".join(f"{price} above {start:,} prompt tokens" for start, price in rate.tiers)
        return f"{rate.base} {_UNIT} ({tiers})"
    return f"{rate} {_UNIT}"


def _did_you_mean(model: str, book: object) -> str:
    """`` did you mean: a, b?`` for the closest known model names, or nothing."""
    names = {m for (_p, m) in getattr(book, "user_prices", {})}
    known = getattr(getattr(book, "fallback", None), "known_models", None)
    if known is not None:
        names |= {m for (_p, m) in known()}
    close = difflib.get_close_matches(model.lower(), sorted(names), n=3, cutoff=0.8)
    return f"; did you mean {', '.join(close)}?" if close else ""


@click.group()
def prices() -> None:
    """The price book: genai-prices' dated prices, overridden by your price file."""


@prices.command("show")
@click.argument("model")
@click.option("--provider", default=None, help="Provider id (default: guessed from the model).")
@click.option("--at", "at", default=None, help="Date or datetime (UTC) to price at; default now.")
@click.option("--file", "price_file", type=click.Path(path_type=Path), default=None, help=FILE_HELP)
def show(model: str, provider: str | None, at: str | None, price_file: Path | None) -> None:
    """Print the price in force for MODEL, in USD per 1M tokens; a misspelt MODEL gets the
    closest known names."""
    when = _when(at)
    path = price_file or StreamSettings().price_file
    try:
        book = build_price_book(path)
    except PriceFileError as exc:
        raise click.ClickException(str(exc)) from exc
    if provider is None:
        in_file = [p for (p, m) in book.user_prices if m == model.lower()]
        fallback = book.fallback
        guessed = getattr(fallback, "provider_for", lambda _m: None)(model)
        provider = in_file[0] if in_file else guessed
        if provider is None:
            raise click.ClickException(
                f"no provider known for model {model!r}{_did_you_mean(model, book)} "
                "(or pass --provider)"
            )
    price = book.lookup(provider, model, when)
    if price is None:
        raise click.ClickException(
            f"no price for {provider}/{model} at {when.isoformat()}: events are cost 0, "
            f"cost_source=unpriced (add it to a price file){_did_you_mean(model, book)}"
        )
    rates = price.rates
    click.echo(f"{provider}/{model} at {when.isoformat()}")
    click.echo(f"  source       {price.ref}")
    click.echo(f"  input        {_fmt(rates.input, 'input')}")
    click.echo(f"  output       {_fmt(rates.output, 'output')}")
    click.echo(f"  cache_read   {_fmt(rates.cache_read, 'input')}")
    click.echo(f"  cache_write  {_fmt(rates.cache_write, 'input')}")
    click.echo(f"  reasoning    {_fmt(rates.reasoning, 'output')}")
    click.echo(f"  discount     {price.discount_percent} % off the rates above")


@prices.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def check(file: Path) -> None:
    """Validate a price file (YAML or JSON): every bad entry is named by line and field, and
    the command exits 1 when there is any."""
    problems: list[PriceFileError] = []
    try:
        entries = load_price_file(file, problems)
    except PriceFileError as exc:
        raise click.ClickException(str(exc)) from exc
    for e in entries:
        click.echo(
            f"ok  {e.provider}/{e.model} from {e.effective_from.date().isoformat()}: "
            f"input {e.input}, output {e.output} {_UNIT}, discount {e.discount_percent} %"
        )
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        raise click.ClickException(
            f"{file}: {len(problems)} bad entr{'y' if len(problems) == 1 else 'ies'}, "
            f"{len(entries)} OK"
        )
    click.echo(f"{file}: {len(entries)} prices OK")
