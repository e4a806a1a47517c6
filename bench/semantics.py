"""Benchmark aggregate navigation and time series on a demo warehouse.

    python -m bench.semantics [--customers 1000000] [--repeat 7] [--out FILE]

Times the physical SQL only (the result cache is not involved): a year x area question
through the monthly aggregate against the same question forced to the invoices, and the
time-series functions against hand-written window SQL over monthly sums. Every pair is
checked to return the same rows before it is timed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb

from bench.alternate import alternating_medians
from engine.compile import compile_request
from engine.session import SYSTEM
from engine.verify import same_rows
from physical.demo import build_demo
from semantic import load_model

ROOT = Path(__file__).resolve().parent.parent

YEAR_AREA = (
    'SELECT "Time"."Year", "Customer"."Distribution Area", "Facts"."Billed Amount", '
    '"Facts"."# Invoices" FROM "Billing"'
)
SERIES = (
    'SELECT "Time"."Month", "Facts"."Billed Amount", '
    'AGO("Facts"."Billed Amount", "Time"."Month", 12), '
    'TODATE("Facts"."Billed Amount", "Time"."Year"), '
    'PERIODROLLING("Facts"."Billed Amount", -2, 0) FROM "Billing"'
)
# The same question by hand, as an analyst would write it with window functions; every
# month of the demo has invoices, so LAG over the months equals AGO over the calendar.
SERIES_HAND = """
WITH m AS (
  SELECT k.year, k.year_month, SUM(i.billed_amount) AS b
  FROM invoice i JOIN calendar k ON k.date = i.period GROUP BY 1, 2)
SELECT year_month, b,
       LAG(b, 12) OVER (ORDER BY year_month),
       SUM(b) OVER (PARTITION BY year ORDER BY year_month),
       SUM(b) OVER (ORDER BY year_month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
FROM m
"""

# One year of months with their series: the series still read every month (AGO of January
# reads last January), the months shown are 2025's. Strata reads the invoices once.
FILTERED = SERIES + ' WHERE "Time"."Year" = 2025'
FILTERED_HAND = f"SELECT * FROM ({SERIES_HAND}) AS s WHERE year_month LIKE '2025-%'"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.semantics")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    folder = Path(os.environ.get("STRATA_DATA", ROOT / "data")) / f"bench-{args.customers}"
    path = build_demo(folder / "demo.duckdb", customers=args.customers, seed=42).path
    os.environ["STRATA_DATA"] = str(folder)
    model = load_model(ROOT / "models" / "demo")

    def sql(text: str, navigate: bool) -> str:
        return compile_request(text, model, SYSTEM, None, navigate).query.sql

    lines = [
        f"# Semantics benchmarks ({args.customers:,} customers, median of {args.repeat})",
        "",
        f"Load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| question | Strata | reference | ratio | goal | same rows |",
        "|---|---|---|---|---|---|",
    ]
    with duckdb.connect(str(path), read_only=True) as con:
        routed, detail = sql(YEAR_AREA, True), sql(YEAR_AREA, False)
        same = same_rows(con.sql(routed).df(), con.sql(detail).df())
        t_routed, t_detail = alternating_medians(_fetch(con, routed, detail), args.repeat)
        lines.append(
            f"| year x area, aggregate vs invoices | {t_routed:.1f} ms | {t_detail:.1f} ms | "
            f"{t_detail / t_routed:.1f}x faster | >= 10x | {same} |"
        )

        def against_window_sql(label: str, series: str, hand_sql: str) -> None:
            got, want = con.sql(series).df(), con.sql(hand_sql).df()
            want.columns = got.columns
            t_series, t_hand = alternating_medians(_fetch(con, series, hand_sql), args.repeat)
            lines.append(
                f"| {label} | {t_series:.1f} ms | {t_hand:.1f} ms | {t_series / t_hand:.2f}x | "
                f"<= 1.2x | {same_rows(got, want)} |"
            )

        against_window_sql(
            "AGO + TODATE + PERIODROLLING by month (from the aggregate) vs window SQL on "
            "the invoices",
            sql(SERIES, True),
            SERIES_HAND,
        )
        # The same on the invoices (navigation off): the cost of the calendar mapping itself.
        against_window_sql(
            "the same, navigation off (invoices both sides)", sql(SERIES, False), SERIES_HAND
        )
        # Filtered to one year, navigation off: a time condition the series do not apply.
        against_window_sql(
            "the same for 2025's months, navigation off (one scan of the invoices)",
            sql(FILTERED, False),
            FILTERED_HAND,
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


def _fetch(con: duckdb.DuckDBPyConnection, *queries: str) -> list:
    return [lambda sql=sql: con.sql(sql).fetchall() for sql in queries]


if __name__ == "__main__":
    main()
