"""Issue 10, items 1–4: a query through the sink's endpoint is a guest. It cannot write a
file, read one, reach the network or stop ingestion, and a runaway is cut off by the time
limit while the sink keeps storing rows. Ends with a hypothesis fuzz of hostile SQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterline.bench.data import enriched_events
from meterline.cli import cli
from meterline.kafka_admin import create_topics
from meterline.local.sink import SinkProcess
from schemas.codec import encode_batch
from schemas.topics import Topics
from sinks.errors import QueryError, QueryRefused
from sinks.owner import read_owner

pytestmark = pytest.mark.integration

QUERY_TIMEOUT_S = 6


class Feeder:
    """Publishes a small batch of new enriched events every 50 ms until stopped."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.error: BaseException | None = None

    async def _run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            for seed in itertools.count(1000):
                if self._stop.is_set():
                    return
                events = enriched_events(20, seed=seed)
                await producer.send_and_wait(self.topic, encode_batch(events), key=b"k")
                await asyncio.sleep(0.05)  # pacing: steady ingestion (20 records/s) to disturb
        except BaseException as exc:  # surfaced by the test through .error
            self.error = exc
        finally:
            await producer.stop()

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The sink's working directory: everything here but the data directory must stay as is."""
    return tmp_path_factory.mktemp("guest-cwd")


@pytest.fixture(scope="module")
def sink(tansu, outside) -> Iterator[SinkProcess]:  # type: ignore[no-untyped-def]
    prefix = "guest."
    asyncio.run(create_topics(tansu.bootstrap, Topics(prefix)))
    process = SinkProcess(
        bootstrap=tansu.bootstrap, topic_prefix=prefix, data_dir=outside / "chdb",
        group_id="guest-sink", batch_seconds=0.1, cwd=outside,
        extra_env={"METERLINE_QUERY_TIMEOUT_S": str(QUERY_TIMEOUT_S)},
    )  # fmt: skip
    feeder = Feeder(tansu.bootstrap, f"{prefix}meterline.usage.enriched")
    process.start()
    feeder.start()
    try:
        yield process
    finally:
        feeder.stop()
        process.stop()
    assert feeder.error is None, feeder.error


def stored(sink: SinkProcess) -> int:
    return int(sink.stats()["rows_stored"])


def assert_still_storing(sink: SinkProcess, before: int, timeout: float = 60.0) -> None:
    """Bounded poll: the sink stores more rows than ``before``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if stored(sink) > before:
            return
        time.sleep(0.1)
    pytest.fail(f"rows_stored stuck at {before}; log:\n{sink.log_tail()}")


def files_outside(root: Path) -> set[Path]:
    found: set[Path] = set()
    for folder, dirs, names in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d != "chdb"]  # the data directory may change
        found.update(Path(folder, n) for n in [*dirs, *names])
    return found


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local port nobody should ever connect to."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def assert_never_connected(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        sock.accept()


def hostile_statements(port: int) -> list[str]:
    return [
        # 1. file write
        "SELECT 'a' AS x INTO OUTFILE 'f'",
        "SELECT concat(char(10),'echo x > p',char(10)) AS x INTO OUTFILE 'poc.sh' TRUNCATE",
        # 2. file read and outbound HTTP
        "DESCRIBE file('/etc/passwd','TSVWithNames')",
        f"DESCRIBE url('http://127.0.0.1:{port}/x','JSONEachRow')",
        "SELECT file('/etc/hostname')",
        # 3. an INSERT in a WITH's clothing (poisoned the shared session)
        "WITH 1 AS a INSERT INTO meterline.dead_letters SELECT * FROM meterline.dead_letters"
        " LIMIT 1",
        # 4. no end, and caller settings
        "SELECT count() FROM system.numbers LIMIT 10",
        "SELECT count() FROM meterline.usage_events SETTINGS max_threads = 64",
    ]


@pytest.mark.parametrize("index", range(8))
def test_hostile_statements_are_refused_and_ingestion_goes_on(sink, outside, listener, index):
    sql = hostile_statements(listener.getsockname()[1])[index]
    files = files_outside(outside)
    before = stored(sink)
    with pytest.raises(QueryRefused):
        sink.client.query(sql)
    assert files_outside(outside) == files
    assert_never_connected(listener)
    assert_still_storing(sink, before)
    # A plain query still runs, and the refused one left no trace in the session it used.
    assert sink.query("SELECT getSetting('readonly')").result_rows == [(1,)]


def test_settings_in_the_request_body_are_refused(sink):
    owner = read_owner(sink.data_dir)
    assert owner is not None
    response = httpx.post(
        f"{owner.url}/query",
        json={"sql": "SELECT 1", "settings": {"max_execution_time": 0}},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "refused" and "settings" in response.json()["message"]


def test_a_runaway_query_is_cut_off_while_ingestion_and_other_queries_go_on(sink):
    # Allowed (own tables only) but endless in practice: 10^10 rows to sum.
    runaway = (
        "SELECT sum(x * y) FROM (SELECT arrayJoin(range(100000)) AS x) AS a, "
        "(SELECT arrayJoin(range(100000)) AS y) AS b"
    )
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            sink.client.query(runaway)
        except BaseException as exc:
            outcome["error"] = exc

    before = stored(sink)
    thread = threading.Thread(target=run)
    thread.start()
    try:
        # While it runs: rows keep arriving and another query is answered.
        assert_still_storing(sink, before)
        assert sink.query("SELECT count() > 0 FROM {db}.usage_events").result_rows == [(1,)]
        still_running_then = thread.is_alive()
    finally:
        thread.join(QUERY_TIMEOUT_S * 10)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), QueryError)
    assert "TIMEOUT_EXCEEDED" in str(outcome["error"]) or "Timeout" in str(outcome["error"])
    assert still_running_then, "the runaway ended before the other work was observed"
    assert_still_storing(sink, stored(sink))


def test_meterline_sql_refuses_a_file_write_cleanly(sink, outside, monkeypatch):
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", f"chdb://{sink.data_dir}")
    monkeypatch.chdir(outside)
    result = CliRunner().invoke(cli, ["sql", "SELECT 'a' AS x INTO OUTFILE 'f'"])
    assert result.exit_code == 1
    assert "INTO OUTFILE is not allowed" in result.output and "Traceback" not in result.output
    assert not (outside / "f").exists()


# --- fuzz -------------------------------------------------------------------------------

_PORT = 0  # the listener's port, set by the fuzz test before hypothesis draws

_TABLES = ["meterline.usage_events", "meterline.dead_letters", "system.one", "system.numbers",
           "system.processes", "usage_events", "default.x"]  # fmt: skip
_SOURCES = [
    *_TABLES,
    "file('/etc/passwd', 'TSV')",
    "url('http://127.0.0.1:{port}/', 'JSONEachRow')",
    "numbers(10)",
    "(SELECT * FROM {table})",
    "(SELECT 1 AS x INTO OUTFILE 'nested.txt')",
]
_EXPRESSIONS = ["1", "count()", "file('/etc/hostname')", "sum(cost)", "'=1+1'",
                "(SELECT count() FROM {table})", "1 IN system.processes", "dictGet('d', 'a', 1)",
                "sleep(0.01)", "{p:String}"]  # fmt: skip
_TAILS = ["", " LIMIT 1", " INTO OUTFILE 'out.txt'", " INTO OUTFILE '{outside}/abs.txt' APPEND",
          " SETTINGS readonly = 0", " SETTINGS max_execution_time = 0", " FORMAT CSV", ";",
          "; INSERT INTO meterline.dead_letters SELECT * FROM meterline.dead_letters",
          "; SELECT 1 INTO OUTFILE 'second.txt'", " -- comment", " /* c */"]  # fmt: skip
_PREFIXES = ["", "WITH 1 AS a ", "EXPLAIN ", "EXPLAIN AST ", "DESCRIBE ", "INSERT INTO "
             "meterline.dead_letters ", "/* hi */ ", "\n\t "]  # fmt: skip


@st.composite
def hostile_sql(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(_SOURCES)).replace("{table}", draw(st.sampled_from(_TABLES)))
    expression = draw(st.sampled_from(_EXPRESSIONS)).replace("{table}", "meterline.usage_events")
    sql = (
        draw(st.sampled_from(_PREFIXES))
        + draw(st.sampled_from(["SELECT", "select", "SeLeCt"]))
        + draw(st.sampled_from([" ", "\n", "\t", "  /**/ "]))
        + f"{expression} AS v FROM {source}"
        + draw(st.sampled_from(_TAILS))
    )
    return sql.replace("{port}", str(_PORT))


def test_fuzzed_hostile_sql_writes_nothing_connects_nowhere_and_ingestion_keeps_up(
    sink, outside, listener
):
    global _PORT
    _PORT = listener.getsockname()[1]
    files = files_outside(outside)
    before = stored(sink)
    outcomes: list[str] = []

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(hostile_sql())
    def attack(sql: str) -> None:
        sql = sql.replace("{outside}", str(outside))
        try:
            sink.client.query(sql, {"p": "x"} if "{p:" in sql else None)
            outcomes.append("ran")
        except QueryRefused:
            outcomes.append("refused")
        except QueryError:
            outcomes.append("failed")
        assert files_outside(outside) == files, sql
        assert_never_connected(listener)

    attack()
    assert "refused" in outcomes
    assert sink.running()
    assert_still_storing(sink, before)


def test_the_store_is_the_owners_only(sink):
    """Item 8: no other local user reads the data files without a token."""
    assert_still_storing(sink, 0)
    loose = []
    for folder, dirs, files in os.walk(sink.data_dir):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if not path.is_symlink() and path.exists() and path.stat().st_mode & 0o077:
                loose.append(f"{path} {oct(path.stat().st_mode)}")
    assert sink.data_dir.stat().st_mode & 0o077 == 0
    assert loose == []


def _status_of_headers_only(url: str, headers: str) -> str:
    """Send a POST /query head that announces 200 MB and no body; the status line we get."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            f"POST /query HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 200000000\r\n{headers}\r\n".encode()
        )
        return conn.recv(200).decode(errors="replace").splitlines()[0]


def test_the_query_endpoint_answers_before_reading_a_big_body(sink):
    """Item 6 on the sink's endpoint: no token → 401, too big → 413, without the body."""
    owner = read_owner(sink.data_dir)
    assert owner is not None
    assert " 401 " in _status_of_headers_only(owner.url, "")
    auth = f"Authorization: Bearer {owner.token}\r\n"
    assert " 413 " in _status_of_headers_only(owner.url, auth)
