"""``python -m meterline.bench.cpu_profile OUT -m MODULE ARGS...``: run ``MODULE`` as
``__main__`` under cProfile timed by CPU time, and write the stats to ``OUT`` when it ends.

CPU time rather than cProfile's default wall clock: on a machine shared with other work, a
worker waiting for a core would otherwise charge the wait to whatever function it was in.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m meterline.bench.cpu_profile OUT -m MODULE [ARGS...]")
    sys.argv = [module, *args]
    profiler = cProfile.Profile(time.process_time)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
