"""Gateway side: record usage without waiting, spool when the broker is away."""

from producers.batching import BatchRecord, plan_records
from producers.budget_guard import BudgetGuard, GuardDecision
from producers.config import GuardSettings, ProducerSettings
from producers.errors import ProducerError, ProducerNotStarted, SpoolLocked
from producers.events import new_event_id, usage_event
from producers.guard_sync import SyncBudgetGuard
from producers.limits.errors import LimitExceeded
from producers.limits.guard import LimitGuard
from producers.producer import UsageProducer
from producers.spool import Spool
from producers.stats import ProducerStats
from producers.sync import SyncUsageProducer

__all__ = [
    "BatchRecord",
    "BudgetGuard",
    "GuardDecision",
    "GuardSettings",
    "LimitExceeded",
    "LimitGuard",
    "ProducerError",
    "ProducerNotStarted",
    "ProducerSettings",
    "ProducerStats",
    "Spool",
    "SpoolLocked",
    "SyncBudgetGuard",
    "SyncUsageProducer",
    "UsageProducer",
    "new_event_id",
    "plan_records",
    "usage_event",
]
