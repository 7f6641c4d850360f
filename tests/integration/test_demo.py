"""`meterline demo --json`: the whole story on a fresh local stack, checked from its output."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_tells_the_whole_story(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meterline", "demo", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    story = json.loads(done.stdout.strip().splitlines()[-1])

    costs = [Decimal(c["cost"]) for c in story["customers"]]
    assert sum(costs) == Decimal(story["total_cost"]) > 0
    assert {"acme", "globex", "unattributed"} <= {c["customer"] for c in story["customers"]}
    assert story["events_stored"] > 0 and story["dead_letters"] == 3

    acme = [a for a in story["alerts"] if a["subject"] == "acme"]
    assert [Decimal(a["threshold"]) for a in acme] == [50, 80, 100]
    assert story["refused_by_budget"] > 0, "the gateway should refuse acme once it is over budget"

    assert story["reconciled"] is True, story["reconciliation_problems"]
    margins = {m["customer"]: m for m in story["margins"]}
    assert margins["globex"]["status"] == "unprofitable"
    assert Decimal(margins["acme"]["margin"]) > 0
    invoiced = {i["customer"]: i for i in story["invoices"]}
    assert invoiced["acme"]["plan"] == "enterprise"
    assert invoiced["unattributed"]["plan"] is None
    assert (tmp_path / ".meterline/demo/invoices/acme.json").exists()
