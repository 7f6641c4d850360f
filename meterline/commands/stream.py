from __future__ import annotations

import os
import sys

import click

from stream.config import StreamSettings
from stream.errors import PriceFileError
from stream.price_file import load_price_file


@click.group()
def stream() -> None:
    """The stream worker: raw usage -> validated, deduplicated, attributed, priced usage."""


@stream.command("run")
@click.option(
    "-l",
    "--loglevel",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def run(loglevel: str) -> None:
    """Run one stream worker in the foreground (Ctrl-C stops it).

    Settings come from METERLINE_* variables (bootstrap, topic prefix, price file, dedupe
    horizon...). Workers with the same METERLINE_STREAM_APP_ID share the raw partitions.
    """
    settings = StreamSettings()
    if settings.price_file is not None:
        try:
            load_price_file(settings.price_file)
        except PriceFileError as exc:
            raise click.ClickException(f"METERLINE_PRICE_FILE: {exc}") from exc
    # Replace this process so signals reach Faust's worker directly.
    argv = [sys.executable, "-m", "stream", "worker", "--without-web", "-l", loglevel]
    os.execv(sys.executable, argv)
