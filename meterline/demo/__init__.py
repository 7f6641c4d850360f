"""``make demo``: the whole story on the local stack (see ``meterline.demo.story``)."""

from meterline.demo.story import run_demo

__all__ = ["run_demo"]
