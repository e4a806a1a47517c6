"""Compile times that measure the compile: its own thread's CPU, sampled round-robin.

A compile is about a millisecond of single-threaded Python. Timed by the wall clock, in a
row of 20 calls of one question right after that question's SQL ran, it also measures
whatever else the machine did in those few milliseconds: on this shared 2-core machine one
question's 20 calls can all fall in one busy moment. Measured directly, the slowest median
moved between 2.0 and 8.7 ms of wall time from one row of calls to the next, while its CPU
time stayed at 2.0 ms (docs/decisions.md, "compile times"). So every question is first
warmed up, then the questions are called in turn, round after round, and each call's CPU
time of the calling thread (`time.thread_time`: neither other processes nor DuckDB's threads
count) is kept beside its wall time.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

WARMUP = 5  # calls per question before timing: lazy imports, sqlglot's first-use caches


@dataclass(frozen=True)
class CompileTime:
    cpu_ms: float  # median CPU time of the compiling thread: the compile's own cost
    wall_ms: float  # median wall time over the same calls
    # Median wall time per stage, when the call returns `timings` (engine.compile.Compiled).
    stage_ms: tuple[tuple[str, float], ...] = ()


def compile_times(
    calls: Mapping[Hashable, Callable[[], object]], repeat: int, warmup: int = WARMUP
) -> dict[Hashable, CompileTime]:
    """Median CPU and wall time of each call, over `repeat` rounds that call each in turn.

    >>> times = compile_times({"sum": lambda: sum(range(10_000))}, repeat=20)
    >>> 0 < times["sum"].cpu_ms <= times["sum"].wall_ms * 1.5
    True
    """
    for call in calls.values():
        for _ in range(warmup):
            call()
    # Garbage from earlier work (query results, the warm-up) is collected once before, not
    # in the middle of one question's calls.
    gc.collect()
    cpu: dict[Hashable, list[float]] = {name: [] for name in calls}
    wall: dict[Hashable, list[float]] = {name: [] for name in calls}
    stages: dict[Hashable, dict[str, list[float]]] = {name: {} for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            result = call()
            c1, t1 = time.thread_time(), time.perf_counter()
            cpu[name].append((c1 - c0) * 1000)
            wall[name].append((t1 - t0) * 1000)
            for stage, ms in getattr(result, "timings", ()):
                stages[name].setdefault(stage, []).append(ms)
    return {
        name: CompileTime(
            statistics.median(cpu[name]),
            statistics.median(wall[name]),
            tuple((s, statistics.median(v)) for s, v in stages[name].items()),
        )
        for name in calls
    }
