"""docs/modelling.md cannot go stale: its YAML blocks are the example model's own text, the
example passes the check, and the answers the guide states are the golden queries' answers."""

from __future__ import annotations

import re
import textwrap

import duckdb
import pytest

from engine import Engine
from engine.model_tests import run_model_tests
from semantic import load_model
from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "modelling.md"
EXAMPLE = ROOT / "docs" / "example"
BLOCK = re.compile(
    r"<!-- region: (?P<file>[^#]+)#(?P<name>[\w-]+) -->\n```yaml\n(?P<text>.*?)```", re.S
)


def region(path, name: str) -> str:
    lines = (ROOT / path).read_text().splitlines()
    start = lines.index(next(x for x in lines if x.strip() == f"# region: {name}"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "# endregion")
    return textwrap.dedent("\n".join(lines[start + 1 : end])) + "\n"


def blocks() -> list[re.Match]:
    return list(BLOCK.finditer(GUIDE.read_text()))


def test_the_guide_shows_one_example_per_feature():
    names = [b["name"] for b in blocks()]
    for feature in ("measure", "derived-measure", "second-fact", "hierarchy"):
        assert feature in names
    assert {"aggregate-source", "row-filter"} <= set(names)


@pytest.mark.parametrize("block", blocks(), ids=lambda b: b["name"])
def test_each_yaml_block_of_the_guide_is_the_example_files_text(block):
    assert block["text"] == region(block["file"], block["name"])


@pytest.fixture(scope="module")
def example(tmp_path_factory, monkeypatch_module):
    db = tmp_path_factory.mktemp("guide") / "guide.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute((EXAMPLE / "data.sql").read_text())
    monkeypatch_module.setenv("GUIDE_DB", str(db))
    engine = Engine.open(EXAMPLE)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_example_model_passes_the_check():
    assert load_model(EXAMPLE).tests


def test_the_answers_the_guide_states_are_what_the_engine_returns(example):
    failed = [o for o in run_model_tests(example) if not o.passed]
    assert not failed, [(o.test.name, o.failure) for o in failed]


def test_a_quarter_by_area_is_read_from_the_aggregate_source(example):
    sql = example.explain(
        'SELECT "Time"."Quarter", "Customer"."Distribution Area", "Facts"."# Invoices" '
        'FROM "Billing"'
    )
    assert '"invoice_month"' in sql and 'FROM "invoice" ' not in sql
