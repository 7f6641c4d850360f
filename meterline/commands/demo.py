from __future__ import annotations

import secrets
import signal
import sys

import click


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Unwinds through the stack's context manager, which stops every child process it started.
    sys.exit(128 + signum)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
@click.option(
    "--serve",
    is_flag=True,
    help="Afterwards keep the stack up and serve the cost console until Ctrl-C.",
)
def demo(as_json: bool, serve: bool) -> None:
    """One simulated day of gateway traffic through the whole pipeline, on a private local
    stack: cost per customer, the budget alerts and refused calls, invoices, reconciliation and
    margin. Data stays in .meterline/demo for `meterline sql`.

    With --serve the stack stays up and the console answers on METERLINE_REPORT_API_PORT
    (token METERLINE_REPORT_API_TOKEN, random when unset); the broker is the one on
    METERLINE_KAFKA_BOOTSTRAP when that is set, else a private one.
    """
    from meterline.demo import run_demo
    from meterline.demo.story import Serve

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = None
    if serve:
        # Ctrl-C must stop a served demo even when started where SIGINT was ignored (a
        # background job of a script).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from reports.config import ReportSettings
        from stream.config import StreamSettings

        settings = ReportSettings()
        stream_settings = StreamSettings()
        given = settings.report_api_token.get_secret_value() if settings.report_api_token else ""
        options = Serve(
            port=settings.report_api_port,
            token=given or secrets.token_urlsafe(24),
            token_was_set=bool(given),
            bootstrap=stream_settings.kafka_bootstrap
            if "kafka_bootstrap" in stream_settings.model_fields_set
            else None,
        )
    try:
        run_demo(as_json=as_json, serve=options)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
