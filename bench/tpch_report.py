"""The TPC-H section of docs/benchmarks.md, and splicing it into the page.

The demo benchmark writes the rest of the page; each run keeps the other's section, so
`python -m bench` and `python -m bench tpch` can be rerun in either order.
"""

from __future__ import annotations

import datetime
import shlex

from bench.compile_scale import GOAL_MS as WIDE_GOAL_MS
from bench.compile_scale import ScaleCompile
from bench.tpch_questions import TPCH_QUESTIONS
from bench.tpch_run import SYSTEMS, ScaleResult

BEGIN = "<!-- python -m bench tpch: begin -->"
END = "<!-- python -m bench tpch: end -->"
RATIO_GOAL = 1.10
COMPILE_GOAL_MS = 2.0


def splice(page: str, section: str, begin: str = BEGIN, end: str = END) -> str:
    """`page` with its TPC-H section replaced by `section` (appended if it has none); with
    `begin` and `end`, another benchmark's section (bench/campaign_send.py has one).

    >>> splice("# B\\n", "x")
    '# B\\n\\n<!-- python -m bench tpch: begin -->\\nx\\n<!-- python -m bench tpch: end -->\\n'
    >>> again = splice(splice("# B\\n", "OLD"), "NEW")
    >>> again.count("NEW"), again.count("OLD"), again.startswith("# B\\n")
    (1, 0, True)
    """
    block = f"{begin}\n{section.strip()}\n{end}\n"
    if begin in page and end in page:
        head, _, rest = page.partition(begin)
        _, _, tail = rest.partition(end)
        return head + block + tail.lstrip("\n")
    return page.rstrip("\n") + "\n\n" + block


def section_of(page: str, begin: str = BEGIN, end: str = END) -> str:
    """The TPC-H (or `begin`…`end`) section of `page` ('' if none), markers included.

    >>> section_of(splice("# B\\n", "x")).splitlines()[1]
    'x'
    """
    if begin not in page or end not in page:
        return ""
    _, _, rest = page.partition(begin)
    inner, _, _ = rest.partition(end)
    return f"{begin}{inner}{end}\n"


def render(
    argv: list[str],
    started: datetime.datetime,
    seconds: float,
    machine: list[str],
    scales: list[ScaleResult],
    wide: ScaleCompile | None = None,
) -> str:
    """The TPC-H section: run, method, questions, one table per scale, differences."""
    versions = sorted({v for s in scales for v in s.versions})
    lines = [
        "## TPC-H: hand SQL, Strata and sidemantic",
        "",
        f"- Command: `{shlex.join(['python', '-m', 'bench', *argv])}` in the repository root "
        "(after `pip install -e '.[bench]'`)",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; the run took {seconds:.0f} s",
        *machine,
        f"- Also: {', '.join(f'{n} {v}' for n, v in versions) or 'sidemantic not installed'}; "
        "data by tpchgen-cli (Parquet, loaded into one DuckDB file)",
        "",
        "The model is bench/tpch_model/ (customer with nation and region, orders, part, "
        "supplier with its own nation and region as aliases; facts Line Items and Orders). "
        "The questions, their Logical SQL, the hand SQL and the sidemantic request are in "
        "bench/tpch_questions.py, sidemantic's model in bench/tpch_sidemantic.py. For each "
        "question and system:",
        "",
        "- **correct**: the answer equals the hand SQL's row by row (bench.compile_and_run."
        "first_difference: numbers equal to 12 significant digits, NULL equal to NULL, rows "
        "sorted unless the question is ordered).",
        "- **compile**: median CPU time of the compiling thread (`time.thread_time`) over "
        f"{scales[0].compile_repeat if scales else 0} compiles after 5 untimed ones "
        "(Strata: `compile_request`; sidemantic: `SemanticLayer.compile`), taken before any "
        "query runs, every question and system in turn round after round "
        "(bench/compile_timing.py); **compile wall**: median wall time of the same calls, "
        "which also counts the moments the shared machine gave the process no core.",
        f"- **end to end**: median of {scales[0].run_repeat if scales else 0} runs after one "
        "warm-up, the systems interleaved in an order that turns every round, all on "
        "Strata's own DuckDB connection and converted "
        "Arrow to pandas alike. Strata is `Engine.query` after `clear_plan_cache()` (it "
        "compiles every time); *cached* reuses the compiled plan (a rerun, a dashboard "
        "refresh). sidemantic is `compile` then the SQL on the same connection. "
        "**ratio** = system / hand, from the same run. **CPU**: median CPU time of the "
        "measuring process over the same runs (DuckDB's threads included), and **ratio "
        "CPU** = system / hand: on a shared machine it moves far less than wall time does.",
        "- **SQL chars**: the SQL sent, whitespace collapsed. **peak RSS**: a fresh process "
        "that opens the engine and runs this one query once.",
        "",
        "| question | Logical SQL |",
        "|---|---|",
        *(f"| {q.name} | `{' '.join(q.logical_sql.split())}` |" for q in TPCH_QUESTIONS),
        "",
        "Times are milliseconds.",
        "",
    ]
    for scale in scales:
        lines += [f"### Scale factor {scale.scale:g}", "", *_table(scale), ""]
    goals = _goals(scales)
    if wide is not None:
        met = wide.compile_ms <= WIDE_GOAL_MS
        goals.append(
            f"| compile ≤ {WIDE_GOAL_MS:g} ms for {wide.asked} measures of a model with "
            f"{wide.measures} measures and {wide.attributes} attributes (bench/compile_scale.py) "
            f"| median {wide.compile_ms:.1f} ms, {wide.sql_chars:,} SQL chars "
            f"| {'yes' if met else '**no**'} |"
        )
    if goals:
        lines += ["### Goals", "", "| goal | figure | met? |", "|---|---|---|", *goals, ""]
    wrong = [
        (sc.scale, q.name, s)
        for sc in scales
        for q in sc.questions
        for s in q.systems
        if not s.correct
    ]
    if wrong:
        lines += ["### Differences from the hand SQL", ""]
        lines += [f"- {name}, {s.system}, SF {sf:g}: {s.difference}" for sf, name, s in wrong]
        lines.append("")
    return "\n".join(lines)


def _table(scale: ScaleResult) -> list[str]:
    lines = [
        "| question | system | correct | rows | compile | compile wall | end to end | ratio "
        "| cached | ratio cached | CPU | ratio CPU | SQL chars | peak RSS MB |",
        "|---|---|---|" + "---:|" * 11,
    ]
    for q in scale.questions:
        for name in SYSTEMS:
            s = q.system(name)
            if s is None:
                continue
            ratio = q.ratio(name)
            cached = q.ratio(name, cached=True) if s.cached_ms is not None else None
            lines.append(
                f"| {q.name} | {name} | {'yes' if s.correct else '**no**'} | {s.rows:,} "
                f"| {_ms(s.compile_ms, 2)} | {_ms(s.compile_wall_ms, 2)} | {s.run_ms:.1f} "
                f"| {_ratio(ratio, name)} "
                f"| {_ms(s.cached_ms, 1)} | {_ratio(cached, name)} "
                f"| {_ms(s.cpu_ms, 1)} | {_ratio(q.cpu_ratio(name), name)} | {s.sql_chars:,} "
                f"| {_ms(s.peak_rss_mb, 0)} |"
            )
    return lines


def _ms(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _ratio(ratio: float | None, system: str) -> str:
    if ratio is None or system == "hand":
        return ""
    return f"{ratio:.2f}" if ratio <= RATIO_GOAL else f"**{ratio:.2f}**"


def _goals(scales: list[ScaleResult]) -> list[str]:
    rows = []
    strata = [(sc.scale, q, q.system("strata")) for sc in scales for q in sc.questions]
    strata = [(sf, q, s) for sf, q, s in strata if s is not None]
    if not strata:
        return rows
    sf, q, worst = max(strata, key=lambda a: a[2].compile_ms or 0)
    met = worst.compile_ms <= COMPILE_GOAL_MS
    rows.append(
        f"| Strata compile ≤ {COMPILE_GOAL_MS:g} ms median CPU, every question | slowest "
        f"{worst.compile_ms:.2f} ms ({q.name}, SF {sf:g}) | {'yes' if met else '**no**'} |"
    )
    for label, cached in (("compiled each time", False), ("plan cached", True)):
        ratios = [(sf, q.name, q.ratio("strata", cached=cached)) for sf, q, _ in strata]
        within = sum(r <= RATIO_GOAL for *_, r in ratios)
        sf, name, r = max(ratios, key=lambda a: a[2])
        rows.append(
            f"| Strata end to end ≤ {RATIO_GOAL:.2f}× hand SQL, every question ({label}) | "
            f"{within} of {len(ratios)} within; worst {r:.2f}× ({name}, SF {sf:g}) | "
            f"{'yes' if within == len(ratios) else '**no**'} |"
        )
    cpu = [(sf, q.name, q.cpu_ratio("strata")) for sf, q, _ in strata]
    cpu = [(sf, name, r) for sf, name, r in cpu if r is not None]
    if cpu:
        within = sum(r <= RATIO_GOAL for *_, r in cpu)
        sf, name, r = max(cpu, key=lambda a: a[2])
        rows.append(
            f"| (aid) Strata CPU time ≤ {RATIO_GOAL:.2f}× hand SQL's, every question "
            f"(compiled each time) | {within} of {len(cpu)} within; worst {r:.2f}× ({name}, "
            f"SF {sf:g}) | {'yes' if within == len(cpu) else '**no**'} |"
        )
    correct = sum(s.correct for *_, s in strata)
    rows.append(
        f"| Strata answers equal the hand SQL's | {correct} of {len(strata)} | "
        f"{'yes' if correct == len(strata) else '**no**'} |"
    )
    for sf in sorted({sc.scale for sc in scales}):
        pairs = [
            (q.ratio("strata"), q.ratio("sidemantic"))
            for sc in scales
            if sc.scale == sf
            for q in sc.questions
            if q.system("sidemantic") is not None
        ]
        if pairs:
            ahead = sum(a < b for a, b in pairs)
            met = "yes" if ahead == len(pairs) else "**no**"
            rows.append(
                f"| Strata (compiled each time) faster than sidemantic, SF {sf:g} | "
                f"{ahead} of {len(pairs)} questions | {met} |"
            )
    return rows
