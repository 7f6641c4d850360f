"""Budget alert webhook: POST every alert once, signed, retried until the endpoint takes it.

Each alert on ``meterline.budgets.alerts`` is POSTed as its JSON (``BudgetAlert``) with headers
``X-Meterline-Timestamp``, ``X-Meterline-Signature`` (HMAC-SHA256 of timestamp and body under
the shared secret; receivers check it and the timestamp's freshness with
:func:`sinks.webhook_signature.verify`) and ``X-Meterline-Alert-Id``. Order per alert,
written down where it happens in ``_handle``:

1. skip it when its id is in the durable delivered log (a replay, or the same alert re-emitted
   by the stream after a crash);
2. POST it, retrying any failure (connection error, timeout, non-2xx) with exponential backoff
   for as long as the notifier runs: an alert is never skipped, so none is lost;
3. record the id in the delivered log (SQLite, committed to disk);
4. commit the Kafka offset.

A crash between 2 and 3 can repeat one POST; the ``X-Meterline-Alert-Id`` header lets the
endpoint drop it. A healthy endpoint otherwise sees each id exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import tenacity
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from schemas.budgets import BudgetAlert
from schemas.codec import encode_one
from schemas.topics import Topics
from sinks.config import WebhookSettings
from sinks.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, TOLERANCE_S, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "DeliveredLog",
    "WebhookConfigError",
    "WebhookNotifier",
    "backoff_delays",
    "backoff_wait",
    "sign",
    "verify",
]

log = logging.getLogger(__name__)

ALERT_ID_HEADER = "X-Meterline-Alert-Id"


class WebhookConfigError(ValueError):
    """The notifier cannot run with these settings (the message says which one)."""


def backoff_wait(base_s: float, max_s: float) -> tenacity.wait.wait_base:
    """``base, 2*base, 4*base, …`` capped at ``max_s``."""
    return tenacity.wait_exponential(multiplier=base_s, max=max_s)


def backoff_delays(base_s: float, max_s: float) -> Iterator[float]:
    """The pauses of :func:`backoff_wait`, attempt by attempt, forever."""
    wait = backoff_wait(base_s, max_s)
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    for attempt in itertools.count(1):
        state.attempt_number = attempt
        yield wait(state)


class DeliveredLog:
    """Alert ids delivered so far, in a SQLite file; ``add`` is on disk when it returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS delivered (alert_id TEXT PRIMARY KEY, at TEXT NOT NULL)"
        )
        self._db.commit()

    def __contains__(self, alert_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM delivered WHERE alert_id = ?", (alert_id,))
        return row.fetchone() is not None

    def add(self, alert_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO delivered VALUES (?, datetime('now'))", (alert_id,))
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM delivered").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class WebhookNotifier:
    """Consumes the alerts topic in a consumer group and delivers each alert (see module doc)."""

    def __init__(self, settings: WebhookSettings) -> None:
        if not settings.webhook_url:
            raise WebhookConfigError("METERLINE_WEBHOOK_URL is not set")
        if not settings.webhook_secret.get_secret_value():
            raise WebhookConfigError("METERLINE_WEBHOOK_SECRET is not set (alerts are signed)")
        self.settings = settings
        self.delivered = DeliveredLog(settings.webhook_state_path)
        self.attempts = 0
        self.sent = 0
        self._secret = settings.webhook_secret.get_secret_value().encode()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        consumer = AIOKafkaConsumer(
            Topics(self.settings.topic_prefix).budget_alerts,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.webhook_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(self.settings.webhook_session_timeout_s * 1000),
            rebalance_timeout_ms=int(self.settings.webhook_session_timeout_s * 1000),
            heartbeat_interval_ms=max(100, int(self.settings.webhook_session_timeout_s * 1000 / 6)),
            fetch_max_wait_ms=200,
        )
        await consumer.start()
        try:
            async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_s) as http:
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=200)
                    for tp, messages in batches.items():
                        for message in messages:
                            await self._handle(http, message.value, stop)
                            if stop.is_set():
                                return
                            await consumer.commit({tp: message.offset + 1})
        finally:
            await consumer.stop()
            self.delivered.close()

    async def _handle(
        self, http: httpx.AsyncClient, value: bytes | None, stop: asyncio.Event
    ) -> None:
        try:
            alert = BudgetAlert.model_validate_json(value or b"")
        except ValidationError as exc:
            # Only the stream writes this topic: a bad value is a bug to see, not an alert.
            log.error("not a budget alert, skipped: %s", exc)
            return
        if alert.alert_id in self.delivered:
            return
        body = encode_one(alert)
        if stop.is_set():
            return

        async def pause(delay: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

        def log_retry(state: tenacity.RetryCallState) -> None:
            assert state.outcome is not None and state.next_action is not None
            log.warning("alert %s not delivered (%s); retrying in %.1fs", alert.alert_id,
                        state.outcome.result(), state.next_action.sleep)  # fmt: skip

        async def attempt() -> str | None:
            if stop.is_set():
                return None  # stopping: leave it undelivered (its offset is not committed)
            return await self._post(http, alert.alert_id, body)

        # Retried until delivered or stopping (then left undelivered and uncommitted).
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_result(lambda problem: problem is not None),
            wait=backoff_wait(
                self.settings.webhook_backoff_base_s, self.settings.webhook_backoff_max_s
            ),
            stop=lambda _state: stop.is_set(),
            sleep=pause,
            before_sleep=log_retry,
            retry_error_callback=lambda _state: None,
        )
        await retrying(attempt)

    async def _post(self, http: httpx.AsyncClient, alert_id: str, body: bytes) -> str | None:
        """One delivery attempt: None once delivered, else what went wrong."""
        self.attempts += 1
        stamp = int(time.time())  # signed per attempt: a retry is fresh when it arrives
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self._secret, body, stamp),
            ALERT_ID_HEADER: alert_id,
        }
        try:
            response = await http.post(self.settings.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return repr(exc)
        if not response.is_success:
            return f"HTTP {response.status_code}"
        self.delivered.add(alert_id)
        self.sent += 1
        return None
