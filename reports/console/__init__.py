"""The cost console: server-rendered pages for people (overview, customers, features, budgets,
invoices, reconciliation, dead letters) on the report API's app, with sign-in, customer share
links and every asset served locally."""

from reports.console.auth import ConsoleKeys, InvalidCredential, SharedCustomer, parse_duration
from reports.console.live import LiveBudgets, LiveSnapshot
from reports.console.routes import mount_console

__all__ = [
    "ConsoleKeys",
    "InvalidCredential",
    "LiveBudgets",
    "LiveSnapshot",
    "SharedCustomer",
    "mount_console",
    "parse_duration",
]
