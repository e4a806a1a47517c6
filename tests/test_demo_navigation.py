"""The demo's monthly invoice aggregate answers what it can, and every answer equals the
same request on the invoices (navigation off) and hand-written SQL on the invoices."""

from __future__ import annotations

import pytest

from engine import Engine
from tests.conftest import ROOT, hand, rows

QUESTIONS = {
    "year": 'SELECT "Time"."Year", "Facts"."Billed Amount", "Facts"."# Invoices" FROM "Billing"',
    "quarter x area": 'SELECT "Time"."Quarter", "Customer"."Distribution Area", '
    '"Facts"."Outstanding Amount", "Facts"."Collection Rate" FROM "Billing"',
    "month x tariff": 'SELECT "Time"."Month", "Customer"."Tariff Group", '
    '"Facts"."Consumption (kWh)" FROM "Billing"',
    "tariff, filtered by area": 'SELECT "Customer"."Tariff Group", "Facts"."Paid Amount" '
    'FROM "Billing" WHERE "Customer"."Distribution Area" IN (\'Tuzla\', \'Mostar\')',
    "share of area by tariff": 'SELECT "Customer"."Distribution Area", "Customer"."Tariff Group", '
    '"Facts"."Share of Area", "Facts"."% of Total" FROM "Billing"',
    "ago by month": 'SELECT "Time"."Month", AGO("Facts"."Billed Amount", "Time"."Month", 12) '
    'FROM "Billing" WHERE "Time"."Year" = 2026',
}


@pytest.fixture(scope="module")
def detail_demo(demo_db) -> Engine:
    engine = Engine.open(ROOT / "models" / "demo")
    engine.aggregate_navigation = False
    yield engine
    engine.close()


@pytest.mark.parametrize("user", ["admin", "zenica.office"])
@pytest.mark.parametrize("question", QUESTIONS)
def test_the_aggregate_path_equals_the_detail_path(demo, detail_demo, question, user):
    routed = demo.query(QUESTIONS[question], user=user)
    assert "agg_invoice_month" in routed.sql
    direct = detail_demo.query(QUESTIONS[question], user=user)
    assert '"invoice"' in direct.sql and "agg_invoice_month" not in direct.sql
    assert rows(routed.df) == rows(direct.df)


def test_billed_by_year_and_area_equals_hand_sql_on_the_invoices(demo, demo_db):
    result = demo.query(
        'SELECT "Time"."Year", "Customer"."Distribution Area", "Facts"."Billed Amount" '
        'FROM "Billing"'
    )
    assert "agg_invoice_month" in result.sql
    expected = hand(
        demo_db,
        """SELECT k.year, a.name, SUM(i.billed_amount) FROM invoice i
           JOIN customer c USING (customer_id) LEFT JOIN municipality m USING (municipality_id)
           LEFT JOIN area a ON a.area_id = m.area_id JOIN calendar k ON k.date = i.period
           GROUP BY ALL""",
    )
    assert rows(result.df) == rows(expected)


def test_billed_customers_are_counted_on_the_invoices_never_summed(demo):
    result = demo.query('SELECT "Time"."Year", "Facts"."# Billed Customers" FROM "Billing"')
    assert "agg_invoice_month" not in result.sql
