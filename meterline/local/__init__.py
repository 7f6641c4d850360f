"""The local stack: a Tansu broker process and the embedded ClickHouse engine."""

from meterline.local.ports import free_port
from meterline.local.tansu import BrokerNotReady, TansuBroker, wait_for_kafka

__all__ = ["BrokerNotReady", "TansuBroker", "free_port", "wait_for_kafka"]
