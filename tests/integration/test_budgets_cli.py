from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from meterline.cli import cli

pytestmark = pytest.mark.integration


def test_set_list_delete_round_trip(tansu, topics, monkeypatch) -> None:
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["budgets", "set", "--scope", "customer", "--subject", "acme", "--limit", "12.50",
         "--window", "month", "--thresholds", "75", "--action", "alert"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "customer:acme:month" in result.output
    runner.invoke(cli, ["budgets", "set", "--scope", "key", "--subject", "k1", "--limit", "3"])

    listed = runner.invoke(cli, ["budgets", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    policies = {p["policy_id"]: p for p in map(json.loads, listed.output.splitlines())}
    assert set(policies) == {"customer:acme:month", "key:k1:24h"}
    assert policies["customer:acme:month"]["limit"] == "12.50"
    assert policies["customer:acme:month"]["thresholds"] == ["75"]
    assert policies["key:k1:24h"]["action"] == "block"

    deleted = runner.invoke(cli, ["budgets", "delete", "key:k1:24h"])
    assert deleted.exit_code == 0, deleted.output
    listed = runner.invoke(cli, ["budgets", "list"])
    assert "customer:acme:month" in listed.output and "key:k1" not in listed.output

    missing = runner.invoke(cli, ["budgets", "delete", "key:k1:24h"])
    assert missing.exit_code == 1 and "no budget policy" in missing.output


def test_invalid_policy_is_a_usage_error_without_traceback(tansu, topics, monkeypatch) -> None:
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    result = CliRunner().invoke(
        cli, ["budgets", "set", "--scope", "key", "--subject", "k", "--limit", "-1"]
    )
    assert result.exit_code == 2
    assert "limit" in result.output and "Traceback" not in result.output


def test_customer_budgets_follow_the_key_owner_and_tag_budgets_only_alert(
    tansu, topics, monkeypatch
) -> None:
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    runner = CliRunner()
    bound = runner.invoke(cli, ["keys", "bind", "key_3f9a", "--team", "t", "--customer", "acme"])
    assert bound.exit_code == 0, bound.output

    lonely = runner.invoke(
        cli, ["budgets", "set", "--scope", "customer", "--subject", "cust-0001", "--limit", "5"]
    )
    assert lonely.exit_code == 0, lonely.output
    assert "no API key is bound to customer 'cust-0001'" in lonely.output
    assert "meterline keys bind KEY_ID --team TEAM --customer cust-0001" in lonely.output

    acme = runner.invoke(
        cli, ["budgets", "set", "--scope", "customer", "--subject", "acme", "--limit", "50"]
    )
    assert acme.exit_code == 0 and "warning" not in acme.output, acme.output

    refused = runner.invoke(cli, ["budgets", "set", "--scope", "tag_customer", "--subject",
                                  "cust-0001", "--limit", "5", "--action", "block"])  # fmt: skip
    assert refused.exit_code == 2 and "alert-only" in refused.output, refused.output
    tagged = runner.invoke(
        cli, ["budgets", "set", "--scope", "tag_customer", "--subject", "cust-0001", "--limit", "5"]
    )
    assert tagged.exit_code == 0, tagged.output
    assert "tag_customer cust-0001: 5 usd per 24h, alerts at 50,80 %, alert at 100 %" in (
        tagged.output
    )


def test_check_without_a_broker_says_so_with_its_own_exit_status(monkeypatch) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    res = CliRunner().invoke(cli, ["budgets", "check", "key_3f9a"])
    assert res.exit_code == 4, res.output
    assert f"cannot reach the broker at 127.0.0.1:{port}" in res.output
    assert "allowed" not in res.output


def test_list_and_status_show_where_each_budget_stands(tansu, topics, monkeypatch) -> None:
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    runner = CliRunner()
    runner.invoke(cli, ["budgets", "set", "--scope", "key", "--subject", "k1", "--limit", "3"])
    listed = runner.invoke(cli, ["budgets", "list"])
    assert listed.exit_code == 0, listed.output
    header = listed.stdout.splitlines()[0].split()
    assert header == ["policy", "subject", "window", "action", "spend", "limit", "used",
                      "state", "resets_at", "last_alert"]  # fmt: skip
    assert "key:k1:24h" in listed.stdout and "no spend yet" in listed.stdout
    status = runner.invoke(cli, ["budgets", "status", "k1", "--json"])
    row = json.loads(status.stdout)
    assert (row["spend"], row["limit"], row["percent"], row["state"]) == (
        "0.00", "3.00", "0.00", "no spend yet")  # fmt: skip
