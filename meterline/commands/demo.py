from __future__ import annotations

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
def demo(as_json: bool) -> None:
    """Run the whole story on the local stack and print what arrived."""
    from meterline.demo import run_demo

    run_demo(as_json=as_json)
