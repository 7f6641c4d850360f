"""deploy/: the compose file, Kubernetes manifests, Dockerfile and Grafana provisioning are
consistent with the code, and every dashboard panel's SQL runs against the real schema (chDB).
The ``docker`` test starts the compose stack itself where a Docker engine is reachable."""

from __future__ import annotations

import asyncio
import json
import re
import time
import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from meterline.bench.data import enriched_events
from producers.config import GuardSettings, ProducerSettings
from schemas.budgets import BudgetAlert
from schemas.topics import USAGE_ENRICHED, USAGE_RAW
from sinks.buffer import BatchBuffer
from sinks.config import SinkSettings
from sinks.migrations import migrate
from sinks.rows import ALERTS, USAGE, decode_record
from sinks.stats import SinkStats
from sinks.store import ClickHouseStore
from sinks.writer import store_batch
from stream.config import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def _k8s_docs() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _known_settings() -> set[str]:
    fields = set()
    for settings in (SinkSettings, StreamSettings, ProducerSettings, GuardSettings):
        fields |= {f"METERLINE_{name.upper()}" for name in settings.model_fields}
    return fields


def test_compose_runs_every_component_with_health_checks_and_volumes():
    compose = _compose()
    services = compose["services"]
    assert {"kafka", "clickhouse", "init", "stream", "sink", "report-api", "grafana"} <= set(
        services
    )
    for name, service in services.items():
        if name != "init":
            assert "healthcheck" in service, f"{name} has no health check"
    assert "kafka-data" in compose["volumes"] and "clickhouse-data" in compose["volumes"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    sink_env = services["sink"]["environment"]
    assert sink_env["METERLINE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert sink_env["METERLINE_CLICKHOUSE_URL"].startswith("http://")
    for name in ("stream", "sink", "report-api"):
        assert services[name]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully"
        )


def test_every_meterline_variable_in_deploy_is_a_real_setting():
    text = (DEPLOY / "docker-compose.yml").read_text() + "".join(
        p.read_text() for p in (DEPLOY / "k8s").glob("*.yaml")
    )
    used = set(re.findall(r"METERLINE_[A-Z_]+", text))
    # Report API settings live in reports/config.py (another package).
    unknown = {v for v in used - _known_settings() if not v.startswith("METERLINE_REPORT_")}
    assert not unknown, f"deploy/ sets variables no settings class reads: {sorted(unknown)}"


def test_kubernetes_scales_stream_workers_by_partitions():
    docs = _k8s_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "meterline-stream") in kinds
    assert ("Deployment", "meterline-sink") in kinds
    assert ("Job", "meterline-init") in kinds
    [hpa] = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "meterline-stream"
    assert hpa["spec"]["maxReplicas"] == USAGE_RAW.partitions
    [sink] = [d for d in docs if d["metadata"]["name"] == "meterline-sink"]
    assert sink["spec"]["replicas"] <= USAGE_ENRICHED.partitions
    for doc in docs:
        for container in (
            doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            # Meterline's own image everywhere, except the gateways' shared limits store.
            assert container["image"] == "meterline" or (
                doc["metadata"]["name"] == "valkey"
                and container["image"].startswith("valkey/valkey:")
            )
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}


def test_dockerfile_copies_every_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile


def _dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "meterline.json").read_text())


def test_grafana_provisions_the_clickhouse_datasource_the_dashboard_uses():
    datasources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/clickhouse.yml").read_text()
    )["datasources"]
    [ds] = datasources
    assert ds["type"] == "grafana-clickhouse-datasource"
    for panel in _dashboard()["panels"]:
        assert panel["datasource"]["uid"] == ds["uid"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == ds["uid"]


def _runnable(sql: str, db: str) -> str:
    """Grafana's time macro and the production database name, replaced for a test run."""
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        r"\1 >= toDateTime('2000-01-01 00:00:00', 'UTC') AND \1 < toDateTime('2100-01-01 00:00:00', 'UTC')",  # noqa: E501
        sql,
    )
    return sql.replace("meterline.", f"{db}.")


@pytest.mark.integration
def test_every_dashboard_panel_query_runs_on_the_schema(chdb_client, ch_database):
    migrate(chdb_client, ch_database)
    events = enriched_events(2000, seed=31)
    alert = BudgetAlert(
        alert_id="al-9", policy_id="p-9", scope="customer", subject="cust-1",
        threshold=Decimal(50), spend=Decimal("5.5"), limit=Decimal(10), unit="usd",
        window="month", window_start=NOW, action="alert", event_id=events[0].event_id,
        occurred_at=NOW, emitted_at=NOW,
    )  # fmt: skip
    buffer = BatchBuffer(10**9, 60)
    from schemas.codec import encode_batch

    usage = decode_record(USAGE, "e", 0, 0, encode_batch(events), NOW)
    alerts = decode_record(ALERTS, "a", 0, 0, encode_batch([alert]), NOW)
    buffer.add("e", 0, 0, 0.0, usage=usage.items)
    buffer.add("a", 0, 0, 0.0, alerts=alerts.items)
    bad = decode_record(USAGE, "e", 1, 0, b"not json", NOW)
    buffer.add("e", 1, 0, 0.0, dead_letters=bad.dead_letters)
    store_batch(ClickHouseStore(chdb_client, ch_database), buffer.drain(), NOW, SinkStats(0))

    total = sum(e.cost for e in events)
    results = {}
    for panel in _dashboard()["panels"]:
        [target] = panel["targets"]
        result = chdb_client.query(_runnable(target["rawSql"], ch_database))
        assert result.result_rows, panel["title"]
        results[panel["title"]] = result
    by_customer = results["Cost per customer over time"]
    assert (
        sum(r[by_customer.column_names.index("cost_usd")] for r in by_customer.result_rows) == total
    )
    customers = {e.customer for e in events}
    top = results["Top customers by cost"].result_rows
    assert len(top) == min(10, len(customers)) and sum(r[1] for r in top) == total
    features = results["Cost vs usage per feature"].result_rows
    assert sum(r[1] for r in features) == total
    assert sum(r[2] for r in features) == len(events)
    assert results["Budget alerts"].result_rows[0][2] == "cust-1"
    assert results["Dead letters by kind"].result_rows[0][:2] == ("decode", 1)


@pytest.fixture
def docker_engine():
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(f"no Docker engine reachable here ({type(exc).__name__}); "
                    "every behaviour is also covered on Tansu + chDB")  # fmt: skip


@pytest.mark.docker
@pytest.mark.integration
def test_compose_stack_end_to_end(docker_engine):
    """Apache Kafka, ClickHouse server, stream worker, sink and report API from
    deploy/docker-compose.yml: raw events in, usage_events and the rollup agree."""
    from testcontainers.compose import DockerCompose

    from meterline.kafka_records import produce_records
    from producers.events import usage_event
    from sinks.clickhouse import connect

    env_file = DEPLOY / ".env.example"
    env = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    stack = DockerCompose(
        str(DEPLOY), compose_file_name="docker-compose.yml", build=True, wait=True,
        env_file=str(env_file),
    )  # fmt: skip
    with stack:
        from schemas.codec import encode_batch

        events = [
            usage_event(api_key_id=f"key-{i % 5}", provider="openai", model="gpt-4o-mini",
                        customer=f"cust-{i % 3}", feature="chat", input_tokens=100 + i,
                        output_tokens=20, gateway="compose-test")
            for i in range(500)
        ]  # fmt: skip
        records = [(e.api_key_id.encode(), encode_batch([e])) for e in events]
        asyncio.run(
            produce_records("localhost:9094", "meterline.usage.raw", records, compression="gzip")
        )
        client = connect(
            f"http://{env['CLICKHOUSE_USER']}:{env['CLICKHOUSE_PASSWORD']}@localhost:8123"
        )
        deadline = time.monotonic() + 180
        count = 0
        while time.monotonic() < deadline and count < len(events):
            count = client.query("SELECT count() FROM meterline.usage_events FINAL").result_rows[0][
                0
            ]
            time.sleep(1)
        assert count == len(events)
        base = client.query("SELECT sum(cost) FROM meterline.usage_events FINAL").result_rows
        rollup = client.query(
            "SELECT sum(cost), sum(requests) FROM meterline.usage_daily"
        ).result_rows
        assert rollup == [(base[0][0], len(events))]
        for panel in _dashboard()["panels"]:
            client.query(_runnable(panel["targets"][0]["rawSql"], "meterline"))
