"""Figures of ``meterline bench enforce`` from what the gateways recorded (pure)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["max_in_window", "max_overlap", "percentile"]


def max_in_window(times: Iterable[float], window_s: float = 60.0) -> int:
    """The most events inside any half-open window ``(t - window_s, t]``."""
    ordered = sorted(times)
    best = start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals ``[start, end)`` open at once (an end frees before a start at the
    same instant)."""
    points = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda p: (p[0], p[1]),
    )
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)
