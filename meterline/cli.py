"""The ``meterline`` command. Each command group lives in ``meterline/commands/``; this module
only assembles them."""

from __future__ import annotations

import logging
import os

import click

from meterline import __version__
from meterline.commands.api import api
from meterline.commands.bench import bench
from meterline.commands.budgets import budgets
from meterline.commands.config import config
from meterline.commands.db import db
from meterline.commands.demo import demo
from meterline.commands.invoice import invoice
from meterline.commands.keys import keys
from meterline.commands.limits import limits
from meterline.commands.margin import margin
from meterline.commands.prices import prices
from meterline.commands.reconcile import reconcile
from meterline.commands.report import report
from meterline.commands.rerate import rerate
from meterline.commands.schemas import schemas
from meterline.commands.share import share
from meterline.commands.simulate import simulate
from meterline.commands.sink import sink
from meterline.commands.sql import sql
from meterline.commands.stream import stream
from meterline.commands.topics import topics
from meterline.commands.up import up
from meterline.commands.whatif import whatif


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meterline")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Meterline: per-customer LLM cost, budgets and billing over Kafka and ClickHouse.

    Configuration comes from METERLINE_* environment variables (docs/configuration.md). Without
    any, every command talks to the local stack: a Tansu broker on 127.0.0.1:9092 and the
    embedded ClickHouse in .meterline/chdb.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose == 0:
        # aiokafka logs every reconnect attempt at ERROR; the producer reports outages itself.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


cli.add_command(topics)
cli.add_command(schemas)
cli.add_command(bench)
cli.add_command(demo)
cli.add_command(up)
cli.add_command(report)
cli.add_command(invoice)
cli.add_command(reconcile)
cli.add_command(rerate)
cli.add_command(whatif)
cli.add_command(margin)
cli.add_command(api)
cli.add_command(db)
cli.add_command(sql)
cli.add_command(sink)
cli.add_command(keys)
cli.add_command(prices)
cli.add_command(stream)
cli.add_command(budgets)
cli.add_command(config)
cli.add_command(limits)
cli.add_command(simulate)
cli.add_command(share)


def main() -> None:
    # Stores, spools and exports hold billing data: files this process (and the stack it
    # starts) creates are the user's only.
    os.umask(0o077)
    cli(prog_name="meterline")


if __name__ == "__main__":
    main()
