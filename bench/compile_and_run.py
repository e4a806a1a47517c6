"""Compile and run every benchmark question on one demo warehouse, beside its hand SQL.

For each question: is the answer the hand SQL's answer, how long does compiling take
(and each stage), and how long does ``Engine.query`` take end to end compared with the
hand SQL on the same DuckDB connection. ``measure_in_child`` does this in a fresh
interpreter, so the peak RSS it reports belongs to that warehouse size alone.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench.compile_timing import CompileTime, compile_times
from bench.questions import QUESTIONS, Question
from bench.security import SecurityResult, measure_security
from engine import Engine
from engine.cache import ResultCache
from engine.compile import compile_request
from engine.frame import to_frame
from semantic.load import load_model

STAGES = ("parse", "resolve", "plan", "generate")


@dataclass(frozen=True)
class QuestionResult:
    name: str
    difference: str | None  # None when the answers are equal
    rows: int
    compile_ms: float  # median CPU time of compile_request's thread (bench/compile_timing.py)
    stage_ms: tuple[tuple[str, float], ...]  # median wall time per stage, in STAGES order
    strata_ms: float  # median of Engine.query with its plan cached, execute to pandas
    cold_ms: float  # median of Engine.query after clearing the plan cache: compile to pandas
    hand_ms: float  # median of the hand SQL, run to pandas
    sql_chars: int
    compile_wall_ms: float = 0.0  # median wall time of the same compiles

    @property
    def correct(self) -> bool:
        return self.difference is None

    @property
    def ratio(self) -> float:
        return self.strata_ms / self.hand_ms

    @property
    def cold_ratio(self) -> float:
        return self.cold_ms / self.hand_ms


@dataclass(frozen=True)
class SizeResult:
    customers: int
    compile_repeat: int
    run_repeat: int
    questions: tuple[QuestionResult, ...]
    peak_rss_mb: float  # the measuring process's, build excluded
    security: SecurityResult | None = None


def measure_in_child(
    customers: int, data_dir: Path, compile_repeat: int, run_repeat: int
) -> SizeResult:
    """Run ``measure`` in a fresh spawned interpreter and return its result."""
    # spawn, not fork: a forked child would inherit this process's peak RSS and any
    # DuckDB state, and its ru_maxrss would no longer describe this size alone.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, customers, data_dir, compile_repeat, run_repeat).result()


def measure(
    customers: int,
    data_dir: Path,
    compile_repeat: int,
    run_repeat: int,
    questions: Sequence[Question] = QUESTIONS,
) -> SizeResult:
    """Measure every question against the warehouse ``data_dir/demo.duckdb``.

    >>> import tempfile
    >>> from physical.demo import build_demo
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = build_demo(Path(tmp) / "demo.duckdb", customers=300)
    ...     size = measure(300, Path(tmp), compile_repeat=2, run_repeat=1)
    >>> [q.correct for q in size.questions] == [True] * len(QUESTIONS)
    True
    """
    # The model's connection path reads STRATA_DATA when the first query connects.
    os.environ["STRATA_DATA"] = str(data_dir)
    # The result cache is off: these figures compare Strata's SQL with the hand SQL, both
    # executed. Logging stays on, as in production; bench.security measures the cache.
    engine = Engine(load_model("models/demo"), cache=ResultCache(data_dir / "cache", enabled=False))
    try:
        # Before any SQL runs, every question in turn (bench/compile_timing.py).
        compiles = compile_times(
            {
                q.name: partial(
                    lambda q: compile_request(q.logical_sql, engine.model, engine.session()), q
                )
                for q in questions
            },
            compile_repeat,
        )
        results = tuple(_question(engine, q, compiles[q.name], run_repeat) for q in questions)
        security = measure_security(engine, compile_repeat)
    finally:
        engine.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return SizeResult(customers, compile_repeat, run_repeat, results, peak_kb / 1024, security)


def _question(
    engine: Engine, question: Question, compile_time: CompileTime, run_repeat: int
) -> QuestionResult:
    strata = engine.query(question.logical_sql)
    # The engine's own connection, so both sides share DuckDB's buffer cache and threads.
    compiled = compile_request(question.logical_sql, engine.model, engine.session())
    backend = engine._backend(compiled.query.database)
    hand = to_frame(backend.run(question.hand_sql))
    difference = first_difference(strata.df, hand, question.ordered)

    # Both ran once above (warm-up). Alternating them means drift (DuckDB's caches,
    # a noisy neighbour) affects both sides alike, and the order turns every round, so that
    # no side is always the one that runs right after another query.
    def cold() -> None:
        engine.query(question.logical_sql)  # compiles: the first time this request is seen

    def cached() -> None:
        engine.query(question.logical_sql)  # reuses the plan: a rerun, a dashboard refresh

    def by_hand() -> None:
        to_frame(backend.run(question.hand_sql))

    runs = [(cold, []), (cached, []), (by_hand, [])]
    for round_ in range(run_repeat):
        for i in range(len(runs)):
            run, found = runs[(round_ + i) % len(runs)]
            if run is cold:
                engine.clear_plan_cache()
            start = time.perf_counter()
            run()
            found.append((time.perf_counter() - start) * 1000)
    cold_ms, strata_ms, hand_ms = (found for _, found in runs)

    return QuestionResult(
        name=question.name,
        difference=difference,
        rows=len(strata.df),
        compile_ms=compile_time.cpu_ms,
        stage_ms=compile_time.stage_ms,
        strata_ms=statistics.median(strata_ms),
        cold_ms=statistics.median(cold_ms),
        hand_ms=statistics.median(hand_ms),
        sql_chars=len(strata.sql),
        compile_wall_ms=compile_time.wall_ms,
    )


def first_difference(strata: pd.DataFrame, hand: pd.DataFrame, ordered: bool) -> str | None:
    """Describe the first difference between two answers, or None if they are equal.

    Columns are compared by position, numbers rounded to 6 places and then equal to 12
    significant digits (Strata returns decimals as floats), NULL equals NULL, and row
    order counts only when ``ordered``.

    >>> a = pd.DataFrame({"x": ["b", None], "n": [1.0000001, None]})
    >>> b = pd.DataFrame({"y": [None, "b"], "m": [float("nan"), Decimal("1")]})
    >>> first_difference(a, b, ordered=False) is None
    True
    >>> first_difference(a, b, ordered=True)
    "row 1: ('b', 1.0) != (None, None)"
    """
    if strata.shape[1] != hand.shape[1]:
        return f"{strata.shape[1]} columns != {hand.shape[1]} columns"
    if len(strata) != len(hand):
        return f"{len(strata)} rows != {len(hand)} rows"
    left, right = _rows(strata), _rows(hand)
    if not ordered:
        left, right = sorted(left, key=_sort_key), sorted(right, key=_sort_key)
    for i, (a, b) in enumerate(zip(left, right, strict=True), start=1):
        if not all(_same(x, y) for x, y in zip(a, b, strict=True)):
            return f"row {i}: {a} != {b}"
    return None


def _same(a: object, b: object) -> bool:
    """Equal, or numbers equal to 12 significant digits: a DOUBLE sum of 6.6e9 differs
    from the exact DECIMAL one in its 16th digit, past any 6-place rounding.

    >>> _same(6612832098.742001, 6612832098.742), _same(1.0, 1.001), _same("a", "a")
    (True, False, True)
    """
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b


def _rows(df: pd.DataFrame) -> list[tuple]:
    return [tuple(_cell(v) for v in row) for row in df.itertuples(index=False, name=None)]


def _cell(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | Decimal | np.integer | np.floating):
        number = float(value)
        return None if math.isnan(number) else round(number, 6)
    return value


def _sort_key(row: tuple) -> tuple:
    # NULLs sort last and are never compared with a value of another type.
    return tuple((1, 0) if v is None else (0, v) for v in row)
