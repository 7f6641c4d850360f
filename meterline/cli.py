"""The ``meterline`` command. Each command group lives in ``meterline/commands/``; this module
only assembles them."""

from __future__ import annotations

import logging

import click

from meterline import __version__
from meterline.commands.bench import bench
from meterline.commands.demo import demo
from meterline.commands.schemas import schemas
from meterline.commands.simulate import simulate
from meterline.commands.topics import topics


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="meterline")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Meterline: per-customer LLM cost, budgets and billing over Kafka and ClickHouse.

    Configuration comes from METERLINE_* environment variables (see README). Without any, every
    command talks to the local stack: a Tansu broker on 127.0.0.1:9092 and the embedded
    ClickHouse in .meterline/chdb.
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
cli.add_command(simulate)


def main() -> None:
    cli(prog_name="meterline")


if __name__ == "__main__":
    main()
