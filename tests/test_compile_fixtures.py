"""Each fixture file holds a title, a Logical SQL request and hand-written SQL for the same
question; both run on the same DuckDB file and must return the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import hand, rows

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "compile").glob("*.sql"))


def _pair(path: Path) -> tuple[str, str, bool]:
    text = path.read_text()
    headers = [line for line in text.splitlines() if line.startswith("-- ")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    logical, handwritten = (s.strip() for s in body.split(";")[:2])
    return logical, handwritten, "-- ordered: true" in headers


def _title(path: Path) -> str:
    return path.read_text().splitlines()[0].removeprefix("-- title: ")


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_compiled_query_matches_hand_written_sql(path, tiny, tiny_db):
    logical, handwritten, ordered = _pair(path)
    result = tiny.query(logical)
    assert rows(result.df, ordered) == rows(hand(tiny_db, handwritten), ordered), _title(path)


def test_every_fixture_has_a_title_and_two_statements():
    for path in FIXTURES:
        logical, handwritten, _ = _pair(path)
        assert _title(path) and logical.upper().startswith("SELECT") and handwritten, path.name
