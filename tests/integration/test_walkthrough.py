"""The README walkthrough, as a user types it: up → bind → budget → simulate → report → invoice
→ reconcile → margin, in the current month, with no hand-made revenue file.

`meterline up` runs as a child process; the commands typed next to it run through the same
`meterline` entry point in this process (an interpreter start per command would double the
test's time), in the same working directory and with the same environment."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from meterline.cli import cli
from meterline.local import ChildProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLANS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "plans.yaml"


def test_the_readme_walkthrough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        **os.environ,
        "METERLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "METERLINE_CLICKHOUSE_URL": f"chdb://{tmp_path / 'chdb'}",
        "METERLINE_STREAM_DATA_DIR": str(tmp_path / "stream"),
        "METERLINE_SPOOL_DIR": str(tmp_path / "spool"),
        "METERLINE_REPORT_API_PORT": str(free_port()),
        "METERLINE_REPORT_API_TOKEN": "t0ken",
    }

    monkeypatch.chdir(tmp_path)
    settings = {k: v for k, v in env.items() if k.startswith("METERLINE_")}

    def meterline(*args: str, ok: bool = True) -> Result:
        done = CliRunner().invoke(cli, list(args), env=settings)
        if ok:
            assert done.exit_code == 0, (args, done.output[-2000:], done.exception)
        return done

    log = tmp_path / "up.log"
    up = ChildProcess(
        [sys.executable, "-m", "meterline", "up", "--plans", str(PLANS)],
        name="meterline up", env=env, cwd=tmp_path, log_path=log,
        ready=lambda _: "meterline is up" in log.read_text(),  # printed once every part serves
        poll_interval=0.2,
    )  # fmt: skip
    try:
        up.start(120)
        assert "meterline is up" in log.read_text(), log.read_text()

        meterline("keys", "bind", "key-cust-0001", "--team", "enterprise", "--customer",
                  "cust-0001")  # fmt: skip
        meterline("budgets", "set", "--scope", "customer", "--subject", "cust-0001", "--limit",
                  "5", "--window", "24h")  # fmt: skip
        meterline("budgets", "set", "--scope", "tag_customer", "--subject", "cust-0002",
                  "--limit", "2")  # fmt: skip
        simulated = meterline("simulate", "--customers", "50", "--rate", "600", "--duration", "5",
                              "--json")  # fmt: skip
        sim = json.loads(simulated.stdout.splitlines()[-1])
        assert sim["delivered"] is True

        def status() -> dict[str, dict]:
            lines = meterline("budgets", "status", "--json").stdout.splitlines()
            return {r["subject"]: r for r in map(json.loads, lines)}

        deadline = time.monotonic() + 120  # the stream may lag on a loaded machine
        while status()["cust-0001"]["state"] != "exceeded" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status()["cust-0001"]["state"] == "exceeded"
        assert status()["cust-0002"]["action"] == "alert"
        # Once the cap is exceeded, the next calls on that key are refused, and only those.
        rerun = meterline("simulate", "--customers", "50", "--rate", "600", "--duration", "1",
                          "--json")  # fmt: skip
        again = json.loads(rerun.stdout.splitlines()[-1])
        assert again["refused_keys"].keys() == {"key-cust-0001"}, again
        recorded = sim["unique_events"] + again["unique_events"]

        # The sink stores what was recorded; then every report reads the current month.
        def stored() -> int:
            data = json.loads(meterline("report", "cost", "--format", "json").stdout)
            return int(data["total"]["requests"])

        deadline = time.monotonic() + 120
        while stored() < recorded and time.monotonic() < deadline:
            time.sleep(0.5)
        assert stored() == recorded
        owners = meterline("report", "cost", "--by", "owner").stdout
        assert "cust-0001" in owners and "(no owner)" in owners  # the other keys are unbound

        invoices = json.loads(meterline("invoice", "--plans", str(PLANS), "--format",
                                        "json").stdout)  # fmt: skip
        month = f"{datetime.now(UTC):%Y%m}"
        assert all(i["number"].startswith(f"INV-{month}-") for i in invoices)
        pro = next(i for i in invoices if i["customer"] == "cust-0001")
        assert pro["lines"][0]["description"] == "monthly plan pro"

        rec = meterline("reconcile")
        assert "RECONCILED" in rec.stdout
        by_day = meterline("report", "cost", "--by", "day,provider,model", "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(by_day.stdout)))
        bill = tmp_path / "bill.csv"

        def write_bill(shift_month: bool = False, extra: str = "0") -> None:
            lines = ["date,provider,model,cost"]
            for r in rows:
                day = r["day"].replace(f"-{month[4:]}-", "-01-") if shift_month else r["day"]
                cost = Decimal(r["cost"]) + Decimal(extra)
                lines.append(f"{day},{r['provider']},{r['model']},{cost}")
            bill.write_text("\n".join(lines) + "\n")

        write_bill()
        assert meterline("reconcile", "--provider-bill", str(bill)).exit_code == 0
        write_bill(shift_month=month[4:] != "01")
        wrong = meterline("reconcile", "--provider-bill", str(bill), ok=False)
        assert wrong.exit_code == 1 and "dated outside" in wrong.stdout
        assert len(rows) >= 2  # several provider × model lines, each 0.004 high
        write_bill(extra="0.004")
        off = meterline("reconcile", "--provider-bill", str(bill), ok=False)
        assert off.exit_code == 1 and "PROBLEM: bill total" in off.stdout

        margin = json.loads(meterline("margin", "--plans", str(PLANS), "--format",
                                      "json").stdout)  # fmt: skip
        revenue = {r["customer"]: r["revenue"] for r in margin["rows"]}
        assert Decimal(revenue["cust-0001"]) >= 500
    finally:
        up.stop(60)
