from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import click

from producers.config import ProducerSettings


def _keys(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    keys = tuple(k.strip() for value in values for k in value.split(",") if k.strip())
    return keys


@click.command()
@click.option(
    "--customers", type=click.IntRange(min=1), default=50, show_default=True, help="Customers."
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=100.0,
    show_default=True,
    help="Events per second.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds of traffic.",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of the traffic (default: a random one, printed)."
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    metavar="ISO-TIME",
    help="occurred_at of the first event, UTC (default: now). Same --seed and --start: "
    "the same events with the same ids.",
)
@click.option(
    "--keys",
    multiple=True,
    callback=_keys,
    help="API key ids the customers share round-robin (comma-separated or repeated); "
    "default: one key per customer, key-<customer>.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final counts as one JSON object.")
def simulate(
    customers: int,
    rate: float,
    duration: float,
    seed: int | None,
    start: datetime | None,
    keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Publish realistic simulated gateway traffic through the real producer.

    A long tail of small customers and a few heavy ones, several features and models, streamed
    and failed calls, and retries that reuse the event id. The broker and topic prefix come
    from METERLINE_KAFKA_BOOTSTRAP and METERLINE_TOPIC_PREFIX.
    """
    import random

    from meterline.simulation import Progress, run_simulation
    from producers.simulator import TrafficProfile

    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    first = (start or datetime.now(UTC)).replace(microsecond=0)
    first = first if first.tzinfo else first.replace(tzinfo=UTC)
    settings = ProducerSettings()
    total = max(1, round(rate * duration))
    click.echo(
        f"simulating {total} events from {customers} customers at {rate:g}/s "
        f"(seed {seed}, start {first.isoformat()}) to {settings.kafka_bootstrap}",
        err=True,
    )

    def report(p: Progress) -> None:
        click.echo(
            f"  {p.elapsed_s:6.1f} s  {p.recorded}/{p.total} events recorded, {p.sent} sent",
            err=True,
        )

    try:
        profile = TrafficProfile(customers=customers, keys=keys)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    result = asyncio.run(
        run_simulation(
            profile,
            seed=seed,
            start=first,
            rate=rate,
            duration_s=duration,
            settings=settings,
            on_progress=report,
        )
    )
    counts = {"seed": seed, "start": first.isoformat(), **result.as_dict()}
    if as_json:
        click.echo(json.dumps(counts))
    else:
        for key, value in counts.items():
            click.echo(f"{key:16} {value}")
    if not result.delivered:
        click.echo(
            f"warning: the broker did not take every event; the rest is in the spool "
            f"{settings.spool_dir} and is sent on the next producer start",
            err=True,
        )
