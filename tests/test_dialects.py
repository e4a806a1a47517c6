"""Each construct that sqlglot writes wrongly for PostgreSQL or Spark (shared/notes/engines.md)
gives the hand-computed answer on all three engines once `engine.dialects.portable` has
rewritten it; what has no portable form is refused when the SQL is generated.

The table is four rows a reader can check with a calendar:
  id  a           b           amount   x
  1   2024-01-31  2024-03-01    2.50    -2.5   (Wednesday; 2 month boundaries, 30 days)
  2   2023-12-31  2024-01-01  325.67     1.49  (Sunday; 1 month, 1 year boundary, 1 day)
  3   2024-02-29  2024-02-29   -2.50     2.5   (Thursday; nothing between)
  4   2025-06-01  2024-06-01    1.49   325.67  (Sunday; 12 months and 365 days back)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import psycopg
import pytest
import sqlglot
from sqlglot.optimizer.qualify import qualify

from engine.dialects import portable
from engine.errors import LogicalSQLError
from physical.backend import connect
from physical.types import column_types
from semantic.errors import SourceSpan
from semantic.model import Database
from tests.conftest import rows
from tests.engines_fixtures import pg_database

D = dt.date
ROWS = [
    (1, D(2024, 1, 31), D(2024, 3, 1), Decimal("2.50"), -2.5),
    (2, D(2023, 12, 31), D(2024, 1, 1), Decimal("325.67"), 1.49),
    (3, D(2024, 2, 29), D(2024, 2, 29), Decimal("-2.50"), 2.5),
    (4, D(2025, 6, 1), D(2024, 6, 1), Decimal("1.49"), 325.67),
]
COLUMNS = {"id": "INT", "a": "DATE", "b": "DATE", "amount": "DECIMAL(10,2)", "x": "DOUBLE"}
SCHEMA = {"d": COLUMNS}
DDL = "CREATE TABLE d (id INT, a DATE, b DATE, amount DECIMAL(10,2), x DOUBLE PRECISION)"

CASES = {
    # DuckDB's dayofweek: 0 = Sunday; isodow: 1 = Monday .. 7 = Sunday.
    "day of week": (
        "SELECT id, dayofweek(a), isodow(a) FROM d ORDER BY id",
        [(1, 3, 3), (2, 0, 7), (3, 4, 4), (4, 0, 7)],
    ),
    # Boundaries crossed, as DuckDB counts; Spark's own DATEDIFF(MONTH) would say 1 for row 1.
    "date differences": (
        "SELECT id, date_diff('month', a, b), date_diff('year', a, b), date_diff('day', a, b) "
        "FROM d ORDER BY id",
        [(1, 2, 0, 30), (2, 1, 1, 1), (3, 0, 0, 0), (4, -12, -1, -365)],
    ),
    "date minus date is days": (
        "SELECT id, b - a FROM d ORDER BY id",
        [(1, 30), (2, 1), (3, 0), (4, -365)],
    ),
    # Half away from zero, as DuckDB and PostgreSQL round; Spark alone would truncate.
    "integer cast rounds": (
        "SELECT id, CAST(amount AS INTEGER) FROM d ORDER BY id",
        [(1, 3), (2, 326), (3, -3), (4, 1)],
    ),
    "make_date": ("SELECT make_date(2024, 2, 1)", [(D(2024, 2, 1),)]),
    # Sorted x: -2.5, 1.49, 2.5, 325.67. Median (1.49 + 2.5) / 2; p90 at position 2.7:
    # 2.5 + 0.7 * (325.67 - 2.5) = 228.719.
    "quantiles": (
        "SELECT median(x), quantile_cont(x, 0.9) FROM d",
        [(1.995, 228.719)],
    ),
    # 325.67 / 3 = 108.556..., -2.50 / 3 = -0.833...
    "round of a decimal division": (
        "SELECT id, ROUND(amount / 3, 2) FROM d ORDER BY id",
        [(1, 0.83), (2, 108.56), (3, -0.83), (4, 0.5)],
    ),
}


@pytest.fixture(scope="module")
def engines(request, tmp_path_factory):
    """A runner per engine: (DuckDB SQL) -> rows, each engine holding table d."""
    duck = duckdb.connect()
    duck.execute(DDL.replace("DOUBLE PRECISION", "DOUBLE"))
    duck.executemany("INSERT INTO d VALUES (?, ?, ?, ?, ?)", ROWS)

    url = pg_database(request.getfixturevalue("pg_server"), "dialects")
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute(DDL)
        setup.cursor().executemany("INSERT INTO d VALUES (%s, %s, %s, %s, %s)", ROWS)
    pg = connect(Database("pg", "postgres", (("url", url),), SourceSpan("t", 1, 1)))

    spark = request.getfixturevalue("spark")
    schema = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
    spark.createDataFrame(ROWS, schema).createOrReplaceTempView("d")
    sp = connect(Database("sp", "spark", (("master", "local[2]"),), SourceSpan("t", 1, 1)))

    def on(backend, dialect):
        def run(sql: str):
            # Qualified and annotated, as the engine's own trees are.
            tree = qualify(sqlglot.parse_one(sql, read="duckdb"), schema=SCHEMA, dialect="duckdb")
            column_types(tree, SCHEMA)
            text = portable(tree, dialect).sql(dialect)
            return [tuple(r.values()) for r in backend.run(text).to_pylist()]

        return run

    yield {
        "duckdb": lambda sql: duck.execute(sql).fetchall(),
        "postgres": on(pg, "postgres"),
        "spark": on(sp, "spark"),
    }
    pg.close()
    duck.close()


def _norm(found: list[tuple]) -> list[tuple]:
    import pandas as pd

    return rows(pd.DataFrame(found), ordered=True)


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "spark"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_construct_gives_the_hand_computed_answer_on_every_engine(case, engine, engines):
    sql, expected = CASES[case]
    assert _norm(engines[engine](sql)) == _norm(expected)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT a FROM d QUALIFY ROW_NUMBER() OVER (ORDER BY a) = 1", "cannot generate QUALIFY"),
        ("SELECT list_aggregate([1], 'sum') FROM d", r"function list_aggregate\(\) is not known"),
        ("SELECT strftime(a, '%Y-%W') FROM d", "strftime pattern %W is not portable"),
        ("SELECT date_diff('week', a, b) FROM d", "date_diff by week has no portable form"),
    ],
)
@pytest.mark.parametrize("dialect", ["postgres", "spark"])
def test_construct_without_a_portable_form_is_refused_with_the_reason(sql, reason, dialect):
    with pytest.raises(LogicalSQLError, match=reason):
        portable(sqlglot.parse_one(sql, read="duckdb"), dialect)


def test_duckdb_trees_are_left_as_written():
    tree = sqlglot.parse_one("SELECT dayofweek(a), CAST(x AS INT) FROM d QUALIFY 1 = 1", "duckdb")
    assert portable(tree.copy(), "duckdb") == tree
