"""Which partitions ``stream.rewind`` seeks to their beginning after a rebalance."""

from __future__ import annotations

import inspect

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers.aiokafka import Consumer

from stream.continuity import Continuity, Verdict
from stream.rewind import uncommitted_partitions

RAW, ENRICHED, CHANGELOG = "p.meterline.usage.raw", "p.meterline.usage.enriched", "p-seen-changelog"


def test_only_agent_sources_without_a_committed_offset_are_rewound() -> None:
    committed = {
        TopicPartition(RAW, 1): 26,  # committed: seek_to_committed moves it back itself
        TopicPartition(RAW, 3): None,  # its previous owner died before its first commit
        TopicPartition(RAW, 0): 0,  # aiokafka does not seek to 0 either
        TopicPartition(ENRICHED, 2): None,
        TopicPartition(CHANGELOG, 3): None,  # table recovery positions changelogs itself
    }
    assert uncommitted_partitions(committed, {RAW, ENRICHED}) == [
        TopicPartition(ENRICHED, 2),
        TopicPartition(RAW, 0),
        TopicPartition(RAW, 3),
    ]


def test_every_partition_committed_means_nothing_to_rewind() -> None:
    assert uncommitted_partitions({TopicPartition(RAW, 0): 5}, {RAW}) == []


def test_aiokafka_still_skips_uncommitted_partitions_when_seeking_to_committed() -> None:
    """The reason ``stream.rewind`` exists. When aiokafka starts seeking partitions without a
    commit to the reset position itself, the rewind becomes redundant (and stays harmless)."""
    source = inspect.getsource(AIOKafkaConsumer.seek_to_committed)
    assert "if offset and offset > 0:" in source


def test_faust_consumer_still_offers_the_public_methods_the_rewind_uses() -> None:
    for name in ("seek_to_committed", "earliest_offsets", "seek_wait"):
        assert inspect.iscoroutinefunction(getattr(Consumer, name)), name


def test_in_order_offsets_are_processed_and_repeats_skipped() -> None:
    continuity = Continuity()
    continuity.start("raw-0", 16)
    assert [continuity.admit("raw-0", o) for o in (16, 17, 16, 17, 18)] == [
        Verdict.PROCESS,
        Verdict.PROCESS,
        Verdict.REPEAT,
        Verdict.REPEAT,
        Verdict.PROCESS,
    ]
    assert continuity.expected("raw-0") == 19


def test_a_hole_seeks_back_once_and_waits_for_the_refill() -> None:
    """The measured case: 22..25 processed, 26..28 dropped by Faust, 29 delivered."""
    continuity = Continuity()
    continuity.start("raw-0", 22)
    assert [continuity.admit("raw-0", o) for o in (22, 23, 24, 25)] == [Verdict.PROCESS] * 4
    assert continuity.admit("raw-0", 29) is Verdict.SEEK
    assert continuity.holes() == {"raw-0": 26}
    assert continuity.admit("raw-0", 30) is Verdict.WAIT  # fetched before the seek
    assert [continuity.admit("raw-0", o) for o in (26, 27, 28, 29, 30)] == [Verdict.PROCESS] * 5
    assert continuity.holes() == {}


def test_a_hole_the_broker_cannot_refill_is_stepped_over_by_a_new_start() -> None:
    """Offsets 5..9 deleted by retention before they were read: the refill timer finds the
    first offset the broker still has and the partition resumes there."""
    continuity = Continuity()
    continuity.start("raw-2", 5)
    assert continuity.admit("raw-2", 11) is Verdict.SEEK
    continuity.start("raw-2", 10)
    assert continuity.holes() == {}
    assert [continuity.admit("raw-2", o) for o in (10, 11)] == [Verdict.PROCESS] * 2


def test_a_partition_whose_start_is_unknown_is_processed_as_it_comes() -> None:
    continuity = Continuity()
    assert continuity.admit("raw-1", 7) is Verdict.PROCESS
    assert continuity.admit("raw-1", 8) is Verdict.PROCESS


def test_forgetting_a_revoked_partition_drops_its_position() -> None:
    continuity = Continuity()
    continuity.start("raw-3", 4)
    continuity.forget("raw-3")
    assert continuity.expected("raw-3") is None
