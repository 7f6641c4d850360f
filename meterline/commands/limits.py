from __future__ import annotations

import click

from meterline.budget_admin import PolicyInputError
from meterline.commands._config import print_history
from meterline.commands.budgets import _run, _settings
from meterline.limit_admin import build_limit, delete_limit, list_limits, put_limit
from schemas.budgets import BudgetScope
from schemas.limits import LimitPolicy, limit_id


@click.group()
def limits() -> None:
    """Rate limits per key, team or owner customer: requests and tokens per minute, calls in
    flight.

    Limits live on the compacted meterline.limits topic. Every gateway applies them to a key
    through its binding (the key, its team, its owner customer), never through tags; replicas
    share the counters through METERLINE_LIMITS_URL (Valkey/Redis).
    """


@limits.command("set")
@click.option(
    "--scope", type=click.Choice([s.value for s in BudgetScope]), required=True,
    help="What the limit applies to: an api key, a team, or the customer owning the key.",
)  # fmt: skip
@click.option("--subject", required=True, help="The key id, team id or customer id.")
@click.option("--rpm", type=int, default=None, help="Requests in any sliding minute.")
@click.option("--tpm", type=int, default=None, help="Tokens (in + out) in any sliding minute.")
@click.option("--max-parallel", type=int, default=None, help="Calls in flight at once.")
@click.option(
    "--lease", "lease_s", type=float, default=None,
    help="Seconds a slot outlives a gateway that died mid-call [default: the gateway's].",
)  # fmt: skip
def set_(
    scope: str,
    subject: str,
    rpm: int | None,
    tpm: int | None,
    max_parallel: int | None,
    lease_s: float | None,
) -> None:
    """Create or replace the limits of one subject (unset kinds are unlimited)."""
    bootstrap, topics = _settings()
    try:
        limit = build_limit(
            scope=scope, subject=subject, rpm=rpm, tpm=tpm, max_parallel=max_parallel,
            lease_s=lease_s,
        )  # fmt: skip
    except PolicyInputError as exc:
        raise click.UsageError(f"invalid limit: {exc}") from exc
    _run(put_limit(bootstrap, topics, limit), bootstrap)
    click.echo(f"set {limit.limit_id}: {_describe(limit)}")


@limits.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool) -> None:
    """Print the current limits."""
    bootstrap, topics = _settings()
    found = _run(list_limits(bootstrap, topics), bootstrap)
    if not found and not as_json:
        click.echo("no limits")
    for limit in found:
        if as_json:
            click.echo(limit.model_dump_json())
        else:
            click.echo(f"{limit.limit_id:40} {_describe(limit)}")


@limits.command("delete")
@click.option("--scope", type=click.Choice([s.value for s in BudgetScope]), required=True)
@click.option("--subject", required=True)
def delete(scope: str, subject: str) -> None:
    """Delete a subject's limits; gateways stop applying them within a moment."""
    bootstrap, topics = _settings()
    key = limit_id(scope, subject)
    existing = {x.limit_id for x in _run(list_limits(bootstrap, topics), bootstrap)}
    if key not in existing:
        raise click.ClickException(f"no limits for {key!r} (see `meterline limits list`)")
    _run(delete_limit(bootstrap, topics, key), bootstrap)
    click.echo(f"deleted {key}")


@limits.command("history")
@click.argument("limit_key", metavar="SCOPE:SUBJECT")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
def history_(limit_key: str, as_json: bool) -> None:
    """Every recorded change of one subject's limits (e.g. customer:acme), oldest first, with
    who made it and when."""
    print_history("limits", limit_key, as_json)


def _describe(limit: LimitPolicy) -> str:
    parts = [
        f"{limit.rpm} rpm" if limit.rpm else "",
        f"{limit.tpm} tpm" if limit.tpm else "",
        f"{limit.max_parallel} in flight" if limit.max_parallel else "",
        f"lease {limit.lease_s:g}s" if limit.lease_s else "",
    ]
    return f"{limit.scope.value} {limit.subject}: " + ", ".join(p for p in parts if p)
