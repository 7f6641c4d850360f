"""The top entries of a cProfile stats file, as the benchmarks report them."""

from __future__ import annotations

import pstats
from pathlib import Path

__all__ = ["profile_top"]


def profile_top(path: Path, count: int = 15) -> list[dict]:
    """The ``count`` functions with the most own time (``tottime``), with their share of the
    profiled total, calls and cumulative time."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt or 1.0  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), entry in stats.stats.items():  # type: ignore[attr-defined]
        _cc, calls, tottime, cumtime, _callers = entry
        where = f"{Path(filename).name}:{line}" if line else filename
        rows.append({
            "function": f"{where}({name})",
            "own_pct": round(100 * tottime / total, 1),
            "cum_pct": round(100 * cumtime / total, 1),
            "calls": calls,
        })  # fmt: skip
    rows.sort(key=lambda r: r["own_pct"], reverse=True)
    return rows[:count]
