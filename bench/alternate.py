"""Time several ways of getting one answer, taking turns, so that load weighs on all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def alternating_medians(runs: Sequence[Callable[[], object]], repeat: int) -> tuple[float, ...]:
    """Median milliseconds of each run, after one warm-up each, the runs taking turns.

    Timing one side's repeats before the other's lets a change of load (autovacuum after
    a bulk load, another process, a JIT warming) fall on one side only.

    >>> fast, slow = alternating_medians([lambda: None, lambda: time.sleep(0.002)], 3)
    >>> fast < 1 < slow
    True
    """
    for run in runs:
        run()  # warm: the first run pays compile, plan and (Spark) code generation
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, found in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            found.append((time.perf_counter() - start) * 1000)
    return tuple(statistics.median(found) for found in times)
