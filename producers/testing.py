"""Test helpers shipped with the producers: a ``BudgetGuard`` in its own process.

``python -m producers.testing`` starts a ``SyncBudgetGuard`` from ``METERLINE_*`` settings,
prints ``ready``, then answers each api_key_id read on stdin with one JSON decision line, until
stdin closes. (The tests drive it with ``tests/integration/guard_process.py``.)
"""

from __future__ import annotations

import json
import sys

__all__ = ["main"]


def main() -> None:
    from producers.guard_sync import SyncBudgetGuard

    with SyncBudgetGuard() as guard:
        print("ready", flush=True)
        for line in sys.stdin:
            decision = guard.check(line.strip())
            print(
                json.dumps(
                    {
                        "allowed": decision.allowed,
                        "reason": decision.reason,
                        "policy_id": decision.policy_id,
                        "available": guard.available,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
