from __future__ import annotations

import signal
import sys

import click


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Unwinds through the stack's context manager, which stops every child process it started.
    sys.exit(128 + signum)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
def demo(as_json: bool) -> None:
    """One simulated day of gateway traffic through the whole pipeline, on a private local
    stack: cost per customer, the budget alerts and refused calls, invoices, reconciliation and
    margin. Data stays in .meterline/demo for `meterline sql`."""
    from meterline.demo import run_demo

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    run_demo(as_json=as_json)
