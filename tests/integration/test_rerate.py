"""Re-rating on real chDB: a backdated discount, provider cost kept, unpriced events priced,
idempotency, the books as of a time, rollup equal to the base table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from meterline.cli import cli
from meterline.commands._reports import CLIENT_KEY
from reports.cost import cost_report
from reports.periods import date_range, month_period
from reports.rerate import RerateScope, apply_rerate, preview_rerate
from reports.rerate_math import price_rows, rerate_id
from schemas.usage import TokenCounts
from sinks.migrations import migrate
from stream.price_file import build_price_book, parse_price_text, price_file_label
from stream.pricing import decide_cost
from tests.integration._reports_data import insert, nov, row

PRICES = """
prices:
  - {provider: openai, model: gpt-4o, effective_from: 2025-01-01, input: "2.50", output: "10.00"}
  - provider: openai
    model: GPT-4o
    effective_from: 2026-11-10
    input: "2.50"
    output: "10.00"
    cache_read: "1.25"
    discount_percent: "12.5"
  - {provider: acme-ai, model: mystery, effective_from: 2026-01-01, input: "0.3", output: "0.7"}
"""

_TOKENS = (1000, 500, 300, 0, 100)  # input, output, cache_read, cache_write, reasoning
# 1000·2.5 + 300·2.5 + 500·10 = 8250 per million at the old price
_OLD = "0.00825"


def _events() -> list[list[Any]]:
    return [
        row("a1", nov(3), "acme", _OLD, tokens=_TOKENS),
        row("a2", nov(12), "acme", _OLD, tokens=_TOKENS),
        row("a3", nov(20, 23, 59, 59, 999), "acme", _OLD, tokens=_TOKENS),
        row("b1", nov(15), "beta", "0.02", computed_cost=_OLD, cost_source="provider",
            provider_cost="0.02", tokens=_TOKENS),
        row("b2", nov(16), "beta", "0", model="mystery", provider="acme-ai",
            cost_source="unpriced", computed_cost="0", tokens=(7, 3, 0, 0, 0),
            flags=("unpriced_model",)),
        row("b3", nov(17), "beta", "0.5", model="gpt-4o-mini", tokens=_TOKENS),
        row("z1", datetime(2026, 12, 1, tzinfo=UTC), "acme", _OLD, tokens=_TOKENS),
    ]  # fmt: skip


@pytest.fixture
def store(chdb_client, ch_database) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    migrate(chdb_client, ch_database)
    insert(chdb_client, ch_database, _events())
    return chdb_client, ch_database


def _prices(tmp_path: Path) -> Path:
    path = tmp_path / "corrected.yaml"
    path.write_text(PRICES)
    return path


def _apply(store: tuple[Any, str], at: datetime | None = None, **scope: Any) -> int:
    client, db = store
    rows = price_rows(parse_price_text(PRICES, "corrected.yaml"),
                      price_file_label("corrected.yaml", PRICES))  # fmt: skip
    at = at or datetime.now(UTC).replace(microsecond=0)
    full = RerateScope(month_period("2026-11"), **scope)
    return apply_rerate(client, db, full, rows, rerate_id("x", at), at).events


def _costs(store: tuple[Any, str]) -> dict[str, Decimal]:
    client, db = store
    result = client.query(f"SELECT event_id, cost FROM {db}.usage_events FINAL")
    return {r[0]: r[1] for r in result.result_rows}


def _expected(event: list[Any], tmp_path: Path) -> Decimal:
    """The stream's own rule (PriceBook + decide_cost) on the corrected file."""
    from sinks.ddl import USAGE_EVENT_COLUMNS as cols

    book = build_price_book(_prices(tmp_path), with_genai_prices=False)
    v = dict(zip(cols, event, strict=True))
    tokens = TokenCounts(input=v["input_tokens"], output=v["output_tokens"],
                         cache_read=v["cache_read_tokens"], cache_write=v["cache_write_tokens"],
                         reasoning=v["reasoning_tokens"])  # fmt: skip
    price = book.lookup(v["provider"], v["model"], v["occurred_at"])
    return decide_cost(price, tokens, None, Decimal(1)).cost


def _rollup_equals_base(store: tuple[Any, str]) -> None:
    client, db = store
    base = client.query(
        f"SELECT toDate(occurred_at) AS d, customer, model, sum(cost), sum(computed_cost), "
        f"count() FROM {db}.usage_events FINAL GROUP BY d, customer, model "
        "ORDER BY d, customer, model"
    ).result_rows
    rollup = client.query(
        f"SELECT day, customer, model, sum(cost), sum(computed_cost), sum(requests) "
        f"FROM {db}.usage_daily GROUP BY day, customer, model HAVING sum(requests) > 0 "
        "ORDER BY day, customer, model"
    ).result_rows
    assert [tuple(r) for r in rollup] == [tuple(r) for r in base]


def test_backdated_discount_reprices_only_from_its_date_and_matches_the_stream(
    store: tuple[Any, str], tmp_path: Path
) -> None:
    assert _apply(store) == 3
    costs = _costs(store)
    events = {e[0]: e for e in _events()}
    assert costs["a1"] == Decimal(_OLD)  # before the discount's date: same price, no new rating
    # 12.5 % off, cache_read now 1.25: (2500 + 375 + 5000) · 0.875 / 1e6
    assert costs["a2"] == costs["a3"] == Decimal("0.006890625") == _expected(events["a2"], tmp_path)
    assert costs["b1"] == Decimal("0.02")  # provider-settled: kept
    assert costs["b2"] == Decimal("0.0000042") == _expected(events["b2"], tmp_path)  # priced now
    assert costs["b3"] == Decimal("0.5")  # model not in the file
    assert costs["z1"] == Decimal(_OLD)  # outside the range
    client, db = store
    b2 = client.query(
        f"SELECT cost_source, flags, rating_version, price_ref FROM {db}.usage_events FINAL "
        "WHERE event_id = 'b2'"
    ).first_row
    assert b2[:3] == ("price_book", [], 1)
    assert b2[3].startswith("file:corrected.yaml#sha256=")
    assert b2[3].endswith(":acme-ai/mystery@2026-01-01")
    _rollup_equals_base(store)
    report = cost_report(client, db, month_period("2026-11"))
    assert (
        sum(g.cost for g in report.groups)
        == report.total.cost
        == sum(v for k, v in costs.items() if k != "z1")
    )


def test_second_identical_run_changes_nothing(store: tuple[Any, str]) -> None:
    assert _apply(store) == 3
    client, db = store
    first = _costs(store)
    ratings = client.query(f"SELECT count() FROM {db}.usage_ratings").first_row[0]
    assert _apply(store) == 0
    assert _costs(store) == first
    assert client.query(f"SELECT count() FROM {db}.usage_ratings").first_row[0] == ratings
    _rollup_equals_base(store)


def test_provider_cost_events_rerated_only_when_asked(store: tuple[Any, str]) -> None:
    assert _apply(store, customer="beta", include_provider_cost=True) == 2
    costs = _costs(store)
    assert costs["b1"] == Decimal("0.006890625")
    assert costs["a2"] == Decimal(_OLD)  # other customers untouched
    _rollup_equals_base(store)


def test_as_of_shows_the_books_as_they_were(store: tuple[Any, str]) -> None:
    client, db = store
    period = month_period("2026-11")
    before = cost_report(client, db, period)
    rated_at = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    assert _apply(store, at=rated_at) == 3
    after = cost_report(client, db, period)
    assert after.total.cost != before.total.cost
    then = cost_report(client, db, period, as_of=rated_at - timedelta(milliseconds=1))
    assert then.total == before.total and then.groups == before.groups
    assert cost_report(client, db, period, as_of=rated_at) == after
    # before the events were enriched (2026-12-01 01:00) the books were empty
    assert cost_report(client, db, period, as_of=datetime(2026, 12, 1, tzinfo=UTC)).groups == ()


def test_dry_run_prints_the_change_and_writes_nothing(
    store: tuple[Any, str], tmp_path: Path
) -> None:
    client, db = store
    run = CliRunner().invoke(
        cli,
        ["rerate", "--from", "2026-11-01", "--to", "2026-11-30", "--prices",
         str(_prices(tmp_path)), "--dry-run", "--format", "json"],
        obj={CLIENT_KEY: store},
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    lines = json.loads(run.output)["lines"]
    assert lines == [
        {"customer": "acme", "model": "gpt-4o", "old_cost": "0.016500000000",
         "new_cost": "0.013781250000", "difference": "-0.002718750000", "events": 2},
        {"customer": "beta", "model": "mystery", "old_cost": "0E-12",
         "new_cost": "0.000004200000", "difference": "0.000004200000", "events": 1},
    ]  # fmt: skip
    assert client.query(f"SELECT count() FROM {db}.usage_ratings").first_row[0] == 0
    table = CliRunner().invoke(
        cli,
        ["rerate", "--from", "2026-11-01", "--to", "2026-11-30", "--prices",
         str(_prices(tmp_path)), "--dry-run"],
        obj={CLIENT_KEY: store},
    )  # fmt: skip
    assert "acme" in table.output and "-0.00" in table.output


def test_preview_scope_filters_by_day_and_model(store: tuple[Any, str]) -> None:
    client, db = store
    rows = price_rows(parse_price_text(PRICES, "p.yaml"), price_file_label("p.yaml", PRICES))
    scope = RerateScope(date_range(nov(12).date(), nov(12).date()), model="GPT-4O")
    (line,) = preview_rerate(client, db, scope, rows)
    assert (line.customer, line.events) == ("acme", 1)


def test_cli_rerates_and_report_cost_as_of_shows_the_old_total(
    store: tuple[Any, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    report = ["report", "cost", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"]
    old = json.loads(runner.invoke(cli, report, obj={CLIENT_KEY: store}).output)["total"]["cost"]
    args = ["rerate", "--from", "2026-11-01", "--to", "2026-11-30",
            "--prices", str(_prices(tmp_path))]  # fmt: skip
    run = runner.invoke(cli, args, obj={CLIENT_KEY: store})
    assert run.exit_code == 0, run.output
    assert "3 events re-rated as rr-" in run.output
    again = runner.invoke(cli, args, obj={CLIENT_KEY: store})
    assert "0 events re-rated" in again.output
    new = json.loads(runner.invoke(cli, report, obj={CLIENT_KEY: store}).output)["total"]["cost"]
    assert Decimal(new) - Decimal(old) == Decimal("-0.002718750000") + Decimal("0.0000042")
    as_of = runner.invoke(cli, [*report, "--as-of", "2026-12-01 12:00:00"],
                          obj={CLIENT_KEY: store})  # fmt: skip
    assert json.loads(as_of.output)["total"]["cost"] == old


def test_preview_and_as_of_run_as_a_guest(store: tuple[Any, str], chdb_url: str) -> None:
    """The dry run and --as-of read through the guest path (a running sink's endpoint)."""
    from sinks.config import QueryLimits
    from sinks.readonly import ReadOnlyClient

    client, db = store
    guest = ReadOnlyClient(chdb_url, db, QueryLimits())
    rows = price_rows(parse_price_text(PRICES, "p.yaml"), price_file_label("p.yaml", PRICES))
    lines = preview_rerate(guest, db, RerateScope(month_period("2026-11")), rows)
    assert [(x.customer, x.events) for x in lines] == [("acme", 2), ("beta", 1)]
    as_of = cost_report(guest, db, month_period("2026-11"), as_of=datetime.now(UTC))
    assert as_of == cost_report(client, db, month_period("2026-11"))


PLANS = """
plans:
  payg: {kind: markup, markup_percent: 20}
  pro: {kind: flat, monthly_fee: 100, included_cost: 3, overage_markup_percent: 50}
customers: {acme: payg, beta: pro}
"""


def test_invoiced_period_shows_adjustment_lines_and_reconcile_explains(
    store: tuple[Any, str], tmp_path: Path
) -> None:
    client, db = store
    # 4M input + 1M output tokens of gpt-4o on the 12th: 20.00 before, 17.50 after the discount
    big = row("big", nov(12, 8), "acme", "20", tokens=(4_000_000, 1_000_000, 0, 0, 0))
    insert(client, db, [big])
    plans = tmp_path / "plans.yaml"
    plans.write_text(PLANS)
    runner = CliRunner()

    def invoices(*extra: str) -> dict[str, Any]:
        run = runner.invoke(cli, ["invoice", "--period", "2026-11", "--plans", str(plans),
                                  "--view", "internal", "--format", "json", *extra],
                            obj={CLIENT_KEY: store})  # fmt: skip
        assert run.exit_code == 0, run.output
        return {i["customer"]: i for i in json.loads(run.output)}

    issued = invoices()
    rerate = runner.invoke(
        cli, ["rerate", "--from", "2026-11-01", "--to", "2026-11-30", "--prices",
              str(_prices(tmp_path))], obj={CLIENT_KEY: store},
    )  # fmt: skip
    assert rerate.exit_code == 0, rerate.output
    now = invoices()
    folded = invoices("--invoiced-at", "2100-01-01")  # every re-rate before the invoice
    acme = now["acme"]
    adjustments = [x for x in acme["lines"] if x["kind"] == "adjustment"]
    assert acme["lines"][: len(issued["acme"]["lines"])] == issued["acme"]["lines"]
    (adjustment,) = adjustments
    assert adjustment["description"].startswith("credit: re-rate rr-")
    # usage at cost 20.02475 → 17.52203125 (20.02 → 17.52) and the 20 % markup 4.00 → 3.50
    assert Decimal(adjustment["amount"]) == Decimal("-3.00")
    assert Decimal(acme["total"]) == Decimal(folded["acme"]["total"])
    assert Decimal(acme["total"]) - Decimal(issued["acme"]["total"]) == Decimal("-3.00")
    assert "adjustment" not in {x["kind"] for x in folded["acme"]["lines"]}
    beta = [x for x in now["beta"]["lines"] if x["kind"] == "adjustment"]
    assert [Decimal(x["amount"]) for x in beta] == [Decimal("0.00")]  # flat fee: cost moved only
    assert now["beta"]["total"] == issued["beta"]["total"]

    rec = runner.invoke(cli, ["reconcile", "--period", "2026-11"], obj={CLIENT_KEY: store})
    assert rec.exit_code == 0, rec.output
    assert "RECONCILED" in rec.output and "NOT RECONCILED" not in rec.output
    assert "re-rated: total before re-rates 20.5" in rec.output
    as_json = runner.invoke(cli, ["reconcile", "--period", "2026-11", "--format", "json"],
                            obj={CLIENT_KEY: store})  # fmt: skip
    explained = json.loads(as_json.output)["rerates"]
    assert (
        Decimal(explained["current_total"]) - Decimal(explained["original_total"])
        == sum(Decimal(c["difference"]) for c in explained["by_day_model"])
        == Decimal("-2.5") - Decimal("0.002718750000") + Decimal("0.0000042")
    )
    assert [(c["day"], c["model"], c["events"]) for c in explained["by_day_model"]] == [
        ("2026-11-12", "gpt-4o", 2), ("2026-11-16", "mystery", 1), ("2026-11-20", "gpt-4o", 1),
    ]  # fmt: skip


def _table_counts(client: Any, db: str) -> dict[str, int]:
    found = client.query(
        "SELECT name, total_rows FROM system.tables WHERE database = {db:String} "
        "AND total_rows IS NOT NULL", parameters={"db": db},
    ).result_rows  # fmt: skip
    return dict(found)


def test_whatif_compares_plans_and_prices_and_writes_nothing(
    store: tuple[Any, str], tmp_path: Path
) -> None:
    client, db = store
    big = row("big", nov(12, 8), "acme", "20", tokens=(4_000_000, 1_000_000, 0, 0, 0))
    insert(client, db, [big])
    current, alternative = tmp_path / "plans.yaml", tmp_path / "b.yaml"
    current.write_text(PLANS)
    alternative.write_text(PLANS.replace("markup_percent: 20", "markup_percent: 30"))
    before = _table_counts(client, db)
    run = CliRunner().invoke(
        cli, ["whatif", "--period", "2026-11", "--plans", str(alternative), "--current-plans",
              str(current), "--prices", str(_prices(tmp_path)), "--format", "json"],
        obj={CLIENT_KEY: store},
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert _table_counts(client, db) == before
    rows = json.loads(run.output)["customers"]
    assert [r["customer"] for r in rows] == ["acme", "beta"]  # biggest margin change first
    acme = rows[0]
    assert (acme["invoice"], acme["whatif_invoice"]) == ("24.02", "22.78")
    assert (acme["cost"], acme["whatif_cost"]) == ("20.024750000000", "17.522031250000")
    assert Decimal(acme["margin_change"]) == Decimal("5.25796875") - Decimal("3.99525")
    beta = rows[1]  # flat plan: same bill, the mystery model now costs something
    assert beta["invoice_change"] == "0.00" and Decimal(beta["whatif_cost"]) > Decimal(beta["cost"])
    table = CliRunner().invoke(
        cli, ["whatif", "--period", "2026-11", "--plans", str(alternative)],
        obj={CLIENT_KEY: store},
    )  # fmt: skip
    assert table.exit_code == 0 and "acme" in table.output


def test_rerate_refuses_while_a_sink_owns_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes go through the owner path: with a live owner of the chDB directory, the re-rate
    asks to stop it instead of opening the store beside it."""
    import os

    from sinks.owner import OwnerInfo, write_owner

    data_dir = tmp_path / "chdb"
    write_owner(data_dir, OwnerInfo(pid=os.getpid(), url="http://127.0.0.1:9", token="t"))
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", f"chdb://{data_dir}")
    run = CliRunner().invoke(
        cli, ["rerate", "--from", "2026-11-01", "--to", "2026-11-30", "--prices",
              str(_prices(tmp_path))],
    )  # fmt: skip
    assert run.exit_code == 1
    assert f"the sink (pid {os.getpid()}) owns {data_dir}; stop it to re-rate" in run.output


def test_two_rerates_keep_every_version_and_as_of_finds_each(store: tuple[Any, str]) -> None:
    client, db = store
    period = month_period("2026-11")
    original = cost_report(client, db, period)
    first, second = datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 12, 6, tzinfo=UTC)
    assert _apply(store, at=first) == 3
    after_first = cost_report(client, db, period)
    deeper = PRICES.replace('discount_percent: "12.5"', 'discount_percent: "20"')
    rows = price_rows(parse_price_text(deeper, "d.yaml"), price_file_label("d.yaml", deeper))
    scope = RerateScope(period)
    assert apply_rerate(client, db, scope, rows, rerate_id("d", second), second).events == 2
    versions = client.query(
        f"SELECT version, old_cost, cost FROM {db}.usage_ratings WHERE event_id = 'a2' "
        "ORDER BY version"
    ).result_rows
    assert versions == [(1, Decimal(_OLD), Decimal("0.006890625")),
                        (2, Decimal("0.006890625"), Decimal("0.0063"))]  # fmt: skip
    assert cost_report(client, db, period, as_of=first - timedelta(seconds=1)) == original
    assert cost_report(client, db, period, as_of=first) == after_first
    assert cost_report(client, db, period, as_of=second) == cost_report(client, db, period)
    _rollup_equals_base(store)
