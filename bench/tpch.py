"""`python -m bench tpch`: TPC-H through the hand SQL, Strata and sidemantic; writes its
section of docs/benchmarks.md.

    python -m bench tpch [--scale 0.1 1] [--compile-repeat 20] [--run-repeat 5]
                         [--data-dir $STRATA_DATA] [--out docs/benchmarks.md] [--no-rss]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.compile_scale import measure_compile_scale
from bench.tpch_data import tpch_database
from bench.tpch_report import render, splice
from bench.tpch_run import measure_scale
from physical.settings import data_folder

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    """Generate the data, measure every scale, splice the section into the page."""
    from bench.__main__ import _machine  # the demo benchmark's machine and version lines

    parser = argparse.ArgumentParser(
        prog="python -m bench tpch", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--compile-repeat", type=int, default=20)
    parser.add_argument("--run-repeat", type=int, default=5)
    parser.add_argument(
        "--data-dir", type=Path, default=data_folder(), help="default: $STRATA_DATA or data"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-rss", action="store_true", help="skip the per-query peak RSS runs")
    args = parser.parse_args(argv)
    if args.compile_repeat < 20 or args.run_repeat < 5:
        parser.error("--compile-repeat must be at least 20 and --run-repeat at least 5")
    started = datetime.datetime.now(datetime.UTC)
    load_at_start = os.getloadavg()
    clock = time.perf_counter()
    scales = []
    for scale in args.scale:
        _say(f"TPC-H SF {scale:g}: generating (or reusing) the data")
        db = tpch_database(scale, args.data_dir).resolve()
        _say(f"TPC-H SF {scale:g}: measuring {db}")
        scales.append(
            measure_scale(scale, db, args.compile_repeat, args.run_repeat, not args.no_rss)
        )
    _say("compile-time scale: a model of 100 measures and 50 attributes, 80 measures asked")
    with tempfile.TemporaryDirectory() as tmp:
        wide = measure_compile_scale(Path(tmp), max(args.compile_repeat, 20))
    seconds = time.perf_counter() - clock
    machine = [*_machine(), _load_line(load_at_start, os.getloadavg())]
    section = render(["tpch", *argv], started, seconds, machine, scales, wide)
    page = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n"
    args.out.write_text(splice(page, section), encoding="utf-8")
    _say(f"wrote the TPC-H section of {args.out}")
    for sc in scales:
        for q in sc.questions:
            for s in q.systems:
                _say(
                    f"SF {sc.scale:g} {q.name:32} {s.system:10} "
                    f"{'ok ' if s.correct else 'BAD'} {s.run_ms:9.1f} ms "
                    f"ratio {q.ratio(s.system):.2f}"
                )


def _load_line(start: tuple[float, ...], end: tuple[float, ...]) -> str:
    """The machine's load while the run took place: on a shared machine it says how much
    the times, rather than the same-run ratios, can be trusted.

    >>> _load_line((9.5, 9.1, 8.0), (12.25, 10.0, 9.0))
    '- Load average (1, 5, 15 min): 9.50, 9.10, 8.00 at the start; 12.25, 10.00, 9.00 at the end'
    """

    def shown(load: tuple[float, ...]) -> str:
        return ", ".join(f"{x:.2f}" for x in load)

    return f"- Load average (1, 5, 15 min): {shown(start)} at the start; {shown(end)} at the end"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
