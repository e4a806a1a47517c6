"""Bad Logical SQL gets a clear error naming the offender and, where possible, a fix."""

import pytest

from engine import LogicalSQLError


def _error(engine, sql: str) -> str:
    with pytest.raises(LogicalSQLError) as caught:
        engine.explain(sql)
    return str(caught.value)


def test_unknown_column_names_it_and_suggests_the_closest(tiny):
    message = _error(tiny, 'SELECT "Customer"."Nmae" FROM "Tiny"')
    assert '"Customer"."Nmae" not found' in message
    assert 'did you mean "Customer"."Name"?' in message


def test_unknown_subject_area_lists_the_ones_there_are(tiny):
    message = _error(tiny, 'SELECT "Customer"."Name" FROM "Tinny"')
    assert 'subject area "Tinny" not found' in message and '"Tiny", "Areas"' in message


def test_physical_column_is_refused(tiny):
    message = _error(tiny, 'SELECT customer.name FROM "Tiny"')
    assert "physical names are not allowed" in message


def test_physical_table_in_from_is_refused(tiny):
    assert "is a physical table, not a subject area" in _error(tiny, "SELECT name FROM customer")


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE customer",
        "DELETE FROM customer",
        "INSERT INTO area VALUES (9, 'x')",
        "UPDATE customer SET name = 'x'",
        "CREATE TABLE t (x INT)",
    ],
)
def test_ddl_and_dml_are_refused(tiny, statement):
    assert "only SELECT requests are allowed" in _error(tiny, statement)


def test_several_statements_are_refused(tiny):
    message = _error(tiny, 'SELECT "Customer"."Name" FROM "Tiny"; DROP TABLE customer')
    assert "one statement at a time" in message


def test_raw_sql_pass_through_is_refused(tiny):
    assert "raw SQL" in _error(tiny, "SELECT EVALUATE('version()') FROM \"Tiny\"")


def test_syntax_error_gives_line_and_column(tiny):
    assert _error(tiny, 'SELECT "Customer"."Name"\nFROM WHERE').startswith("line 2, col")


def test_aggregate_functions_point_to_measures(tiny):
    assert "measures aggregate themselves" in _error(
        tiny, 'SELECT COUNT("Customer"."Name") FROM "Tiny"'
    )


def test_a_condition_mixing_attribute_and_measure_is_refused(tiny):
    message = _error(
        tiny,
        'SELECT "Customer"."Name" FROM "Tiny" '
        'WHERE "Customer"."Type" = \'x\' OR "Facts"."Billed" > 1',
    )
    assert 'mixes the attribute "Customer"."Type" with measures' in message


def test_a_measure_without_a_join_path_names_both_columns(tiny):
    message = _error(tiny, 'SELECT "Service"."Service", "Facts"."Billed" FROM "Tiny"')
    assert '"Facts"."Billed" cannot be combined with "Service"."Service"' in message


def test_user_values_become_literals_not_sql_text(tiny):
    request = (
        'SELECT "Customer"."Name" FROM "Tiny" '
        "WHERE \"Customer\".\"Name\" = 'O''Brien; DROP TABLE x'"
    )
    assert "'O''Brien; DROP TABLE x'" in tiny.explain(request)
    assert tiny.query(request).rows == 0


def test_a_request_the_database_refuses_raises_a_strata_error_with_its_reason(tiny):
    from physical.backend import QueryError

    with pytest.raises(QueryError) as caught:
        tiny.query('SELECT "Customer"."Customer Id" * 2000000000 AS "n" FROM "Tiny"')
    assert "the database refused the query: Out of Range Error" in str(caught.value)


def test_a_cast_the_data_cannot_satisfy_is_null_not_an_error(tiny):
    result = tiny.query('SELECT CAST("Customer"."Name" AS INTEGER) AS "n" FROM "Tiny"')
    assert result.df["n"].isna().all()


@pytest.mark.parametrize(
    "clause",
    ["FETCH FIRST 20 PERCENT ROWS ONLY", 'ORDER BY "Customer"."Type" FETCH FIRST 1 ROWS WITH TIES'],
)
def test_fetch_percent_and_with_ties_are_refused_not_ignored(tiny, clause):
    assert "not supported" in _error(tiny, f'SELECT "Customer"."Type" FROM "Tiny" {clause}')


def test_distinct_on_is_refused_not_ignored(tiny):
    message = _error(tiny, 'SELECT DISTINCT ON ("Customer"."Type") "Customer"."Name" FROM "Tiny"')
    assert "DISTINCT ON" in message


def test_sorting_by_a_column_not_selected_is_refused_rather_than_regrouped(tiny):
    message = _error(tiny, 'SELECT "Facts"."Billed" FROM "Tiny" ORDER BY "Customer"."Area"')
    assert 'ORDER BY "Customer"."Area" sorts by a column that is not selected' in message


def test_sorting_by_a_measure_not_selected_is_refused_rather_than_joined(tiny):
    message = _error(tiny, 'SELECT "Customer"."Name" FROM "Tiny" ORDER BY "Facts"."Billed" DESC')
    assert "not selected" in message


def test_a_request_of_constants_only_is_refused(tiny):
    assert "select at least one presentation column" in _error(tiny, 'SELECT 1 FROM "Tiny"')


@pytest.mark.parametrize(
    "request_text",
    [
        'SELECT "Customer"."Name" FROM "Tiny" WHERE ' + "(" * 60 + "1 = 1" + ")" * 60,
        'SELECT "Customer"."Name" FROM "Tiny" WHERE '
        + " AND ".join(f'"Customer"."Customer Id" <> {i}' for i in range(1500)),
    ],
    ids=["nested-parentheses", "many-conditions"],
)
def test_very_deep_requests_get_an_error_or_an_answer_never_a_crash(tiny, request_text):
    try:
        tiny.explain(request_text)
    except LogicalSQLError as e:
        assert "nested too deeply" in str(e)


def test_case_insensitive_names_work_when_a_folder_shares_a_table_name(tiny):
    sql = tiny.explain('SELECT "customer"."customer id" FROM "Tiny"')
    assert '"customer"."customer_id"' in sql
