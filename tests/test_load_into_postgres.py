"""Loading a DuckDB warehouse into PostgreSQL leaves it ready to plan, as a DBA would."""

from __future__ import annotations

import duckdb
import psycopg

from physical.load import load_into
from tests.engines_fixtures import pg_database
from tests.store_fixtures import pg_server  # noqa: F401  (fixture)


def _warehouse(path):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE region (id INTEGER PRIMARY KEY, name VARCHAR)")
        con.execute("INSERT INTO region VALUES (1, 'Sarajevo'), (2, 'Zenica'), (3, 'Tuzla')")
    return path


def test_loaded_tables_carry_their_rows_and_planner_statistics(pg_server, tmp_path):  # noqa: F811
    url = pg_database(pg_server, "loaded")
    loaded = load_into(_warehouse(tmp_path / "w.duckdb"), url)
    assert loaded.tables == (("region", 3),)
    with psycopg.connect(url) as pg:
        stats = pg.execute(
            # reltuples is -1 until a VACUUM or ANALYZE has looked at the table
            "SELECT c.reltuples, s.last_analyze IS NOT NULL, s.last_vacuum IS NOT NULL "
            "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.relname = 'region'"
        ).fetchone()
        names = pg.execute("SELECT name FROM region ORDER BY id").fetchall()
    assert stats == (3, True, True)
    assert names == [("Sarajevo",), ("Zenica",), ("Tuzla",)]
