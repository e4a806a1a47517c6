"""Time the demo warehouse build and print a Markdown table.

    python -m bench.demo_build [--customers 50000 1000000] [--repeat 3]

Each build runs in its own subprocess into a fresh temporary directory, so every run
really rebuilds and the peak RSS reported (from ``os.wait4``) belongs to that build alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Runs in the child: build, then report timings and the size of what was built.
_CHILD = """
import json, os, sys
from pathlib import Path
import duckdb
from physical.demo import build_demo

build = build_demo(Path(sys.argv[1]), customers=int(sys.argv[2]))
with duckdb.connect(str(build.path), read_only=True) as con:
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
    rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
print(json.dumps({"seconds": build.seconds, "rebuilt": build.rebuilt, "rows": rows,
                  "bytes": os.path.getsize(build.path)}))
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    rows: dict[str, int]
    megabytes: float
    peak_rss_mb: float


def measure(customers: int, repeat: int) -> tuple[Run, ...]:
    """Build ``repeat`` times, each in a fresh directory and subprocess.

    >>> runs = measure(200, 1)
    >>> (len(runs), runs[0].rows["customer"])
    (1, 200)
    """
    return tuple(_run_once(customers) for _ in range(repeat))


def _run_once(customers: int) -> Run:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="strata-demo-bench-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(Path(tmp) / "demo.duckdb"), str(customers)],
            cwd=root,
            stdout=subprocess.PIPE,
        )
        out = proc.stdout.read()
        proc.stdout.close()
        # wait4 returns this child's own rusage; RUSAGE_CHILDREN would be a maximum
        # over every child so far, hiding the smaller builds behind the biggest one.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"build of {customers} customers exited with {proc.returncode}")
    report = json.loads(out)
    if not report["rebuilt"]:
        raise RuntimeError("the build reused an existing file; timings would be meaningless")
    return Run(
        seconds=report["seconds"],
        rows=report["rows"],
        megabytes=report["bytes"] / 1e6,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
    )


def _table(results: dict[int, tuple[Run, ...]]) -> str:
    header = (
        "customers", "builds", "median s", "min s", "max s", "invoice rows",
        "subscription rows", "contact rows", "total rows", "file MB", "peak RSS MB",
    )  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for customers, runs in results.items():
        seconds = [r.seconds for r in runs]
        rows = runs[0].rows
        lines.append(
            f"| {customers:,} | {len(runs)} | {statistics.median(seconds):.2f}"
            f" | {min(seconds):.2f} | {max(seconds):.2f} | {rows['invoice']:,}"
            f" | {rows['subscription']:,} | {rows['contact']:,} | {sum(rows.values()):,}"
            f" | {runs[0].megabytes:.0f} | {max(r.peak_rss_mb for r in runs):.0f} |"
        )
    return "\n".join(lines)


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    results = {}
    for customers in args.customers:
        results[customers] = measure(customers, args.repeat)
        print(f"built {customers:,} customers x{args.repeat}", file=sys.stderr)
    print(_table(results))


if __name__ == "__main__":
    _main()
