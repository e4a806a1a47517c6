"""The fidelity harness: the same model answers the same questions on DuckDB, PostgreSQL and
Spark, with the same rows and the same pandas dtypes.

DuckDB's answers are themselves checked against hand-written SQL (test_compile_fixtures.py,
test_demo_questions.py); here every other engine must match them exactly after the model's
typing. A sqlglot upgrade that breaks a construct on one engine fails here.
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, TINY, TOPN, rows
from tests.engines_fixtures import on_engine
from tests.test_compile_fixtures import FIXTURES, _pair, _title

ENGINES = ["postgres", "spark"]


@pytest.fixture(scope="session", params=ENGINES)
def tiny_on(request, tiny_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"tiny_{request.param}")
    yield from on_engine(request.param, tiny_db, TINY, "tiny", folder, request)


@pytest.fixture(scope="session", params=ENGINES)
def topn_on(request, topn_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"topn_{request.param}")
    yield from on_engine(request.param, topn_db, TOPN, "topn", folder, request)


@pytest.fixture(scope="session", params=ENGINES)
def demo_on(request, demo_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"demo_{request.param}")
    model = ROOT / "models" / "demo"
    yield from on_engine(request.param, demo_db, model, "warehouse", folder, request)


def _same_answer(expected, got, ordered: bool, what: str) -> None:
    assert rows(got.df, ordered) == rows(expected.df, ordered), what
    assert list(got.df.dtypes) == list(expected.df.dtypes), f"{what}: dtypes differ"
    assert list(got.df.columns) == list(expected.df.columns), what


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_compile_fixture_gives_duckdbs_rows_and_types(path, tiny, tiny_on):
    logical, _, ordered = _pair(path)
    _same_answer(tiny.query(logical), tiny_on.query(logical), ordered, _title(path))


DEMO_QUESTIONS = [
    # The seed question: households in Sarajevo with e-bill, and their e-mail.
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email" '
    'FROM "Campaigns" WHERE "Customer"."Customer Type" = \'Household\' '
    'AND "Customer"."Distribution Area" = \'Sarajevo\' AND "E-Services"."Service" = \'e-bill\'',
    'SELECT "Customer"."Distribution Area", "Facts"."# Customers", "Facts"."Billed Amount" '
    'FROM "Campaigns"',
    'SELECT "Time"."Year", "Facts"."Collection Rate" FROM "Billing" ORDER BY "Time"."Year"',
    'SELECT "Time"."Year", "Time"."Month", "Facts"."Billed Amount", "Facts"."Consumption (kWh)" '
    'FROM "Billing" ORDER BY "Time"."Month"',
    'SELECT "Customer"."Customer Name", "Facts"."Billed Amount" FROM "Billing" '
    'ORDER BY "Facts"."Billed Amount" DESC, 1 LIMIT 10',
    # Top-N by the customer's key: ranked on the invoices, then ten names looked up.
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Facts"."Billed Amount" '
    'FROM "Billing" ORDER BY "Facts"."Billed Amount" DESC FETCH FIRST 10 ROWS ONLY',
    # Time series: per-month totals written once as a CTE, mapped through the calendar by
    # ranks (no date arithmetic, no QUALIFY); with a time filter and a measure of the main
    # query, the totals are also grouped by the filter (a boolean key) and read once.
    'SELECT "Time"."Month", "Facts"."Billed Amount", '
    'AGO("Facts"."Billed Amount", "Time"."Month", 12), '
    'TODATE("Facts"."Billed Amount", "Time"."Year"), '
    'PERIODROLLING("Facts"."Billed Amount", -2, 0) FROM "Billing" ORDER BY "Time"."Month"',
    'SELECT "Time"."Month", PERIODROLLING("Facts"."# Invoices", -2, 0) FROM "Billing" '
    'WHERE "Time"."Year" = 2025 ORDER BY "Time"."Month"',
    'SELECT "Time"."Month", "Facts"."Billed Amount", '
    'AGO("Facts"."Billed Amount", "Time"."Month", 12) FROM "Billing" '
    'WHERE "Time"."Year" = 2025 ORDER BY "Time"."Month"',
]


@pytest.mark.parametrize("question", DEMO_QUESTIONS, ids=range(len(DEMO_QUESTIONS)))
def test_demo_question_gives_duckdbs_rows_and_types(question, demo, demo_on):
    ordered = "ORDER BY" in question
    _same_answer(demo.query(question), demo_on.query(question), ordered, question)


# Top-N ranked by the foreign key before the names are looked up (engine/topn.py), each
# checked against hand SQL on DuckDB in tests/test_topn.py: a tie at the last place, a row
# filter and a dimension filter before the ranking, a HAVING and an OFFSET, and the plain
# plan where payments' dangling keys forbid ranking by the key.
_TOP = 'SELECT "Customer"."Customer Id", "Customer"."Name", "Facts"."Billed" FROM "Top" '
TOPN_QUESTIONS = [
    (None, _TOP + 'ORDER BY "Facts"."Billed" DESC LIMIT 4'),
    ("north", _TOP + 'ORDER BY "Facts"."Billed" DESC LIMIT 2'),
    (None, _TOP + 'WHERE "Customer"."Area" = \'South\' OR "Customer"."Name" = \'Fay\' '
     'ORDER BY "Facts"."Billed" ASC LIMIT 2'),
    (None, 'SELECT "Customer"."Customer Id", "Customer"."Area", "Facts"."Average Bill" '
     'FROM "Top" WHERE "Facts"."# Invoices" = 1 ORDER BY "Facts"."Average Bill" DESC '
     'LIMIT 2 OFFSET 1'),
    (None, 'SELECT "Customer"."Customer Id", "Customer"."Name", "Facts"."Paid" FROM "Top" '
     'ORDER BY "Facts"."Paid" DESC LIMIT 2'),
]  # fmt: skip


@pytest.mark.parametrize("user, question", TOPN_QUESTIONS, ids=range(len(TOPN_QUESTIONS)))
def test_top_n_gives_duckdbs_rows_and_types(user, question, topn, topn_on):
    _same_answer(
        topn.query(question, user=user), topn_on.query(question, user=user), True, question
    )
