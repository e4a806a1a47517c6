"""Two facts over a shared dimension: the stitch keeps each fact's own answer."""

from tests.conftest import hand, rows

TWO_FACTS = 'SELECT "Customer"."Area", "Facts"."Billed", "Facts"."# Subscriptions" FROM "Tiny"'


def test_two_facts_return_what_each_fact_returns_alone(tiny):
    both = tiny.query(TWO_FACTS).df.set_index("Area")
    billed = tiny.query('SELECT "Customer"."Area", "Facts"."Billed" FROM "Tiny"').df.set_index(
        "Area"
    )
    subs = tiny.query(
        'SELECT "Customer"."Area", "Facts"."# Subscriptions" FROM "Tiny"'
    ).df.set_index("Area")
    assert both["Billed"].to_dict() == billed["Billed"].to_dict()
    assert both["# Subscriptions"].to_dict() == subs["# Subscriptions"].to_dict()


def test_sarajevo_billed_is_60_where_a_naive_join_gives_90(tiny, tiny_db):
    # Sarajevo: Amra billed 10 + 20 (one subscription), Bakir billed 30 (two subscriptions).
    # Joining invoices to subscriptions repeats Bakir's invoice: 10 + 20 + 30 * 2 = 90.
    naive = hand(
        tiny_db,
        """
        SELECT a.name, SUM(i.billed), COUNT(DISTINCT s.subscription_id)
        FROM invoice i JOIN customer c USING (customer_id) JOIN area a USING (area_id)
        JOIN subscription s ON s.customer_id = c.customer_id
        WHERE a.name = 'Sarajevo' GROUP BY a.name""",
    )
    assert rows(naive) == [("Sarajevo", 90.0, 3)]
    stitched = tiny.query(TWO_FACTS + ' WHERE "Customer"."Area" = \'Sarajevo\'')
    assert rows(stitched.df) == [("Sarajevo", 60.0, 3)]


def test_stitch_uses_is_not_distinct_from_and_never_the_or_is_null_form(tiny):
    sql = tiny.explain(TWO_FACTS)
    assert "IS NOT DISTINCT FROM" in sql and "FULL OUTER JOIN" in sql
    assert " IS NULL" not in sql


def test_every_division_is_guarded_by_nullif(tiny):
    sql = tiny.explain('SELECT "Customer"."Type", "Facts"."Unpaid Share" FROM "Tiny"')
    assert sql.count(" / ") == sql.count("/ NULLIF(") == 1


def test_a_fact_is_summed_by_its_join_keys_before_its_dimensions_are_joined(tiny):
    sql = tiny.explain('SELECT "Customer"."Area", "Facts"."Billed" FROM "Tiny"')
    assert 'GROUP BY "invoice"."customer_id") AS "invoice" LEFT JOIN "customer"' in sql


def test_households_of_a_service_are_read_from_customers_and_tested_with_exists(tiny):
    sql = tiny.explain(
        'SELECT "Customer"."Name" FROM "Tiny" '
        'WHERE "Customer"."Type" = \'Household\' AND "Service"."Service" = \'e-bill\''
    )
    assert 'FROM "customer" AS "customer"' in sql and 'EXISTS(SELECT 1 FROM "subscription"' in sql
