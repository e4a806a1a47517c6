"""Run a model's golden queries and say, for each, what differs from what it must return."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from engine.api import Engine
from semantic.errors import StrataError
from semantic.model import GoldenTest


@dataclass(frozen=True)
class Outcome:
    test: GoldenTest
    failure: str | None  # None: passed

    @property
    def passed(self) -> bool:
        return self.failure is None


def run_model_tests(engine: Engine) -> tuple[Outcome, ...]:
    """Run every golden test of the engine's model, in declaration order."""
    return tuple(_run(engine, test) for test in engine.model.tests)


def _run(engine: Engine, test: GoldenTest) -> Outcome:
    try:
        result = engine.query(test.request, user=test.user)
    except StrataError as e:
        return Outcome(test, f"the request failed: {e}")
    actual = [tuple(_plain(v) for v in row) for row in result.df.itertuples(index=False)]
    problems = []
    if test.row_count is not None and len(actual) != test.row_count:
        problems.append(f"expected {test.row_count} row(s), got {len(actual)}")
    if test.values is not None:
        first = dict(zip(result.df.columns, actual[0], strict=True)) if actual else {}
        for column, expected in test.values:
            if column not in first:
                problems.append(f"no column {column!r} in the first row ({list(first)})")
            elif not _same(first[column], expected, test.tolerance):
                problems.append(f"{column}: expected {expected!r}, got {first[column]!r}")
    if test.rows is not None:
        expected_rows = [tuple(r) for r in test.rows]
        got, want = (
            (actual, expected_rows) if test.ordered else (_sorted(actual), _sorted(expected_rows))
        )
        if len(got) != len(want) or not all(
            len(a) == len(b) and all(_same(x, y, test.tolerance) for x, y in zip(a, b, strict=True))
            for a, b in zip(got, want, strict=False)
        ):
            diff = difflib.unified_diff(
                [repr(r) for r in want], [repr(r) for r in got], "expected", "actual", lineterm=""
            )
            problems.append("rows differ:\n" + "\n".join(diff))
    return Outcome(test, "\n".join(problems) or None)


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _same(actual: object, expected: object, tolerance: float) -> bool:
    numbers = (int, float)
    if isinstance(actual, numbers) and isinstance(expected, numbers):
        return abs(actual - expected) <= tolerance
    return actual == expected


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda r: [(v is None, str(v)) for v in r])
