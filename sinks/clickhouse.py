"""The one module that imports ``clickhouse_connect``: opening a client from a URL.

``chdb:///path`` opens the embedded engine (one data directory per process);
``http(s)://user:pass@host:8123/db`` a ClickHouse server.
"""

from __future__ import annotations

from clickhouse_connect import get_client
from clickhouse_connect.driver.client import Client

__all__ = ["Client", "connect"]


def connect(url: str) -> Client:
    """A clickhouse-connect ``Client`` for ``url``; the chDB backend comes with the ``local``
    extra."""
    if url.startswith("chdb://"):
        import chdb  # noqa: F401 - registers the chdb:// backend with clickhouse-connect
    return get_client(dsn=url)
