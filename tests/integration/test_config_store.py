"""The sink records every configuration change; `meterline config restore|export|import` bring
it back to a new Kafka and move it between installs."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner

from meterline.budget_admin import build_policy, list_policies, put_policy
from meterline.cli import cli
from meterline.kafka_admin import create_topics
from meterline.key_bindings import bind_key, list_bindings, make_binding, unbind_key
from meterline.local.sink import SinkProcess
from schemas.codec import encode_one
from schemas.topics import Topics
from tests.integration.budget_helpers import wait_for

pytestmark = pytest.mark.integration


def now() -> datetime:
    return datetime.now(UTC)


async def plain_kafka_binding(bootstrap: str, topic: str, key: str) -> None:
    """A binding written by some other Kafka client: no Meterline headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        value = encode_one(make_binding(key, "ops", "", now()))
        await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


def restore_in_a_process(env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """`meterline config restore` in its own process: with no sink running it opens the chDB
    directory itself, and a process can hold only one (the test session may hold another)."""
    return subprocess.run(
        [sys.executable, "-m", "meterline", "config", "restore"],
        env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_history_restore_to_a_new_cluster_export_and_import(tansu, topics, tmp_path) -> None:
    bootstrap = tansu.bootstrap
    env = {
        "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
        "METERLINE_TOPIC_PREFIX": topics.prefix,
        "METERLINE_CLICKHOUSE_URL": f"chdb://{tmp_path / 'chdb'}",
    }
    runner = CliRunner()
    sink = SinkProcess(bootstrap=bootstrap, topic_prefix=topics.prefix,
                       data_dir=tmp_path / "chdb", batch_seconds=0.2).start()  # fmt: skip
    try:
        asyncio.run(bind_key(bootstrap, topics.keys, make_binding("k1", "t1", "acme", now()),
                             actor="user:ana"))  # fmt: skip
        asyncio.run(bind_key(bootstrap, topics.keys, make_binding("k1", "t2", "acme", now()),
                             actor="user:bo"))  # fmt: skip
        asyncio.run(unbind_key(bootstrap, topics.keys, "k1", actor="user:ana"))
        asyncio.run(bind_key(bootstrap, topics.keys, make_binding("k2", "t1", "acme", now())))
        asyncio.run(plain_kafka_binding(bootstrap, topics.keys, "k3"))
        policy = build_policy(policy_id="p1", scope="customer", subject="acme", limit="10")
        asyncio.run(put_policy(bootstrap, topics, policy, actor="token:ci"))
        wait_for(lambda: sink.query("SELECT count() FROM {db}.config_history").first_item
                 == {"count()": 6})  # fmt: skip

        history = runner.invoke(cli, ["keys", "history", "k1", "--json"], env=env)
        assert history.exit_code == 0, history.output
        changes = [json.loads(line) for line in history.stdout.splitlines()]
        assert [(c["version"], c["op"], c["actor"]) for c in changes] == [
            (1, "set", "user:ana"), (2, "set", "user:bo"), (3, "delete", "user:ana"),
        ]  # fmt: skip
        assert changes[1]["old"]["team_id"] == "t1" and changes[1]["new"]["team_id"] == "t2"
        assert changes[0]["changed_at"] <= changes[1]["changed_at"] <= changes[2]["changed_at"]
        assert f"user:{getpass.getuser()}" in runner.invoke(cli, ["keys", "history", "k2"],
                                                            env=env).stdout  # fmt: skip
        assert "kafka" in runner.invoke(cli, ["keys", "history", "k3"], env=env).stdout
        assert runner.invoke(cli, ["keys", "history", "nope"], env=env).exit_code == 1

        # A new, empty cluster (a new topic prefix): restore by hand, then the sink of the new
        # cluster sees only changes it already holds, so the history does not grow.
        sink.stop()
        fresh = Topics(f"t{uuid.uuid4().hex[:10]}.")
        asyncio.run(create_topics(bootstrap, fresh))
        env["METERLINE_TOPIC_PREFIX"] = fresh.prefix
        restored = restore_in_a_process(env, tmp_path)  # no sink runs: it opens the store
        assert restored.returncode == 0, restored.stderr
        assert "keys: 2 in the store, 2 republished" in restored.stdout, restored.stdout
        assert "budgets: 1 in the store, 1 republished" in restored.stdout
        assert [b.api_key_id for b in asyncio.run(list_bindings(bootstrap, fresh.keys))] == [
            "k2", "k3"
        ]  # fmt: skip
        assert [p.policy_id for p in asyncio.run(list_policies(bootstrap, fresh))] == ["p1"]
        again = restore_in_a_process(env, tmp_path)
        assert "keys: 2 in the store, 0 republished" in again.stdout, again.stdout

        sink = SinkProcess(bootstrap=bootstrap, topic_prefix=fresh.prefix,
                           data_dir=tmp_path / "chdb", batch_seconds=0.2).start()  # fmt: skip
        exported = tmp_path / "config.yaml"
        assert runner.invoke(cli, ["config", "export", str(exported)], env=env).exit_code == 0
        doc = yaml.safe_load(exported.read_text())
        assert [k["api_key_id"] for k in doc["keys"]] == ["k2", "k3"]
        doc["budgets"][0]["limit"] = "12.5"
        exported.write_text(yaml.safe_dump(doc))
        dry = runner.invoke(cli, ["config", "import", "--dry-run", str(exported)], env=env)
        assert "budgets: 1 in file, 1 would change" in dry.output, dry.output
        imported = runner.invoke(cli, ["config", "import", str(exported)], env=env)
        assert "keys: 2 in file, 0 changed" in imported.output, imported.output
        assert "budgets: 1 in file, 1 changed" in imported.output
        wait_for(lambda: sink.query("SELECT count() FROM {db}.config_history").first_item
                 == {"count()": 7})  # fmt: skip
        lines = runner.invoke(cli, ["budgets", "history", "p1"], env=env).stdout.splitlines()
        assert len(lines) == 2 and "token:ci" in lines[0], lines
        assert "import" in lines[1] and "limit: '10' → '12.5'" in lines[1]
    finally:
        sink.stop()
