"""A running engine notices a saved model: a good edit is taken up, a broken one is not."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from engine import Engine
from tests.conftest import TINY

REQUEST = 'SELECT "Customer"."Type", "Facts"."Billed" FROM "Tiny" ORDER BY 1'


@pytest.fixture
def live(tmp_path, tiny_db):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("*.sql"))
    engine = Engine.open(folder)
    engine.RELOAD_CHECK_S = 0  # look at every request, not once a second
    yield engine, folder / "presentation.yaml"
    engine.close()


def _save(path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))
    later = time.time() + 1  # a distinct mtime even on coarse clocks
    os.utime(path, (later, later))


def test_a_good_edit_is_taken_up_by_the_next_request(live):
    engine, presentation = live
    engine.query(REQUEST)
    _save(presentation, "- Sales.Billed\n", "- {column: Sales.Billed, name: Billed Total}\n")
    result = engine.query('SELECT "Customer"."Type", "Facts"."Billed Total" FROM "Tiny"')
    assert list(result.df.columns) == ["Type", "Billed Total"] and engine.reload_errors is None


def test_a_broken_edit_keeps_serving_the_last_good_model_and_says_why(live):
    engine, presentation = live
    before = engine.query(REQUEST).df
    _save(presentation, "- Sales.Billed\n", "- Sales.Bild\n")
    after = engine.query(REQUEST).df
    assert after.equals(before)
    assert "maps to unknown column 'Bild' of 'Sales'" in str(engine.reload_errors)


def test_a_busy_engine_looks_at_the_files_at_most_once_a_second(live):
    engine, presentation = live
    engine.RELOAD_CHECK_S = 3600
    _save(presentation, "- Sales.Billed\n", "- Sales.Bild\n")
    assert engine.reload_if_changed() is False and engine.reload_errors is None


def test_fixing_the_edit_clears_the_errors(live):
    engine, presentation = live
    _save(presentation, "- Sales.Billed\n", "- Sales.Bild\n")
    engine.query(REQUEST)
    _save(presentation, "- Sales.Bild\n", "- Sales.Billed\n")
    engine.query(REQUEST)
    assert engine.reload_errors is None
