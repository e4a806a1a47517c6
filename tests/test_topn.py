"""Top-N by a dimension's key ranks the fact by its foreign key, then looks names up
(engine/topn.py), and returns exactly the rows of hand-written SQL.

tests/models/topn/data.sql, billed per customer: Ana 100, Ben 80, Cid 50, Dan 50, Eve 50,
Fay 10 (a three-way tie at places 3-5); North holds Ben, Cid, Eve and Fay. Invoices keep
every customer key (`assume_integrity`); payments do not (keys 98, 99 and NULL).
"""

from __future__ import annotations

from pathlib import Path

from engine import Engine
from engine.parse import parse
from engine.plan import plan
from engine.resolve import resolve
from engine.topn import rank_first
from tests.conftest import hand, rows

TOP_BILLED = 'SELECT "Customer"."Customer Id", "Customer"."Name", "Facts"."Billed" FROM "Top" '
TOP_PAID = 'SELECT "Customer"."Customer Id", "Customer"."Name", "Facts"."Paid" FROM "Top" '


def _ranked_first(engine: Engine, logical_sql: str, user: str | None = None) -> bool:
    model = engine.model
    planned = plan(resolve(parse(logical_sql), model, engine.session(user)), model)
    return rank_first(planned, model).top is not None


def _same(engine: Engine, db: Path, logical_sql: str, hand_sql: str, user: str | None = None):
    got = engine.query(logical_sql, user=user).df
    assert rows(got, ordered=True) == rows(hand(db, hand_sql), ordered=True)
    return rows(got, ordered=True)


def test_top_customers_are_ranked_on_invoices_alone_then_named(topn, topn_db):
    request = TOP_BILLED + 'ORDER BY "Facts"."Billed" DESC, "Customer"."Customer Id" LIMIT 2'
    sql = topn.explain(request)
    # The ranking reads the invoices only; the customer table is joined after the LIMIT.
    assert sql.index('GROUP BY "invoice"."customer_id"') < sql.index("LIMIT 2")
    assert sql.index("LIMIT 2") < sql.index('LEFT JOIN "customer"')
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, c.name, t.billed
           FROM (SELECT customer_id, sum(billed) AS billed FROM invoice
                 GROUP BY customer_id ORDER BY billed DESC, customer_id LIMIT 2) t
           JOIN customer c USING (customer_id) ORDER BY t.billed DESC, c.customer_id""",
    ) == [(1, "Ana", 100.0), (2, "Ben", 80.0)]


def test_a_tie_at_the_last_place_keeps_the_lowest_keys(topn, topn_db):
    # Cid, Dan and Eve tie at 50 for places 3-5: the key decides, on every engine.
    assert _same(
        topn,
        topn_db,
        TOP_BILLED + 'ORDER BY "Facts"."Billed" DESC LIMIT 4',
        """SELECT c.customer_id, c.name, sum(i.billed) AS billed
           FROM invoice i JOIN customer c USING (customer_id)
           GROUP BY c.customer_id, c.name ORDER BY billed DESC, c.customer_id LIMIT 4""",
    ) == [(1, "Ana", 100.0), (2, "Ben", 80.0), (3, "Cid", 50.0), (4, "Dan", 50.0)]


def test_a_descending_key_in_the_request_breaks_the_tie_the_other_way(topn, topn_db):
    assert _same(
        topn,
        topn_db,
        TOP_BILLED + 'ORDER BY "Facts"."Billed" DESC, "Customer"."Customer Id" DESC LIMIT 3',
        """SELECT c.customer_id, c.name, sum(i.billed) AS billed
           FROM invoice i JOIN customer c USING (customer_id)
           GROUP BY c.customer_id, c.name ORDER BY billed DESC, c.customer_id DESC LIMIT 3""",
    ) == [(1, "Ana", 100.0), (2, "Ben", 80.0), (5, "Eve", 50.0)]


def test_a_row_filtered_user_is_ranked_among_the_customers_they_may_see(topn, topn_db):
    # Unfiltered, Ana would be first; North's own top two are Ben and Cid (Cid before Eve).
    request = TOP_BILLED + 'ORDER BY "Facts"."Billed" DESC LIMIT 2'
    assert _ranked_first(topn, request, user="north")
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, c.name, sum(i.billed) AS billed
           FROM invoice i JOIN customer c USING (customer_id) JOIN area a USING (area_id)
           WHERE a.name = 'North'
           GROUP BY c.customer_id, c.name ORDER BY billed DESC, c.customer_id LIMIT 2""",
        user="north",
    ) == [(2, "Ben", 80.0), (3, "Cid", 50.0)]


def test_a_dimension_filter_applies_before_the_ranking(topn, topn_db):
    request = TOP_BILLED + (
        'WHERE "Customer"."Area" = \'South\' OR "Customer"."Name" = \'Fay\' '
        'ORDER BY "Facts"."Billed" ASC LIMIT 2'
    )
    assert _ranked_first(topn, request)
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, c.name, sum(i.billed) AS billed
           FROM invoice i JOIN customer c USING (customer_id) LEFT JOIN area a USING (area_id)
           WHERE a.name = 'South' OR c.name = 'Fay'
           GROUP BY c.customer_id, c.name ORDER BY billed, c.customer_id LIMIT 2""",
    ) == [(6, "Fay", 10.0), (4, "Dan", 50.0)]


def test_the_area_of_each_ranked_customer_is_looked_up_through_the_customer(topn, topn_db):
    request = (
        'SELECT "Customer"."Customer Id", "Customer"."Area", "Facts"."# Invoices" FROM "Top" '
        'ORDER BY "Facts"."# Invoices" DESC LIMIT 3'
    )
    assert _ranked_first(topn, request)
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, a.name, count(*) AS n
           FROM invoice i JOIN customer c USING (customer_id) LEFT JOIN area a USING (area_id)
           GROUP BY c.customer_id, a.name ORDER BY n DESC, c.customer_id LIMIT 3""",
    ) == [(1, "South", 2), (4, "South", 2), (2, "North", 1)]


def test_a_ratio_and_a_measure_filter_are_computed_before_the_limit(topn, topn_db):
    # Average bill: Ana 50, Ben 80, Cid 50, Dan 25, Eve 50, Fay 10; Ana and Dan have 2 bills.
    request = (
        'SELECT "Customer"."Customer Id", "Facts"."Average Bill" FROM "Top" '
        'WHERE "Facts"."# Invoices" = 1 ORDER BY "Facts"."Average Bill" DESC LIMIT 2 OFFSET 1'
    )
    assert _ranked_first(topn, request)
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT customer_id, sum(billed) / count(*) AS average
           FROM invoice GROUP BY customer_id HAVING count(*) = 1
           ORDER BY average DESC, customer_id LIMIT 2 OFFSET 1""",
    ) == [(3, 50.0), (5, 50.0)]


def test_payments_without_integrity_rank_dangling_keys_as_one_missing_customer(topn, topn_db):
    # Keys 98, 99 and NULL total 70 under one NULL customer, above Ana's 65. Ranking by
    # payment.customer_id would rank 98 (30) and 99 (25) apart, and drop that row.
    request = TOP_PAID + 'ORDER BY "Facts"."Paid" DESC LIMIT 2'
    assert not _ranked_first(topn, request)
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, c.name, sum(p.paid) AS paid
           FROM payment p LEFT JOIN customer c USING (customer_id)
           GROUP BY c.customer_id, c.name ORDER BY paid DESC LIMIT 2""",
    ) == [(None, None, 70.0), (1, "Ana", 65.0)]


def test_a_row_filter_that_drops_missing_customers_lets_payments_rank_first(topn, topn_db):
    # North's filter on the area is false for a payment without a customer, so every row
    # left has one and its key is the customer's.
    request = TOP_PAID + 'ORDER BY "Facts"."Paid" DESC LIMIT 1'
    assert _ranked_first(topn, request, user="north")
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, c.name, sum(p.paid) AS paid
           FROM payment p JOIN customer c USING (customer_id) JOIN area a USING (area_id)
           WHERE a.name = 'North' GROUP BY c.customer_id, c.name ORDER BY paid DESC LIMIT 1""",
        user="north",
    ) == [(2, "Ben", 60.0)]


def test_sorting_by_a_name_keeps_the_plain_plan(topn, topn_db):
    request = TOP_BILLED + 'ORDER BY "Facts"."Billed" DESC, "Customer"."Name" DESC LIMIT 3'
    assert not _ranked_first(topn, request)
    assert _same(
        topn,
        topn_db,
        request,
        """SELECT c.customer_id, c.name, sum(i.billed) AS billed
           FROM invoice i JOIN customer c USING (customer_id)
           GROUP BY c.customer_id, c.name ORDER BY billed DESC, c.name DESC LIMIT 3""",
    ) == [(1, "Ana", 100.0), (2, "Ben", 80.0), (5, "Eve", 50.0)]


def test_a_grain_without_the_key_keeps_the_plain_plan(topn):
    request = (
        'SELECT "Customer"."Name", "Facts"."Billed" FROM "Top" '
        'ORDER BY "Facts"."Billed" DESC LIMIT 2'
    )
    assert not _ranked_first(topn, request)
    assert rows(topn.query(request).df, ordered=True) == [("Ana", 100.0), ("Ben", 80.0)]
