from __future__ import annotations

import os
import sys

import click


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
    horizon...). Start as many as there are raw partitions to share the load.
    """
    # Replace this process so signals reach Faust's worker directly.
    argv = [sys.executable, "-m", "stream", "worker", "--without-web", "-l", loglevel]
    os.execv(sys.executable, argv)
