"""``python -m sinks``: run the ClickHouse sink with settings from ``METERLINE_*``."""

import asyncio
import logging

from sinks.config import SinkSettings
from sinks.service import run_sink

if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(run_sink(SinkSettings()))
