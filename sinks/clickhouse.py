"""The one module that imports ``clickhouse_connect``: opening a client from a URL.

``chdb:///path`` opens the embedded engine (one data directory per process);
``http(s)://user:pass@host:8123/db`` a ClickHouse server.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clickhouse_connect import get_client
from clickhouse_connect.driver.client import Client

__all__ = ["Client", "connect", "embedded_path"]


def embedded_path(url: str) -> Path:
    """The absolute data directory of a ``chdb://DIR`` URL (DIR may be relative to the cwd)."""
    return Path(url[len("chdb://") :]).resolve()


def connect(url: str, settings: Mapping[str, Any] | None = None) -> Client:
    """A clickhouse-connect ``Client`` for ``url``; the chDB backend comes with the ``local``
    extra. A relative ``chdb://DIR`` is resolved against the working directory (the DSN parser
    would otherwise read ``chdb://a/b`` as host ``a``, database ``b``). ``settings`` are the
    session's, applied in order (on chDB each client is an engine handle of its own)."""
    if url.startswith("chdb://"):
        import chdb  # noqa: F401 - registers the chdb:// backend with clickhouse-connect

        path = embedded_path(url)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        url = f"chdb://{path}"
    return get_client(dsn=url, settings=dict(settings) if settings else None)
