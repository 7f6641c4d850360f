"""Webhook delivery against a real local HTTP endpoint and a real Tansu alerts topic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from schemas.budgets import BudgetAction, BudgetAlert, BudgetScope, BudgetUnit, BudgetWindow
from schemas.codec import encode_one
from schemas.topics import Topics
from sinks.config import WebhookSettings
from sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, verify
from tests.integration.kafka_groups import wait_until_committed

pytestmark = pytest.mark.integration

SECRET = b"hook-secret"


class Endpoint:
    """Refuses the first ``failures`` requests with 503, then records and accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.accepted: list[tuple[bytes, str, str, float]] = []
        self.requests = 0
        self.lock = threading.Lock()


@contextlib.contextmanager
def serve(endpoint: Endpoint) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with endpoint.lock:
                endpoint.requests += 1
                fail = endpoint.requests <= endpoint.failures
                if not fail:
                    endpoint.accepted.append(
                        (
                            body,
                            self.headers[SIGNATURE_HEADER],
                            self.headers[TIMESTAMP_HEADER],
                            time.time(),
                        )
                    )
            self.send_response(503 if fail else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def alert(alert_id: str, threshold: int) -> BudgetAlert:
    now = datetime.now(UTC)
    return BudgetAlert(
        alert_id=alert_id,
        policy_id="cap",
        scope=BudgetScope.CUSTOMER,
        subject="acme",
        threshold=Decimal(threshold),
        spend=Decimal("5.5"),
        limit=Decimal(10),
        unit=BudgetUnit.USD,
        window=BudgetWindow.ROLLING_24H,
        window_start=now,
        action=BudgetAction.BLOCK,
        event_id="e1",
        occurred_at=now,
        emitted_at=now,
    )


async def publish(bootstrap: str, topic: str, alerts: list[BudgetAlert]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for a in alerts:
            await producer.send_and_wait(topic, encode_one(a), key=a.policy_id.encode())
    finally:
        await producer.stop()


async def deliver_until(settings: WebhookSettings, endpoint: Endpoint, count: int) -> None:
    notifier = WebhookNotifier(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        async with asyncio.timeout(30):
            while len(endpoint.accepted) < count:
                await asyncio.sleep(0.05)
        # Every record (duplicates included) handled and committed: a wrong second delivery
        # would have happened by now.
        await wait_until_committed(
            settings.kafka_bootstrap,
            settings.webhook_group_id,
            [Topics(settings.topic_prefix).budget_alerts],
        )
    finally:
        stop.set()
        await task


async def test_retries_until_accepted_signs_and_never_delivers_an_id_twice(
    tansu, topics, tmp_path
) -> None:
    first, second = alert("al_first", 50), alert("al_second", 80)
    # The stream may re-emit an alert after a crash: the same id twice on the topic.
    await publish(tansu.bootstrap, topics.budget_alerts, [first, first, second])
    endpoint = Endpoint(failures=2)
    with serve(endpoint) as url:
        settings = WebhookSettings(
            kafka_bootstrap=tansu.bootstrap,
            topic_prefix=topics.prefix,
            webhook_url=url,
            webhook_secret=SecretStr(SECRET.decode()),
            webhook_state_path=tmp_path / "delivered.sqlite",
            webhook_group_id=f"{topics.prefix}hook",
            webhook_backoff_base_s=0.05,
            webhook_session_timeout_s=2,
        )
        await deliver_until(settings, endpoint, 2)
        assert endpoint.requests == 4  # two refused, then one per alert id

        # A restarted notifier, even in a new consumer group re-reading everything, skips
        # what it delivered before.
        await publish(tansu.bootstrap, topics.budget_alerts, [alert("al_third", 100)])
        restarted = settings.model_copy(update={"webhook_group_id": f"{topics.prefix}hook2"})
        await deliver_until(restarted, endpoint, 3)

    ids = [json.loads(body)["alert_id"] for body, *_ in endpoint.accepted]
    assert ids == ["al_first", "al_second", "al_third"]
    for body, signature, stamp, received_at in endpoint.accepted:
        assert verify(SECRET, body, signature, stamp, now=received_at)
        assert BudgetAlert.model_validate_json(body).subject == "acme"
