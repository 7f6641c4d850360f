"""A broker for a benchmark: the one given, or a private Tansu stopped afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from meterline.local import TansuBroker

__all__ = ["bench_broker"]


@contextlib.contextmanager
def bench_broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with TansuBroker() as broker:
        yield broker.bootstrap
