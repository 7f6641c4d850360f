"""Rewind stream partitions that have no committed offset, on every rebalance.

Faust resumes each stream partition after a rebalance at its committed offset
(``Consumer.perform_seek``, which calls aiokafka's ``seek_to_committed``). aiokafka seeks only
the partitions that have a committed offset above 0. Records a worker fetched for a newly
assigned partition while the rebalance was still settling are dropped by Faust; a partition
with a commit is sought back and reads them again, a partition without one (its previous owner
died before its first commit) stays past them and they are never processed. Measured on the
scale-out test (4 workers, 8 partitions, one SIGKILLed): whole raw partitions were skipped,
500-2,600 events lost, in most runs.

``on_rebalance_complete`` fires after table recovery and before Faust resumes and seeks the
stream partitions, so seeking the uncommitted ones to their first offset there gives them what
``consumer_auto_offset_reset="earliest"`` promises. Reading records again is what Faust does
after every rebalance from a committed offset, and the agents are built for it (output marks and
the dedupe table in ``stream.agents``, applied offsets in ``stream.budget_agents``).
:class:`SourcePositions` also records where every source partition resumed, so the agents can
check with :class:`stream.continuity.Continuity` that they then see every offset in order, and
seek back when Faust skipped one. Only public Faust consumer methods are used.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, cast

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import Consumer

from stream.continuity import Continuity, Verdict

__all__ = ["SourcePositions", "uncommitted_partitions"]

log = logging.getLogger(__name__)


def uncommitted_partitions(
    committed: Mapping[Any, int | None], topics: Collection[str]
) -> list[Any]:
    """The partitions of ``topics`` that ``seek_to_committed`` leaves where they are: no
    committed offset, or 0 (which aiokafka does not seek to either)."""
    return sorted(
        (tp for tp, offset in committed.items() if tp.topic in topics and not offset),
        key=lambda tp: (tp.topic, tp.partition),
    )


class SourcePositions:
    """Where each partition of the agents' source ``topics`` resumed after the last rebalance,
    and the in-order check the agents run on every record (:meth:`admit`)."""

    def __init__(self, app: faust.App, topics: Collection[str]) -> None:
        self.app = app
        self.topics = frozenset(topics)
        self.continuity = Continuity()
        # mode's signal types do not describe handlers with named keyword arguments.
        app.on_rebalance_complete.connect(cast(Any, self._on_rebalance_complete))
        app.on_partitions_revoked.connect(cast(Any, self._on_revoked))
        app.timer(interval=1.0)(self.refill_holes)

    @property
    def _consumer(self) -> Consumer:
        return cast(Consumer, self.app.consumer)

    async def _on_rebalance_complete(self, sender: Any, **kwargs: Any) -> None:
        app, consumer = self.app, self._consumer
        rebalance = app.rebalancing_count
        committed = await consumer.seek_to_committed()
        uncommitted = uncommitted_partitions(committed, self.topics)
        earliest: Mapping[Any, int] = {}
        if uncommitted:
            try:
                earliest = await consumer.earliest_offsets(*uncommitted)
                await consumer.seek_wait(earliest)
            except IllegalStateError as exc:
                # Another rebalance took some of them away meanwhile; its completion runs this
                # again.
                log.info("not rewinding %s: %s", uncommitted, exc)
                return
            log.info(
                "partitions without a committed offset start at their beginning: %s",
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in uncommitted),
            )
        if app.rebalancing_count != rebalance:
            return
        for tp, offset in committed.items():
            if tp.topic in self.topics:
                start = offset or earliest.get(tp)
                if start is not None:
                    self.continuity.start(tp, start)

    async def _on_revoked(self, sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        for tp in revoked:
            self.continuity.forget(tp)

    async def admit(self, message: Any) -> bool:
        """Whether the agent should process ``message`` (its partition's next offset). Seeks
        the partition back when records were skipped (a local change of the fetch position)."""
        tp = message.tp
        verdict = self.continuity.admit(tp, message.offset)
        if verdict is Verdict.PROCESS:
            return True
        if verdict is Verdict.SEEK:
            expected = self.continuity.expected(tp)
            log.warning(
                "%s[%d]: got offset %d, expected %s: seeking back",
                tp.topic,
                tp.partition,
                message.offset,
                expected,
            )
            await self._seek(tp, expected)
        return False

    async def _seek(self, tp: Any, offset: int | None) -> None:
        if offset is None:
            return
        # In the consumer's own thread: a seek from this one leaves its fetcher asleep.
        await self._consumer.seek_wait({tp: offset})

    async def refill_holes(self) -> None:
        """Seek every partition still waiting for a refill back again (Faust's fetcher may
        have run on past the first seek with records it already held), or step over what the
        broker no longer has."""
        holes: dict[Any, int] = dict(self.continuity.holes())
        if not holes:
            return
        earliest = await self._consumer.earliest_offsets(*holes)
        for tp, expected in holes.items():
            first = earliest.get(tp)
            if first is not None and first > expected:
                log.error(
                    "%s[%d]: offsets %d to %d are gone from the broker (retention?) before "
                    "they were processed; going on from %d",
                    tp.topic,
                    tp.partition,
                    expected,
                    first - 1,
                    first,
                )
                self.continuity.start(tp, first)
                expected = first
            await self._seek(tp, expected)
