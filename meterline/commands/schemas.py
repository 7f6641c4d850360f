from __future__ import annotations

import sys

import click

from schemas.json_schema import EXPORTED_MODELS, JSON_DIR, export_all, render


@click.group()
def schemas() -> None:
    """JSON Schema files of every message, for producers in other languages."""


@schemas.command("export")
def export() -> None:
    """Write schemas/json/<Model>.json from the pydantic models."""
    for path in export_all():
        click.echo(path)


@schemas.command("check")
def check() -> None:
    """Exit 1 when an exported file differs from its model."""
    stale = [
        m.__name__
        for m in EXPORTED_MODELS
        if not (JSON_DIR / f"{m.__name__}.json").exists()
        or (JSON_DIR / f"{m.__name__}.json").read_text() != render(m)
    ]
    if stale:
        click.echo(f"stale: {', '.join(stale)}; run `meterline schemas export`", err=True)
        sys.exit(1)
    click.echo("schemas/json is up to date")
