"""Done-when scenario of the budgets issue on a real Tansu broker and a real stream worker."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from meterline.budget_admin import build_policy, delete_policy, put_policy
from meterline.local.stream import StreamWorker
from schemas.codec import encode_one
from schemas.keys import KeyBinding
from tests.integration.budget_helpers import (
    enriched,
    produce_enriched,
    produce_raw,
    read_alerts,
    read_dead_letters,
    run,
    wait_for,
)
from tests.integration.guard_process import GuardProcess
from tests.integration.kafka_groups import stream_settled, wait_until_committed

pytestmark = pytest.mark.integration


async def bind_key(bootstrap: str, topic: str, key: str, customer: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        binding = KeyBinding(api_key_id=key, owner_customer=customer, updated_at=datetime.now(UTC))
        await producer.send_and_wait(topic, encode_one(binding), key=key.encode())
    finally:
        await producer.stop()


def test_customer_cap_alerts_once_blocks_at_gateway_and_survives_worker_crash(
    tansu, topics, tmp_path
) -> None:
    bootstrap = tansu.bootstrap
    for customer in ("cust-a", "cust-b"):
        policy = build_policy(
            policy_id=f"cap-{customer}", scope="customer", subject=customer, limit="10"
        )
        run(put_policy(bootstrap, topics, policy))
        run(bind_key(bootstrap, topics.keys, f"key-{customer}", customer))

    worker = StreamWorker(
        bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    a1 = enriched("key-cust-a", "5", owner="cust-a")
    a2 = enriched("key-cust-a", "3", owner="cust-a")
    a3 = enriched("key-cust-a", "2.5", owner="cust-a")
    b1 = enriched("key-cust-b", "4", owner="cust-b")
    with GuardProcess(bootstrap=bootstrap, topic_prefix=topics.prefix) as guard:
        assert guard.check("key-cust-a")["allowed"]
        try:
            worker.start()
            run(produce_enriched(bootstrap, topics.usage_enriched, [a1]))
            run(produce_enriched(bootstrap, topics.usage_enriched, [b1]))
            run(produce_enriched(bootstrap, topics.usage_enriched, [a2]))
            before_crash = run(read_alerts(bootstrap, topics.budget_alerts, until=2))
            assert [a.threshold for a in before_crash] == [50, 80]
            # Once Faust committed what it processed, crash it the hard way.
            run(
                wait_until_committed(
                    bootstrap,
                    f"{topics.prefix}meterline-stream",
                    [topics.usage_enriched, topics.budget_deltas],
                )
            )
            worker.kill()
            worker.start()
            run(produce_enriched(bootstrap, topics.usage_enriched, [a3]))
            sources = [topics.usage_enriched, topics.budget_deltas]
            settled = stream_settled(bootstrap, topics.prefix, sources)
            alerts = run(read_alerts(bootstrap, topics.budget_alerts, until=3, settled=settled))

            assert [a.threshold for a in alerts] == [50, 80, 100]
            assert len({a.alert_id for a in alerts}) == 3
            assert [a.event_id for a in alerts] == [a1.event_id, a2.event_id, a3.event_id]
            assert all(a.subject == "cust-a" for a in alerts)
            assert alerts[-1].spend == Decimal("10.5")  # spend before the crash was kept

            blocked = wait_for(lambda: (d := guard.check("key-cust-a"))["allowed"] is False and d)
            assert "cap-cust-a" in blocked["reason"]
            assert guard.check("key-cust-b")["allowed"]

            # A gateway started now knows the state before it serves.
            with GuardProcess(bootstrap=bootstrap, topic_prefix=topics.prefix) as fresh:
                assert fresh.check("key-cust-a")["allowed"] is False
                assert fresh.check("key-cust-b")["allowed"]

            # Raising the limit unblocks without waiting for usage (the key cannot make any).
            raised = build_policy(
                policy_id="cap-cust-a", scope="customer", subject="cust-a", limit="20"
            )
            run(put_policy(bootstrap, topics, raised))
            wait_for(lambda: guard.check("key-cust-a")["allowed"])
        finally:
            worker.kill()
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


def test_deleting_a_policy_unblocks_and_bad_records_become_dead_letters(
    tansu, topics, tmp_path
) -> None:
    bootstrap = tansu.bootstrap
    cap = build_policy(policy_id="cap-k", scope="key", subject="k", limit="1", thresholds="")
    run(put_policy(bootstrap, topics, cap))
    worker = StreamWorker(
        bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    with worker, GuardProcess(bootstrap=bootstrap, topic_prefix=topics.prefix) as guard:
        run(produce_raw(bootstrap, topics.usage_enriched, b"k", b'[{"event_id": 1}]'))
        run(produce_enriched(bootstrap, topics.usage_enriched, [enriched("k", "2")]))
        wait_for(lambda: guard.check("k")["allowed"] is False)
        run(delete_policy(bootstrap, topics, "cap-k"))
        wait_for(lambda: guard.check("k")["allowed"])
        letters = run(read_dead_letters(bootstrap, topics.usage_dlq, until=1))
    assert [(d.offset, d.index_in_record, d.error_kind.value) for d in letters] == [
        (0, 0, "schema")
    ]
    assert "event_id" in letters[0].reason
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


def test_a_tag_customer_on_a_shared_key_alerts_but_never_blocks(tansu, topics, tmp_path) -> None:
    bootstrap = tansu.bootstrap
    policy = build_policy(policy_id="tag-c1", scope="tag_customer", subject="cust-0001",
                          limit="5", action="alert")  # fmt: skip
    run(put_policy(bootstrap, topics, policy))
    worker = StreamWorker(
        bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    calls = [enriched("shared", cost).model_copy(update={"customer": "cust-0001"})
             for cost in ("3", "4")]  # fmt: skip
    other = enriched("shared", "50").model_copy(update={"customer": "cust-0002"})
    with worker, GuardProcess(bootstrap=bootstrap, topic_prefix=topics.prefix) as guard:
        run(produce_enriched(bootstrap, topics.usage_enriched, [calls[0], other]))
        run(produce_enriched(bootstrap, topics.usage_enriched, [calls[1]]))
        settled = stream_settled(bootstrap, topics.prefix,
                                 [topics.usage_enriched, topics.budget_deltas])  # fmt: skip
        alerts = run(read_alerts(bootstrap, topics.budget_alerts, until=3, settled=settled))
        assert [(a.subject, a.threshold, a.spend) for a in alerts] == [
            ("cust-0001", 50, Decimal("3")),
            ("cust-0001", 80, Decimal("7")),
            ("cust-0001", 100, Decimal("7")),
        ]
        assert guard.check("shared")["allowed"]
        status = _cli_status(bootstrap, topics.prefix, "cust-0001")
    assert (status["spend"], status["limit"], status["percent"]) == ("7.00", "5.00", "140.00")
    assert (status["state"], status["action"]) == ("exceeded", "alert")
    assert status["last_alert"].startswith("100 % at ") and status["resets_at"]
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


def _cli_status(bootstrap: str, prefix: str, subject: str) -> dict:
    """``meterline budgets status SUBJECT --json`` once the stream's state shows the spend."""
    import json

    from click.testing import CliRunner

    from meterline.cli import cli

    env = {"METERLINE_KAFKA_BOOTSTRAP": bootstrap, "METERLINE_TOPIC_PREFIX": prefix}

    def current() -> dict | None:
        res = CliRunner().invoke(cli, ["budgets", "status", subject, "--json"], env=env)
        assert res.exit_code == 0, res.output
        (row,) = [json.loads(line) for line in res.stdout.splitlines()]
        return row if row["spend"] == "7.00" else None

    return wait_for(current)
