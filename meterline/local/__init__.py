"""The local stack's parts as child processes (one runner, ``meterline.local.process``): a
Tansu broker, the sink (which owns the embedded ClickHouse) and stream workers."""

from meterline.local.ports import free_port
from meterline.local.process import ChildProcess, ProcessNotReady
from meterline.local.sink import SinkNotReady, SinkProcess
from meterline.local.stream import StreamWorker, WorkerNotReady
from meterline.local.tansu import BrokerNotReady, TansuBroker, wait_for_kafka

__all__ = [
    "BrokerNotReady",
    "ChildProcess",
    "ProcessNotReady",
    "SinkNotReady",
    "SinkProcess",
    "StreamWorker",
    "TansuBroker",
    "WorkerNotReady",
    "free_port",
    "wait_for_kafka",
]
