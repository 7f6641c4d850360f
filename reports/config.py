"""Settings of the reports and their HTTP API (environment prefix ``METERLINE_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from schemas.settings import MeterlineSettings

__all__ = ["ReportSettings"]


class ReportSettings(MeterlineSettings):
    # Where the data is comes from the sink's settings (METERLINE_CLICKHOUSE_URL/_DATABASE).
    report_api_host: str = "127.0.0.1"
    """Interface the report API binds."""
    report_api_port: int = Field(default=8710, ge=0, le=65535)
    """Port of the report API."""
    report_api_token: SecretStr | None = None
    """Bearer token the API demands; ``meterline api`` makes a random one when unset."""
    report_api_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """Largest request body (a posted bill or revenue CSV) the API reads; larger is a 413."""
    report_plans_file: Path | None = None
    """Plans YAML the API's ``/invoices`` uses (the CLI takes ``--plans``)."""
    report_aliases_file: Path | None = None
    """YAML mapping provider/model names on provider bills to metered names, used by
    ``reconcile`` (CLI ``--aliases``) and ``POST /v1/reconcile``; see the reports page."""
    console_secret: SecretStr | None = None
    """Signs console sessions and share links (default: the API token, so rotating the token
    ends every session and share link)."""
    console_url: str | None = None
    """Public base URL of the console for the links ``meterline share`` prints
    (default: http://METERLINE_REPORT_API_HOST:METERLINE_REPORT_API_PORT)."""
