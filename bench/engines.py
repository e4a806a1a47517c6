"""Benchmark the demo questions on PostgreSQL and Spark beside hand SQL in that engine's dialect.

    python -m bench.engines [--customers 50000] [--repeat 3] [--postgres URL] [--no-spark]
                            [--only QUESTION ...]

The demo warehouse (data/bench-<N>/demo.duckdb) is loaded into each engine the way
`strata demo --target` does it. For every question, Strata end to end (`Engine.query`,
compiled request reused, result cache off as it is for servers) is timed, taking turns, against the
question's hand SQL (bench/questions.py), transpiled from DuckDB by sqlglot and run through
the same backend. Spark's start-up (a new SparkSession, and loading the Parquet views) is
timed separately. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sqlglot

from bench.alternate import alternating_medians
from bench.questions import QUESTIONS
from engine import Engine
from physical.demo import build_demo
from physical.load import load_into
from physical.retarget import retarget

ROOT = Path(__file__).resolve().parent.parent


def measure(
    engine: Engine, repeat: int, only: frozenset[str] = frozenset()
) -> list[tuple[str, float, float]]:
    """(question, Strata ms, hand SQL ms) per question on `engine`'s warehouse database."""
    backend = engine._backend("warehouse")
    dialect = engine.model.database("warehouse").dialect
    out = []
    for q in QUESTIONS:
        if only and q.name not in only:
            continue
        hand = sqlglot.transpile(q.hand_sql, read="duckdb", write=dialect)[0]
        strata, direct = alternating_medians(
            [lambda q=q: engine.query(q.logical_sql), lambda hand=hand: backend.run(hand)], repeat
        )
        out.append((q.name, strata, direct))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql:// URL of an empty database to load")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="QUESTION", help="run just these questions"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only) - {q.name for q in QUESTIONS}
    if unknown:
        parser.error(f"unknown question(s) {sorted(unknown)}; known: {[q.name for q in QUESTIONS]}")
    folder = ROOT / "data" / f"bench-{args.customers}"
    warehouse = build_demo(folder / "demo.duckdb", customers=args.customers).path
    work = Path(tempfile.mkdtemp(prefix="engines-", dir=folder))
    (work / "spark").mkdir()
    print(f"### {args.customers:,} customers (median of {args.repeat} runs after one warm-up)\n")
    targets = []
    if args.postgres:
        start = time.perf_counter()
        load_into(warehouse, args.postgres)
        print(f"PostgreSQL load: {time.perf_counter() - start:.1f} s")
        targets.append(("postgres", {"url": args.postgres}))
    if not args.no_spark:
        from physical.spark import session

        start = time.perf_counter()
        session("local[*]", tmp=str(work / "spark"))
        print(f"Spark session start: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        load_into(warehouse, "spark", work / "parquet")
        print(f"Parquet files written: {time.perf_counter() - start:.1f} s")
        targets.append(("spark", {"master": "local[*]", "parquet": str(work / "parquet")}))
    for dialect, connection in targets:
        model = retarget(
            ROOT / "models" / "demo", work / f"model-{dialect}", "warehouse", dialect, connection
        )
        start = time.perf_counter()
        engine = Engine.open(model)
        engine._backend("warehouse")
        print(f"{dialect} backend open (views registered): {time.perf_counter() - start:.1f} s\n")
        print(f"| {dialect}: question | Strata ms | hand SQL ms | ratio |\n|---|---:|---:|---:|")
        for name, strata, hand in measure(engine, args.repeat, frozenset(args.only)):
            print(f"| {name} | {strata:.0f} | {hand:.0f} | {strata / hand:.2f}× |")
        print()
        engine.close()


if __name__ == "__main__":
    main()
