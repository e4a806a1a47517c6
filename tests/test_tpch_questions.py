"""The benchmark's TPC-H questions give the hand SQL's answers, on data tpchgen-cli makes.

TPC-H at scale 0.01 (60,000 line items, 15,000 orders) is generated once per session by
the benchmark's own loader; each question's Strata answer is compared row by row with the
analyst's hand SQL from bench/tpch_questions.py, and the two-fact question's SQL keeps the
shape the issue asks for. Speed is measured in bench/ only, never here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.compile_and_run import first_difference
from bench.compile_scale import wide_hand_sql, wide_request, write_wide_model
from bench.tpch_data import tpch_database, tpchgen
from bench.tpch_questions import TPCH_QUESTIONS
from bench.tpch_run import MODEL, open_engine
from engine import Engine
from engine.compile import compile_request
from engine.parse import parse
from engine.plan import plan
from engine.resolve import resolve
from semantic.load import load_model
from tests.conftest import strata


@pytest.fixture(scope="module")
def tpch_db(tmp_path_factory) -> Path:
    if tpchgen() is None:
        pytest.skip("tpchgen-cli is not installed (pip install -e '.[test]' installs it)")
    return tpch_database(0.01, tmp_path_factory.mktemp("tpch"))


@pytest.fixture(scope="module")
def tpch(tpch_db):
    engine = open_engine(tpch_db)
    yield engine
    engine.close()


def _hand(engine, sql: str, database: str = "tpch"):
    return engine._backend(database).run(sql).to_pandas()


def test_tpch_model_passes_the_consistency_check():
    result = strata("check", str(MODEL))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("question", TPCH_QUESTIONS, ids=lambda q: q.name)
def test_tpch_question_equals_hand_sql(tpch, question):
    answer = tpch.query(question.logical_sql).df
    expected = _hand(tpch, question.hand_sql)
    assert len(expected) > 0  # the data answers the question at all
    assert first_difference(answer, expected, question.ordered) is None


def test_filtered_facts_are_filtered_before_they_are_aggregated(tpch):
    # Summing every line item per order first and filtering the sums after the joins reads
    # all of them; each fact group keeps its own WHERE over its detail rows instead.
    question = next(q for q in TPCH_QUESTIONS if q.name == "europe-nations-1995-1996")
    planned = plan(resolve(parse(question.logical_sql), tpch.model, tpch.session()), tpch.model)
    assert [f.table for f in planned.facts] == ["Line Items", "Orders"]
    assert all(f.filters and not f.preaggregate for f in planned.facts)


def test_top_customers_are_grouped_once_not_by_order_first(tpch):
    # The grain holds the customer key, two joins away from the line items: summing them by
    # order first and regrouping 1.5 M order sums into 100,000 customers (SF 1) is a second
    # large grouping. The demo's invoices by customer, one join away, keep their
    # pre-aggregation: it groups by the customer key itself.
    question = next(q for q in TPCH_QUESTIONS if q.name == "top-10-customers")
    planned = plan(resolve(parse(question.logical_sql), tpch.model, tpch.session()), tpch.model)
    assert [(f.table, f.preaggregate) for f in planned.facts] == [("Line Items", ())]


def test_facts_joined_only_inner_are_not_summed_by_their_first_key_unless_counted_distinct(
    tpch,
):
    # Every TPC-H join declares integrity, so the database may build the dimension joins
    # once and probe them with the line items; summing them by order first adds a grouping
    # of 1.5 M orders (SF 1). A count distinct still drops its duplicates early that way.
    def preaggregates(name: str) -> list:
        question = next(q for q in TPCH_QUESTIONS if q.name == name)
        request = resolve(parse(question.logical_sql), tpch.model, tpch.session())
        return [(f.table, f.preaggregate) for f in plan(request, tpch.model).facts]

    assert preaggregates("revenue-by-region-year") == [("Line Items", ())]
    assert preaggregates("ordering-customers-by-segment") == [("Orders", ("o_custkey",))]


def test_invoices_are_summed_by_customer_before_a_chain_of_left_joins():
    # The demo's customer -> municipality -> area joins stay LEFT (no integrity declared),
    # so the database applies them in order to every row: summing 22 invoices per customer
    # first (by the invoice's own customer key) joins a twentieth of the rows. Plan only.
    from engine.session import SYSTEM

    model = load_model("models/demo")
    request = 'SELECT "Customer"."Distribution Area", "Facts"."Billed Amount" FROM "Billing"'
    planned = plan(resolve(parse(request), model, SYSTEM), model, navigate=False)
    assert [(f.source.base, f.preaggregate) for f in planned.facts] == [
        ("invoice", ("customer_id",))
    ]


def test_joins_declared_with_integrity_are_inner_and_undeclared_ones_stay_left(tpch):
    # TPC-H's model declares every join `assume_integrity: true` (its keys are NOT NULL and
    # always found); the demo's customer-to-tariff join declares nothing, so a dangling key
    # stays a NULL member.
    question = next(q for q in TPCH_QUESTIONS if q.name == "revenue-by-region-year")
    sql = compile_request(question.logical_sql, tpch.model, tpch.session()).query.sql
    assert sql.count(" JOIN ") == 4 and "LEFT JOIN" not in sql
    # Except where the grain holds a key two joins away: DuckDB aggregates below the
    # customer join only when every join is LEFT (customers by revenue, without a LIMIT).
    top = next(q for q in TPCH_QUESTIONS if q.name == "top-10-customers")
    by_customer = top.logical_sql.split("ORDER BY")[0]
    by_customer_sql = compile_request(by_customer, tpch.model, tpch.session()).query.sql
    assert by_customer_sql.count("LEFT JOIN") == 2
    from engine.session import SYSTEM

    demo = load_model("models/demo")
    request = 'SELECT "Customer"."Customer Type", "Facts"."Billed Amount" FROM "Billing"'
    demo_sql = compile_request(request, demo, SYSTEM).query.sql
    assert 'LEFT JOIN "customer"' not in demo_sql and 'JOIN "customer"' in demo_sql
    request = 'SELECT "Customer"."Tariff Group", "Facts"."# Billed Customers" FROM "Billing"'
    demo_sql = compile_request(request, demo, SYSTEM).query.sql
    assert 'LEFT JOIN "tariff_group"' in demo_sql


def test_top_customers_rank_line_items_by_the_orders_customer_key_before_the_lookup(tpch):
    # As the hand SQL does: lineitem JOIN orders, GROUP BY o_custkey, LIMIT, then customer.
    top = next(q for q in TPCH_QUESTIONS if q.name == "top-10-customers")
    sql = compile_request(top.logical_sql, tpch.model, tpch.session()).query.sql
    assert sql.index('GROUP BY "orders"."o_custkey"') < sql.index("LIMIT 10")
    assert sql.index("LIMIT 10") < sql.index('LEFT JOIN "customer"')


def test_two_fact_question_reads_each_fact_once_and_stitches_with_hash_joins(tpch):
    question = next(q for q in TPCH_QUESTIONS if q.name == "two-facts-by-nation")
    sql = compile_request(question.logical_sql, tpch.model, tpch.session()).query.sql
    # One aggregate per fact: each fact table is scanned by exactly one subquery.
    assert sql.count('FROM "lineitem"') == 1
    assert sql.count('FROM "orders"') == 1
    assert sql.count("FULL OUTER JOIN") == 1
    explain = tpch._backend("tpch")._cursor().sql(f"EXPLAIN {sql}").fetchall()
    # DuckDB draws operators as "Hash Join", "Nested Loop Join", ...: one spelling to match.
    plan = "\n".join(row[1] for row in explain).upper().replace(" ", "_")
    assert "HASH_JOIN" in plan
    for slow in ("NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN", "PIECEWISE_MERGE_JOIN", "CROSS_PRODUCT"):
        assert slow not in plan


def test_bench_tpch_writes_its_section_and_keeps_the_rest_of_the_page(tpch_db, tmp_path):
    # `python -m bench tpch` as a user runs it, on the data made above, into a scratch page.
    data = tpch_db.parent.parent  # <data dir>/tpch-0.01/tpch.duckdb
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nThe demo's figures.\n", encoding="utf-8")
    command = ["tpch", "--scale", "0.01", "--no-rss", "--data-dir", str(data), "--out", str(page)]
    result = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nThe demo's figures.\n")
    assert "### Scale factor 0.01" in text
    for question in TPCH_QUESTIONS:
        assert f"| {question.name} | strata | yes |" in text


def test_eighty_measures_of_a_wide_model_equal_hand_sql(tmp_path):
    # The compile-time scale request of the bench (100 measures, 50 attributes, 80 asked):
    # its speed is measured in bench/, its answer here, on 50 generated fact rows.
    model = load_model(write_wide_model(tmp_path))
    engine = Engine(model)
    try:
        answer = engine.query(wide_request()).df
        expected = _hand(engine, wide_hand_sql(), "wide")
    finally:
        engine.close()
    assert answer.shape == (6, 82)
    assert first_difference(answer, expected, ordered=False) is None
