"""Nothing a user writes reaches the database as SQL text: only presentation columns,
literals and whitelisted words (EXTRACT's date parts, type names) get through."""

import duckdb
import pytest

from engine import LogicalSQLError

# Each smuggles a subquery over a physical table through a place sqlglot writes back raw.
SMUGGLED = [
    'SELECT "Customer"."Type", EXTRACT("year FROM DATE \'2020-01-01\') || '
    "(SELECT string_agg(name, ',') FROM customer) || EXTRACT(year\" FROM CURRENT_DATE) "
    'AS leak FROM "Tiny"',
    'SELECT CAST("Customer"."Type" AS VARCHAR("1)) || (SELECT 1) || CAST(1 AS VARCHAR(1")) '
    'FROM "Tiny"',
    'SELECT CAST("Customer"."Type" AS "x) || (SELECT 1) || CAST(1 AS VARCHAR") FROM "Tiny"',
]


@pytest.mark.parametrize("request_text", SMUGGLED, ids=["extract-part", "type-param", "type-name"])
def test_sql_smuggled_through_raw_words_is_refused(tiny, request_text):
    with pytest.raises(LogicalSQLError):
        tiny.query(request_text)


def test_a_comment_in_the_request_does_not_reach_the_sql(tiny):
    sql = tiny.explain(
        'SELECT "Customer"."Name" /* one */ FROM "Tiny" -- two\n'
        'WHERE "Customer"."Customer Id" = 1 /* three */'
    )
    assert "/*" not in sql and "--" not in sql
    assert "one" not in sql and "two" not in sql and "three" not in sql


def test_whitelisted_date_parts_and_types_still_work(tiny):
    result = tiny.query(
        'SELECT "Customer"."Name", CAST("Facts"."Billed" AS DECIMAL(10, 1)) AS "b", '
        'EXTRACT(YEAR FROM CAST(\'2025-03-01\' AS DATE)) AS "y" FROM "Tiny" '
        'WHERE "Customer"."Customer Id" = 1'
    )
    assert result.df.to_dict("records") == [{"Name": "Amra", "b": 30.0, "y": 2025}]


def test_a_cast_that_fails_on_a_row_is_null_not_an_error_quoting_the_value(tiny):
    # DuckDB may test a condition on a row before the row filter removes it: an error
    # quoting the value would reveal a hidden row, so every CAST is written as TRY_CAST.
    request = (
        'SELECT "Customer"."Name", CAST("Customer"."Name" AS INT) AS "n" FROM "Tiny" '
        'WHERE "Customer"."Customer Id" = 1'
    )
    assert "TRY_CAST(" in tiny.explain(request)
    result = tiny.query(request)
    assert result.df["Name"].tolist() == ["Amra"]
    assert result.df["n"].isna().tolist() == [True]
    with pytest.raises(duckdb.ConversionException, match="Amra"):  # what a plain CAST does
        duckdb.sql("SELECT CAST('Amra' AS INT)").fetchall()


def test_try_cast_is_refused_because_postgres_would_raise_instead(tiny):
    with pytest.raises(LogicalSQLError, match="TRY_CAST"):
        tiny.explain('SELECT TRY_CAST("Customer"."Name" AS INT) FROM "Tiny"')


def test_an_unknown_command_is_named_as_written(tiny):
    with pytest.raises(LogicalSQLError, match="not INSTALL"):
        tiny.explain("INSTALL httpfs")
