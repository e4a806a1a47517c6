"""Run the TPC-H questions through the hand SQL, Strata and sidemantic on one DuckDB file.

All three run on one DuckDB connection (Strata's own) and convert Arrow to pandas the same
way, so the ratios compare the SQL each system sends, plus its compile time where it has one.
``measure_scale`` does the timings in one fresh interpreter per scale; the peak RSS of each
(question, system) comes from another fresh interpreter that runs that query alone.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.compile_and_run import first_difference
from bench.compile_timing import compile_times
from bench.tpch_questions import TPCH_QUESTIONS, TpchQuestion
from bench.tpch_sidemantic import sidemantic_layer
from engine import Engine
from engine.cache import ResultCache
from engine.compile import compile_request
from engine.frame import to_frame
from semantic.load import load_model

MODEL = Path(__file__).resolve().parent / "tpch_model"
SYSTEMS = ("hand", "strata", "sidemantic")


@dataclass(frozen=True)
class SystemResult:
    system: str  # one of SYSTEMS
    difference: str | None  # None: equal to the hand SQL's answer ("" unused)
    rows: int
    compile_ms: float | None  # median CPU of the compiling thread; None for the hand SQL
    run_ms: float  # median end to end: compile (if any), execute, Arrow to pandas
    sql_chars: int
    peak_rss_mb: float | None = None  # a fresh process running this query alone
    cached_ms: float | None = None  # Strata only: plan cached, as a rerun
    # Median CPU time of this process (every DuckDB thread included) over the same runs:
    # on a shared machine it moves far less than the wall time does.
    cpu_ms: float | None = None
    compile_wall_ms: float | None = None  # median wall time of the same compiles

    @property
    def correct(self) -> bool:
        return self.difference is None


@dataclass(frozen=True)
class TpchQuestionResult:
    name: str
    systems: tuple[SystemResult, ...]

    def system(self, name: str) -> SystemResult | None:
        return next((s for s in self.systems if s.system == name), None)

    def ratio(self, name: str, cached: bool = False) -> float | None:
        """End-to-end median of `name` over the hand SQL's, from the same run."""
        s, hand = self.system(name), self.system("hand")
        if s is None or hand is None:
            return None
        return ((s.cached_ms if cached else None) or s.run_ms) / hand.run_ms

    def cpu_ratio(self, name: str) -> float | None:
        """Median CPU time of `name` over the hand SQL's, from the same run."""
        s, hand = self.system(name), self.system("hand")
        if s is None or hand is None or not s.cpu_ms or not hand.cpu_ms:
            return None
        return s.cpu_ms / hand.cpu_ms


@dataclass(frozen=True)
class ScaleResult:
    scale: float
    compile_repeat: int
    run_repeat: int
    questions: tuple[TpchQuestionResult, ...]
    versions: tuple[tuple[str, str], ...]


def measure_scale(
    scale: float, db: Path, compile_repeat: int, run_repeat: int, rss: bool = True
) -> ScaleResult:
    """Timings in one spawned interpreter, then peak RSS in one per (question, system)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        result = pool.submit(measure, scale, db, compile_repeat, run_repeat).result()
    if not rss:
        return result
    questions = []
    for q in result.questions:
        systems = []
        for s in q.systems:
            # A plain interpreter, not a multiprocessing child: spawn re-imports the parent's
            # __main__ (the whole demo benchmark), whose imports would set the peak.
            out = subprocess.run(
                [sys.executable, "-m", "bench.tpch_run", str(db), q.name, s.system],
                capture_output=True,
                text=True,
                check=True,
            )
            systems.append(_replace_rss(s, float(out.stdout.split()[-1])))
        questions.append(TpchQuestionResult(q.name, tuple(systems)))
    return ScaleResult(scale, compile_repeat, run_repeat, tuple(questions), result.versions)


def _replace_rss(s: SystemResult, peak: float) -> SystemResult:
    from dataclasses import replace

    return replace(s, peak_rss_mb=peak)


def open_engine(db: Path) -> Engine:
    """An Engine on the TPC-H model reading `db`, result cache off (both sides execute)."""
    os.environ["TPCH_DB"] = str(db)
    return Engine(load_model(MODEL), cache=ResultCache(db.parent / "cache", enabled=False))


def measure(
    scale: float,
    db: Path,
    compile_repeat: int,
    run_repeat: int,
    questions: Sequence[TpchQuestion] = TPCH_QUESTIONS,
) -> ScaleResult:
    """Answers, compile and end-to-end medians of every question on every system.

    >>> import tempfile
    >>> from bench.tpch_data import tpch_database, tpchgen
    >>> if tpchgen():
    ...     with tempfile.TemporaryDirectory() as tmp:
    ...         r = measure(0.001, tpch_database(0.001, Path(tmp)), 2, 1, TPCH_QUESTIONS[:1])
    ...         print([s.correct for s in r.questions[0].systems][:2])
    ... else:
    ...     print([True, True])
    [True, True]
    """
    engine = open_engine(db)
    layer = sidemantic_layer()
    try:
        # Before any SQL runs, every question and system in turn (bench/compile_timing.py).
        calls: dict = {}
        for q in questions:
            calls["strata", q.name] = partial(
                lambda q: compile_request(q.logical_sql, engine.model, engine.session()), q
            )
            if layer is not None:
                calls["sidemantic", q.name] = partial(lambda q: layer.compile(**q.sidemantic), q)
        compiles = compile_times(calls, compile_repeat)
        results = tuple(_question(engine, layer, q, compiles, run_repeat) for q in questions)
    finally:
        engine.close()
    return ScaleResult(scale, compile_repeat, run_repeat, results, _versions(layer))


def _versions(layer: object | None) -> tuple[tuple[str, str], ...]:
    found = []
    if layer is not None:
        import sidemantic

        found.append(("sidemantic", sidemantic.__version__))
    return tuple(found)


def _question(
    engine: Engine,
    layer: object | None,
    q: TpchQuestion,
    compiles: dict,
    run_repeat: int,
) -> TpchQuestionResult:
    compiled = compile_request(q.logical_sql, engine.model, engine.session())
    backend = engine._backend(compiled.query.database)

    def hand() -> object:
        return to_frame(backend.run(q.hand_sql))

    def strata_cold() -> object:
        return engine.query(q.logical_sql).df  # after clear_plan_cache(), below

    def strata_cached() -> object:
        return engine.query(q.logical_sql).df

    runners: dict[str, Callable[[], object]] = {
        "hand": hand,
        "strata": strata_cold,
        "strata cached": strata_cached,
    }
    sm_sql = None
    if layer is not None:
        sm_sql = layer.compile(**q.sidemantic)

        def sidemantic_run() -> object:
            return to_frame(backend.run(layer.compile(**q.sidemantic)))

        runners["sidemantic"] = sidemantic_run

    answers = {name: run() for name, run in runners.items()}  # also the warm-up
    # Interleaved, so drift (DuckDB's caches, a noisy neighbour) touches every side alike,
    # and in an order that turns every round. With a fixed order, Strata compiled each time
    # always ran right after the hand SQL: on TPC-H Europe at SF 0.1 it measured 7.5 ms over
    # the cached run for a 1.7 ms compile; in turning order their executions take the same.
    samples: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners.items())
    for round_ in range(run_repeat):
        for i in range(len(order)):
            name, run = order[(round_ + i) % len(order)]
            if run is strata_cold:
                engine.clear_plan_cache()
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            samples[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    run_ms = {name: statistics.median(v) for name, v in samples.items()}
    cpu_ms = {name: statistics.median(v) for name, v in cpu.items()}
    sql = {"hand": q.hand_sql, "strata": compiled.query.sql, "sidemantic": sm_sql}
    systems = []
    for name in SYSTEMS:
        if name not in runners:
            continue
        answer = answers[name]
        systems.append(
            SystemResult(
                system=name,
                difference=first_difference(answer, answers["hand"], q.ordered),
                rows=len(answer),
                compile_ms=compiles[name, q.name].cpu_ms if (name, q.name) in compiles else None,
                run_ms=run_ms[name],
                sql_chars=len(" ".join(sql[name].split())),
                cached_ms=run_ms["strata cached"] if name == "strata" else None,
                cpu_ms=cpu_ms[name],
                compile_wall_ms=(
                    compiles[name, q.name].wall_ms if (name, q.name) in compiles else None
                ),
            )
        )
    return TpchQuestionResult(q.name, tuple(systems))


def peak_rss_mb(db: Path, question: str, system: str) -> float:
    """Peak RSS (MB) of this process after running one question on one system once."""
    q = next(q for q in TPCH_QUESTIONS if q.name == question)
    engine = open_engine(db)
    try:
        if system == "strata":
            engine.query(q.logical_sql)
        else:
            compiled = compile_request(q.logical_sql, engine.model, engine.session())
            backend = engine._backend(compiled.query.database)
            sql = q.hand_sql if system == "hand" else sidemantic_layer().compile(**q.sidemantic)
            to_frame(backend.run(sql))
    finally:
        engine.close()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


if __name__ == "__main__":
    # python -m bench.tpch_run DB QUESTION SYSTEM: prints this process's peak RSS in MB.
    print(peak_rss_mb(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
