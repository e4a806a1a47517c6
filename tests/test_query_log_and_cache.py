"""Every request leaves one row in the query log; results are cached per physical SQL, so a
restricted user is never served someone else's rows, and a reload or a time to live ends them."""

from __future__ import annotations

import os
import shutil
import time

import duckdb
import pytest

from engine import Engine, LogicalSQLError
from store import open_store, recent_queries
from tests.conftest import TINY

BY_TYPE = 'SELECT "Customer"."Type", "Facts"."Billed" FROM "Tiny" ORDER BY 1'


@pytest.fixture
def engine(tmp_path, tiny_db):
    """A tiny engine with its own store, cache and a private copy of the warehouse."""
    model = tmp_path / "model"
    shutil.copytree(TINY, model)
    db = tmp_path / "tiny.duckdb"
    shutil.copy(tiny_db, db)
    (model / "physical.yaml").write_text(
        (model / "physical.yaml").read_text().replace("${TINY_DB}", str(db))
    )
    from engine.cache import ResultCache

    eng = Engine(
        Engine.open(model).model, f"sqlite:///{tmp_path}/app.db", ResultCache(tmp_path / "c")
    )
    yield eng
    eng.close()


def _log(engine: Engine):
    engine.log.flush()
    with open_store(engine._store_url) as store:
        return recent_queries(store, last=100)


def test_a_request_writes_one_log_row_with_sql_timings_and_rows(engine):
    result = engine.query(BY_TYPE)
    [entry] = _log(engine)
    assert entry.request_id == result.request_id
    assert (entry.user_name, entry.logical_sql, entry.physical_sql) == (
        "anonymous",
        BY_TYPE,
        result.sql,
    )
    assert entry.dialect == "duckdb" and entry.model_hash == engine.model.hash
    assert entry.rows == 2 and entry.cache == "miss" and entry.error is None
    assert all(
        ms is not None and ms >= 0
        for ms in (
            entry.parse_ms,
            entry.resolve_ms,
            entry.plan_ms,
            entry.generate_ms,
            entry.execute_ms,
            entry.fetch_ms,
        )
    )


def test_a_refused_request_is_logged_with_its_error(engine):
    with pytest.raises(LogicalSQLError):
        engine.query('SELECT "Customer"."Nmae" FROM "Tiny"')
    [entry] = _log(engine)
    assert "not found or not permitted" in entry.error and entry.physical_sql is None


def test_the_same_request_again_is_a_cache_hit_with_the_same_rows(engine):
    first, again = engine.query(BY_TYPE), engine.query(BY_TYPE)
    assert (first.cache, again.cache) == ("miss", "hit")
    assert again.df.equals(first.df)
    assert [e.cache for e in _log(engine)] == ["hit", "miss"]


def test_another_process_finds_the_cached_result(engine):
    engine.query(BY_TYPE)
    other = Engine(engine.model, engine._store_url, engine.cache)
    assert other.query(BY_TYPE).cache == "hit"


def test_a_reloaded_warehouse_is_never_answered_from_older_results(engine, tmp_path):
    engine.query(BY_TYPE)
    engine.close()
    db = tmp_path / "tiny.duckdb"
    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(db, rebuilt)
    with duckdb.connect(str(rebuilt)) as con:
        con.execute("UPDATE invoice SET billed = billed * 2")
    os.replace(rebuilt, db)  # as `strata demo` swaps in a new warehouse
    result = Engine(engine.model, engine._store_url, engine.cache).query(BY_TYPE)
    assert result.cache == "miss"
    assert result.df["Billed"].tolist() == [200.0, 130.0]


def test_a_result_older_than_its_tables_time_to_live_is_run_again(engine, tmp_path):
    model = tmp_path / "model"
    physical = model / "physical.yaml"
    physical.write_text(
        physical.read_text().replace(
            "- name: invoice\n", "- name: invoice\n        cache_ttl: 3600\n"
        )
    )
    ttl_engine = Engine(Engine.open(model).model, engine._store_url, engine.cache)
    ttl_engine.query(BY_TYPE)
    assert ttl_engine.query(BY_TYPE).cache == "hit"
    two_hours_ago = time.time() - 7200
    for entry in engine.cache.folder.glob("*.arrow"):
        os.utime(entry, (two_hours_ago, two_hours_ago))
    assert ttl_engine.query(BY_TYPE).cache == "miss"


def test_clearing_the_cache_makes_the_next_request_a_miss(engine):
    engine.query(BY_TYPE)
    assert engine.cache.clear() == 1
    assert engine.query(BY_TYPE).cache == "miss"


def test_a_zenica_user_after_an_administrator_warmed_the_cache_gets_zenica_rows(demo):
    request = 'SELECT "Customer"."Distribution Area", "Facts"."# Customers" FROM "Campaigns"'
    demo.cache.clear()  # the cache outlives engines: another test may have asked this as zenica
    demo.query(request, user="admin")
    assert demo.query(request, user="admin").cache == "hit"
    zenica = demo.query(request, user="zenica.office")
    assert zenica.cache == "miss" and zenica.df["Distribution Area"].tolist() == ["Zenica"]
    assert demo.query(request, user="zenica.office").df["Distribution Area"].tolist() == ["Zenica"]
