"""``meterline api``: serve the read-only report API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import click
from aiokafka.errors import KafkaError
from fastapi import HTTPException

from meterline.budget_status import BudgetStatusRow
from meterline.commands._reports import guarded, query_client, read_text
from producers.config import ProducerSettings
from reports.aliases import parse_aliases
from reports.config import ReportSettings
from reports.plans import parse_plans
from schemas.topics import Topics


def budget_status_reader() -> Callable[[], list[BudgetStatusRow]]:
    """``/v1/budgets``: the budget topics read on each request (METERLINE_KAFKA_BOOTSTRAP)."""
    settings = ProducerSettings()
    topics = Topics(settings.topic_prefix)

    def read() -> list[BudgetStatusRow]:
        from meterline.budget_admin import read_budget_status

        try:
            return asyncio.run(read_budget_status(settings.kafka_bootstrap, topics))
        except (KafkaError, OSError) as exc:
            raise HTTPException(
                status_code=503, detail=f"cannot reach the broker at {settings.kafka_bootstrap}"
            ) from exc

    return read


@click.command()
@click.option(
    "--host",
    default=None,
    help="Interface to bind [default: METERLINE_REPORT_API_HOST, 127.0.0.1].",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port [default: METERLINE_REPORT_API_PORT, 8710].",
)
@click.pass_context
def api(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the reports over HTTP (JSON and CSV, OpenAPI docs at /docs) and the cost console
    at / (sign in with the token).

    Every data route needs 'Authorization: Bearer <token>'. The token is
    METERLINE_REPORT_API_TOKEN; when unset, a random one is made and printed at start.
    /v1/invoices uses the plans file in METERLINE_REPORT_PLANS_FILE. The console's budget
    pages follow the stream's topics on METERLINE_KAFKA_BOOTSTRAP.
    """
    import uvicorn

    from reports.api import create_app

    settings = ReportSettings()
    token = (
        settings.report_api_token.get_secret_value() if settings.report_api_token else ""
    ) or secrets.token_urlsafe(24)
    plans = (
        guarded(parse_plans, read_text(settings.report_plans_file, "plans file"))
        if settings.report_plans_file
        else None
    )
    aliases = (
        guarded(parse_aliases, read_text(settings.report_aliases_file, "aliases file"))
        if settings.report_aliases_file
        else None
    )
    bind_host = host or settings.report_api_host
    bind_port = settings.report_api_port if port is None else port
    from meterline.console_live import KafkaLiveBudgets
    from schemas.topics import Topics
    from stream.config import StreamSettings

    stream_settings = StreamSettings()
    live = KafkaLiveBudgets(stream_settings.kafka_bootstrap, Topics(stream_settings.topic_prefix))
    secret = settings.console_secret.get_secret_value() if settings.console_secret else None
    with query_client(ctx) as (client, database):
        app = create_app(
            client,
            database,
            token,
            plans,
            max_body_bytes=settings.report_api_max_body_bytes,
            aliases=aliases,
            budget_status=budget_status_reader(),
            live=live,
            console_secret=secret,
        )
        click.echo(
            f"report API and console on http://{bind_host}:{bind_port}/ (API docs: /docs)",
            err=True,
        )
        if settings.report_api_token is None:
            click.echo(
                f"bearer token (random, set METERLINE_REPORT_API_TOKEN to fix it): {token}",
                err=True,
            )
        live.start()
        try:
            uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")
        finally:
            live.stop()
