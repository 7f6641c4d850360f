from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import click

from producers.config import GuardSettings, ProducerSettings


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
@click.option(
    "--no-guard",
    is_flag=True,
    help="Do not ask the budget guard before each call (by default a call a gateway would "
    "refuse is not made, and refusals are reported).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final counts as one JSON object.")
def simulate(
    customers: int,
    rate: float,
    duration: float,
    seed: int | None,
    start: datetime | None,
    keys: tuple[str, ...],
    no_guard: bool,
    as_json: bool,
) -> None:
    """Publish realistic simulated gateway traffic through the real producer.

    A long tail of small customers and a few heavy ones, several features and models, streamed
    and failed calls, and retries that reuse the event id. Like a gateway, each call first asks
    the budget guard; a blocked key's calls are refused (not made, not recorded) and counted
    (--no-guard skips the guard). The broker and topic prefix come from
    METERLINE_KAFKA_BOOTSTRAP and METERLINE_TOPIC_PREFIX. Ctrl-C stops early; what was
    recorded is still delivered (or spooled).
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

    last: list[Progress] = []

    def report(p: Progress) -> None:
        last[:] = [p]
        click.echo(
            f"  {p.elapsed_s:6.1f} s  {p.recorded}/{p.total} events recorded, {p.sent} sent",
            err=True,
        )

    try:
        profile = TrafficProfile(customers=customers, keys=keys)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        result = asyncio.run(
            run_simulation(
                profile,
                seed=seed,
                start=first,
                rate=rate,
                duration_s=duration,
                settings=settings,
                on_progress=report,
                guard_settings=None if no_guard else GuardSettings(),
            )
        )
    except KeyboardInterrupt:
        done = f"{last[0].recorded} of {total} events recorded" if last else "early"
        click.echo(
            f"interrupted: {done}; those were flushed to the broker (or kept in the spool "
            f"{settings.spool_dir} for the next start). Same --seed and --start replay them.",
            err=True,
        )
        raise SystemExit(130) from None
    counts = {"seed": seed, "start": first.isoformat(), **result.as_dict()}
    if as_json:
        click.echo(json.dumps(counts))
    else:
        for key, value in counts.items():
            click.echo(f"{key:16} {value}")
    if result.refused:
        for key, n in result.refused.most_common(5):
            click.echo(f"refused {n} call(s) of {key}: {result.refusal_reasons[key]}", err=True)
    if not result.delivered:
        click.echo(
            f"warning: the broker did not take every event; the rest is in the spool "
            f"{settings.spool_dir} and is sent on the next producer start",
            err=True,
        )
