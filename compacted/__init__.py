"""Kafka plumbing shared by the gateway side (``producers``) and the stream (``stream``):
a follower of compacted topics. It imports no Meterline package, so both may import it."""

from compacted.follower import CompactedFollower, Invalid, InvalidValue, TopicMissing, Update

__all__ = ["CompactedFollower", "Invalid", "InvalidValue", "TopicMissing", "Update"]
