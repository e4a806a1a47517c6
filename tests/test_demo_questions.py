"""The demo answers its users' questions; each answer is checked against hand-written SQL."""

from __future__ import annotations

import json

from tests.conftest import DEMO_CUSTOMERS, hand, rows, strata

SEED = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email" '
    'FROM "Campaigns" WHERE "Customer"."Customer Type" = \'Household\' '
    'AND "Customer"."Distribution Area" = \'Sarajevo\' AND "E-Services"."Service" = \'e-bill\''
)


def test_seed_question_lists_sarajevo_households_with_e_bill_and_their_email(demo, demo_db):
    expected = hand(
        demo_db,
        """
        SELECT DISTINCT c.customer_id, c.name, k.email
        FROM customer c
        JOIN municipality m ON m.municipality_id = c.municipality_id
        JOIN area a ON a.area_id = m.area_id
        JOIN contact k ON k.customer_id = c.customer_id
        WHERE c.customer_type = 'Household' AND a.name = 'Sarajevo'
          AND EXISTS (SELECT 1 FROM subscription s JOIN e_service e ON e.service_id = s.service_id
                      WHERE s.customer_id = c.customer_id AND e.code = 'e-bill')""",
    )
    result = demo.query(SEED)
    assert list(result.df.columns) == ["Customer Id", "Customer Name", "Email"]
    assert len(expected) > 0
    assert rows(result.df) == rows(expected)


def test_customers_and_billed_amount_by_area_come_from_two_facts(demo, demo_db):
    result = demo.query(
        'SELECT "Customer"."Distribution Area", "Facts"."# Customers", "Facts"."Billed Amount" '
        'FROM "Campaigns"'
    )
    expected = hand(
        demo_db,
        """
        WITH c AS (SELECT a.name AS area, COUNT(*) AS n FROM customer c
                   LEFT JOIN municipality m USING (municipality_id)
                   LEFT JOIN area a ON a.area_id = m.area_id GROUP BY a.name),
             b AS (SELECT a.name AS area, SUM(i.billed_amount) AS billed FROM invoice i
                   JOIN customer c USING (customer_id)
                   LEFT JOIN municipality m USING (municipality_id)
                   LEFT JOIN area a ON a.area_id = m.area_id GROUP BY a.name)
        SELECT COALESCE(c.area, b.area), c.n, b.billed
        FROM c FULL JOIN b ON c.area IS NOT DISTINCT FROM b.area""",
    )
    assert rows(result.df) == rows(expected)
    assert result.df["# Customers"].sum() == DEMO_CUSTOMERS


def test_collection_rate_by_year_is_paid_over_billed(demo, demo_db):
    result = demo.query(
        'SELECT "Time"."Year", "Facts"."Collection Rate" FROM "Billing" ORDER BY "Time"."Year"'
    )
    expected = hand(
        demo_db,
        """
        SELECT k.year, SUM(i.paid_amount) / SUM(i.billed_amount) FROM invoice i
        JOIN calendar k ON k.date = i.period GROUP BY k.year ORDER BY k.year""",
    )
    assert rows(result.df, ordered=True) == rows(expected, ordered=True)
    assert [r[0] for r in rows(result.df, ordered=True)] == [2024, 2025, 2026]


def test_strata_query_answers_the_seed_question_as_csv(demo, demo_db):
    done = strata("query", "--format", "csv", SEED + ' ORDER BY "Customer"."Customer Id"')
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr  # nothing may hold DuckDB objects at exit
    lines = done.stdout.splitlines()
    assert lines[0] == "Customer Id,Customer Name,Email"
    assert len(lines) - 1 == demo.query(SEED).rows


def test_strata_query_json_has_one_object_per_row(demo_db):
    # A dimension alone lists its members: the calendar covers 2015-2027.
    done = strata("query", "-f", "json", 'SELECT "Time"."Year" FROM "Billing" ORDER BY 1')
    assert json.loads(done.stdout) == [{"Year": year} for year in range(2015, 2028)]


def test_strata_query_bad_input_exits_2_with_a_message_and_no_traceback(demo_db):
    done = strata("query", 'SELECT "Customer"."Distributon Area" FROM "Campaigns"')
    assert done.returncode == 2
    assert 'did you mean "Customer"."Distribution Area"?' in done.stderr
    assert "Traceback" not in done.stderr


def test_strata_explain_prints_spark_sql_without_a_warehouse(tmp_path):
    done = strata(
        "explain",
        "--dialect",
        "spark",
        'SELECT "Time"."Year", "Facts"."Billed Amount" FROM "Billing"',
        STRATA_DATA=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    # Year questions read the monthly aggregate (aggregate navigation), quoted the Spark way.
    assert "`agg_invoice_month`" in done.stdout and "SUM(" in done.stdout


def test_strata_demo_is_idempotent_and_prints_where_it_wrote(demo_db):
    done = strata("demo", "--customers", str(DEMO_CUSTOMERS), "--seed", "7")
    assert done.returncode == 0
    assert str(demo_db) in done.stdout and "already up to date" in done.stdout


def test_missing_warehouse_says_how_to_build_it(tmp_path):
    done = strata("query", 'SELECT "Time"."Year" FROM "Billing"', STRATA_DATA=str(tmp_path))
    assert done.returncode == 2 and "strata demo" in done.stderr


def test_every_verb_has_help():
    for verb in ("demo", "check", "query", "explain", "serve"):
        done = strata(verb, "--help")
        assert done.returncode == 0 and "Usage" in done.stdout, verb


def test_strata_users_lists_roles_and_resolved_variables(demo_db):
    done = strata("users")
    assert done.returncode == 0, done.stderr
    assert "zenica.office: roles area office\n  AREAS = Zenica\n" in done.stdout
    assert "admin (administrator)" in done.stdout


def test_strata_query_runs_as_the_named_user(demo_db):
    done = strata(
        "query",
        "-f",
        "csv",
        "--user",
        "zenica.office",
        'SELECT "Customer"."Distribution Area" FROM "Campaigns"',
    )
    assert done.stdout.splitlines() == ["Distribution Area", "Zenica"]


def test_strata_log_shows_the_latest_requests_of_a_user(demo_db):
    strata("query", "--user", "tuzla.mostar", 'SELECT "Time"."Year" FROM "Billing"')
    done = strata("log", "--user", "tuzla.mostar", "--last", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert " tuzla.mostar " in lines[0] and "row(s)" in lines[0]
    assert lines[1].strip() == 'SELECT "Time"."Year" FROM "Billing"'


def test_strata_cache_clear_empties_the_cache(demo_db):
    request = 'SELECT "Customer"."Customer Type" FROM "Campaigns"'
    strata("query", request)
    assert "removed" in strata("cache", "clear").stdout
    assert strata("cache", "clear").stdout.strip() == "removed 0 cached result(s)"
