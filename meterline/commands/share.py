"""``meterline share CUSTOMER --expires 30d``: a signed, expiring, read-only link to one
customer's console page."""

from __future__ import annotations

import time

import click

from reports.config import ReportSettings
from reports.console.auth import ConsoleKeys, parse_duration


def share_link(settings: ReportSettings, customer: str, seconds: int, now: int) -> str:
    """The link for ``customer`` valid ``seconds`` from ``now``; raises ``click.UsageError``
    when no secret is configured."""
    secret = settings.console_secret or settings.report_api_token
    if secret is None or not secret.get_secret_value():
        raise click.UsageError(
            "share links are signed with METERLINE_CONSOLE_SECRET (or, when unset, "
            "METERLINE_REPORT_API_TOKEN): set the one the console runs with"
        )
    keys = ConsoleKeys(secret.get_secret_value())
    base = settings.console_url or f"http://{settings.report_api_host}:{settings.report_api_port}"
    return f"{base.rstrip('/')}/share/{keys.share_token(customer, now + seconds)}"


@click.command()
@click.argument("customer")
@click.option(
    "--expires", default="30d", show_default=True, help="How long the link works: 12h, 30d, 2w…"
)
def share(customer: str, expires: str) -> None:
    """Print a read-only link to CUSTOMER's console page that works until it expires.

    The link shows that one customer and nothing else. It is signed with
    METERLINE_CONSOLE_SECRET, or with METERLINE_REPORT_API_TOKEN when no secret is set (then
    changing the token revokes every link). The link's base is METERLINE_CONSOLE_URL.
    """
    try:
        seconds = parse_duration(expires)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from exc
    now = int(time.time())
    link = share_link(ReportSettings(), customer, seconds, now)
    click.echo(link)
    click.echo(
        f"valid until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(now + seconds))}", err=True
    )
