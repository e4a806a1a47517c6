"""The app store keeps what it was told, from several processes at once, on SQLite and PostgreSQL.

API tests run on both backends (PostgreSQL in a throwaway cluster, see store_fixtures.py). The
concurrency and crash tests run on SQLite, whose file locking is what they exercise.
"""

# Test functions take the imported fixtures as parameters, which pyflakes calls redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from store import (
    LATEST_VERSION,
    MIGRATIONS,
    AnalysisExists,
    AnalysisNotFound,
    Folder,
    QueryLogEntry,
    RetryPolicy,
    StoreBusy,
    StoreTooNew,
    connect_store,
    delete_analysis,
    get_analysis,
    list_analyses,
    log_query,
    mark_run,
    migrate,
    open_store,
    recent_queries,
    rename_analysis,
    save_analysis,
)
from store.analyses import NotYours
from store.schema import metadata, query_log, saved_analysis, schema_version
from tests.store_fixtures import app_store, pg_server, store_url  # noqa: F401  (fixtures)

BOTH = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
# Workers are started fresh (spawn), as separate programs are in production: no inherited
# connections, no copied locks.
SPAWN = multiprocessing.get_context("spawn")
WRITERS, WRITE_SECONDS = 4, 10.0


def _count(store, table) -> int:
    return store.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one())


# --- schema and migrations ---------------------------------------------------------------------


@BOTH
def test_a_fresh_store_is_migrated_once_and_records_its_version(store_url):
    with open_store(store_url) as first, open_store(store_url) as second:
        rows = second.read(lambda c: c.execute(select(schema_version)).all())
        assert [(r.version, r.name) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]
        assert migrate(first) == ()


@BOTH
def test_migrated_tables_have_the_columns_the_code_reads(app_store):
    def reflect(conn):
        inspector = inspect(conn)
        return {t: [c["name"] for c in inspector.get_columns(t)] for t in metadata.tables}

    expected = {name: [c.name for c in table.columns] for name, table in metadata.tables.items()}
    assert app_store.read(reflect) == expected


def _migrate_at_barrier(url: str, barrier: Any, results: Any) -> None:
    try:
        store = connect_store(url)
        barrier.wait()
        results.put(("ok", migrate(store)))
    except BaseException:
        results.put(("error", traceback.format_exc()))


@BOTH
def test_four_processes_opening_a_fresh_store_at_once_migrate_it_exactly_once(store_url):
    barrier, results = SPAWN.Barrier(4), SPAWN.Queue()
    workers = [
        SPAWN.Process(target=_migrate_at_barrier, args=(store_url, barrier, results))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    assert [o for o in outcomes if o[0] == "error"] == []
    # One process applied every migration; the other three found nothing to do.
    applied = sorted(o[1] for o in outcomes)
    assert applied == [(), (), (), tuple(m.version for m in MIGRATIONS)]
    with open_store(store_url) as store:
        # One row per migration (versions need not be contiguous across branches).
        assert _count(store, schema_version) == len(MIGRATIONS)


@BOTH
def test_a_store_migrated_by_a_newer_strata_is_refused(app_store, store_url):
    later = {"version": LATEST_VERSION + 1, "name": "from the future", "applied_by": "test"}
    app_store.write(
        lambda c: c.execute(schema_version.insert().values(**later, applied_at=datetime.now(UTC)))
    )
    with pytest.raises(StoreTooNew, match=f"schema version {LATEST_VERSION + 1}"):
        open_store(store_url)


# --- query log ---------------------------------------------------------------------------------


@BOTH
def test_a_logged_query_reads_back_with_every_field(app_store):
    entry = QueryLogEntry(
        user_name="alice",
        logical_sql='SELECT "Customer"."Region", "Sales"."Revenue" FROM "Retail"',
        subject_area="Retail",
        physical_sql="SELECT region, SUM(amount) FROM sales GROUP BY 1",
        dialect="duckdb",
        model_hash="9f2c",
        parse_ms=0.25,
        resolve_ms=0.5,
        plan_ms=0.125,
        generate_ms=1.0,
        execute_ms=12.5,
        fetch_ms=0.75,
        rows=4,
        cache="miss",
        error=None,
        at=datetime(2026, 11, 22, 9, 30, 15, 123456, tzinfo=UTC),
    )
    log_query(app_store, entry)
    assert recent_queries(app_store) == [entry]


@BOTH
def test_recent_queries_are_newest_first_and_can_be_limited_to_one_user(app_store):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute, user in enumerate(["alice", "bob", "alice", "alice"]):
        at = start + timedelta(minutes=minute)
        log_query(app_store, QueryLogEntry(user, f"q{minute}", at=at))
    assert [e.logical_sql for e in recent_queries(app_store)] == ["q3", "q2", "q1", "q0"]
    assert [e.logical_sql for e in recent_queries(app_store, user="alice", last=2)] == ["q3", "q2"]


@BOTH
def test_logging_the_same_request_twice_keeps_one_row(app_store):
    entry = QueryLogEntry("alice", "q", error="column not found")
    log_query(app_store, entry)
    log_query(app_store, entry)
    assert _count(app_store, query_log) == 1


# --- saved analyses ----------------------------------------------------------------------------


@BOTH
def test_a_saved_analysis_reads_back(app_store):
    saved = save_analysis(app_store, "alice", "Revenue", "SELECT 1", "Retail")
    assert get_analysis(app_store, "alice", "Revenue") == saved
    assert (saved.folder, saved.owner, saved.subject_area) == (Folder.MY, "alice", "Retail")
    assert saved.created_at == saved.updated_at and saved.last_run_at is None


@BOTH
def test_saving_under_an_existing_name_replaces_that_analysis(app_store):
    first = save_analysis(app_store, "alice", "Revenue", "SELECT 1", "Retail")
    second = save_analysis(app_store, "alice", "Revenue", "SELECT 2", "Sales")
    assert (second.id, second.created_at) == (first.id, first.created_at)
    assert (second.logical_sql, second.subject_area) == ("SELECT 2", "Sales")
    assert second.updated_at >= first.updated_at
    assert _count(app_store, saved_analysis) == 1


@BOTH
def test_a_name_is_unique_within_its_folder_only(app_store):
    # Alice's and Bob's My Folders are two folders; Shared is a third, one for everyone.
    save_analysis(app_store, "alice", "Revenue", "SELECT 1", "Retail")
    save_analysis(app_store, "bob", "Revenue", "SELECT 2", "Retail")
    save_analysis(app_store, "alice", "Revenue", "SELECT 3", "Retail", folder="shared")
    # An administrator saving "Revenue" to Shared replaces Alice's; she stays its owner.
    shared = save_analysis(
        app_store, "admin", "Revenue", "SELECT 4", "Retail", folder="shared", administrator=True
    )
    assert _count(app_store, saved_analysis) == 3
    assert (shared.owner, shared.logical_sql) == ("alice", "SELECT 4")


@BOTH
def test_only_the_owner_or_an_administrator_may_change_a_shared_analysis(app_store):
    save_analysis(app_store, "alice", "Revenue", "SELECT 1", "Retail", folder="shared")
    for change in (
        lambda: save_analysis(app_store, "bob", "Revenue", "SELECT 2", "Retail", folder="shared"),
        lambda: rename_analysis(app_store, "bob", "Revenue", "Mine", folder="shared"),
        lambda: delete_analysis(app_store, "bob", "Revenue", folder="shared"),
    ):
        with pytest.raises(NotYours, match="belongs to alice; bob may open it"):
            change()
    assert get_analysis(app_store, "bob", "Revenue", folder="shared").logical_sql == "SELECT 1"
    delete_analysis(app_store, "root", "Revenue", folder="shared", administrator=True)
    assert list_analyses(app_store, "alice") == []


@BOTH
def test_the_list_is_the_owners_folder_then_shared(app_store):
    save_analysis(app_store, "alice", "b", "SELECT 1", "Retail")
    save_analysis(app_store, "alice", "A", "SELECT 1", "Retail")
    save_analysis(app_store, "bob", "bobs own", "SELECT 1", "Retail")
    save_analysis(app_store, "bob", "team", "SELECT 1", "Retail", folder="shared")
    listed = [(a.folder.value, a.owner, a.name) for a in list_analyses(app_store, "alice")]
    assert listed == [("my", "alice", "A"), ("my", "alice", "b"), ("shared", "bob", "team")]


@BOTH
def test_a_renamed_analysis_is_found_under_its_new_name_only(app_store):
    saved = save_analysis(app_store, "alice", "Draft", "SELECT 1", "Retail")
    renamed = rename_analysis(app_store, "alice", "Draft", "Revenue")
    assert get_analysis(app_store, "alice", "Revenue").id == saved.id == renamed.id
    with pytest.raises(AnalysisNotFound):
        get_analysis(app_store, "alice", "Draft")


@BOTH
def test_renaming_onto_a_name_in_use_is_refused_and_changes_nothing(app_store):
    save_analysis(app_store, "alice", "Draft", "SELECT 1", "Retail")
    save_analysis(app_store, "alice", "Revenue", "SELECT 2", "Retail")
    with pytest.raises(AnalysisExists, match="'Revenue' already exists in alice's My Folder"):
        rename_analysis(app_store, "alice", "Draft", "Revenue")
    assert get_analysis(app_store, "alice", "Draft").logical_sql == "SELECT 1"
    assert get_analysis(app_store, "alice", "Revenue").logical_sql == "SELECT 2"


@BOTH
def test_deleting_removes_only_that_analysis(app_store):
    save_analysis(app_store, "alice", "Old", "SELECT 1", "Retail")
    save_analysis(app_store, "bob", "Old", "SELECT 1", "Retail")
    delete_analysis(app_store, "alice", "Old")
    assert list_analyses(app_store, "alice") == []
    assert [a.name for a in list_analyses(app_store, "bob")] == ["Old"]


@BOTH
def test_a_missing_name_is_reported_with_the_closest_name(app_store):
    save_analysis(app_store, "alice", "Revenue by Region", "SELECT 1", "Retail")
    save_analysis(app_store, "alice", "Churn", "SELECT 1", "Retail")
    for act in (
        lambda: get_analysis(app_store, "alice", "Revenue by Regoin"),
        lambda: rename_analysis(app_store, "alice", "Revenue by Regoin", "X"),
        lambda: delete_analysis(app_store, "alice", "Revenue by Regoin"),
        lambda: mark_run(app_store, "alice", "Revenue by Regoin"),
    ):
        with pytest.raises(AnalysisNotFound) as caught:
            act()
        assert str(caught.value) == (
            "no analysis named 'Revenue by Regoin' in alice's My Folder\n"
            "  hint: did you mean 'Revenue by Region'?"
        )


@BOTH
def test_marking_a_run_records_when(app_store):
    save_analysis(app_store, "alice", "Revenue", "SELECT 1", "Retail")
    ran = datetime(2026, 3, 1, 8, tzinfo=UTC)
    mark_run(app_store, "alice", "Revenue", at=ran)
    assert get_analysis(app_store, "alice", "Revenue").last_run_at == ran


# --- busy stores, concurrent writers, crashes (SQLite) -----------------------------------------


@SQLITE
def test_a_store_locked_past_the_budget_raises_store_busy(app_store, store_url):
    impatient = RetryPolicy(budget_s=0.3, busy_timeout_ms=50)
    holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with open_store(store_url, impatient) as store, pytest.raises(StoreBusy, match="busy"):
            log_query(store, QueryLogEntry("alice", "q"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    log_query(app_store, QueryLogEntry("alice", "q"))  # the lock gone, the write goes through
    assert _count(app_store, query_log) == 1


def _write_for(url: str, worker: int, seconds: float, barrier: Any, results: Any) -> None:
    queries = analyses = 0
    errors: list[str] = []
    try:
        store = open_store(url)
        barrier.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if queries <= analyses:
                log_query(store, QueryLogEntry(f"w{worker}", f"q{queries}"))
                queries += 1
            else:
                save_analysis(store, f"w{worker}", f"a{analyses}", "SELECT 1", "Retail")
                analyses += 1
    except BaseException:
        errors.append(traceback.format_exc())
    results.put({"worker": worker, "queries": queries, "analyses": analyses, "errors": errors})


@SQLITE
def test_four_processes_writing_for_ten_seconds_all_succeed_and_lose_nothing(app_store, store_url):
    barrier, results = SPAWN.Barrier(WRITERS), SPAWN.Queue()
    workers = [
        SPAWN.Process(target=_write_for, args=(store_url, n, WRITE_SECONDS, barrier, results))
        for n in range(WRITERS)
    ]
    for w in workers:
        w.start()
    reports = [results.get(timeout=WRITE_SECONDS + 60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    assert [r["errors"] for r in reports] == [[]] * WRITERS
    assert all(r["queries"] > 0 and r["analyses"] > 0 for r in reports), reports
    assert _count(app_store, query_log) == sum(r["queries"] for r in reports)
    assert _count(app_store, saved_analysis) == sum(r["analyses"] for r in reports)


def _write_until_killed(url: str, sender: Any) -> None:
    store = open_store(url)
    for n in range(10_000_000):
        request_id = f"row-{n}"
        log_query(store, QueryLogEntry("doomed", f"q{n}", request_id=request_id))
        sender.send(request_id)  # sent only once the commit has returned


@SQLITE
def test_a_writer_killed_mid_write_loses_no_committed_row(app_store, store_url):
    reader, sender = SPAWN.Pipe(duplex=False)
    child = SPAWN.Process(target=_write_until_killed, args=(store_url, sender))
    child.start()
    sender.close()  # so that reading ends at EOF once the child is gone
    committed = []
    while len(committed) < 200:
        assert reader.poll(60), "the writer reported nothing for 60 s"
        committed.append(reader.recv())
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    while True:  # reports already in the pipe count too
        try:
            committed.append(reader.recv())
        except EOFError:
            break
    assert child.exitcode == -signal.SIGKILL
    with open_store(store_url) as store:
        assert store.read(lambda c: c.exec_driver_sql("PRAGMA integrity_check").scalar()) == "ok"
        stored = set(
            store.read(lambda c: c.execute(select(query_log.c.request_id)).scalars().all())
        )
    assert set(committed) <= stored
    # At most one more: the row whose commit returned just before its report was cut off.
    assert len(stored) - len(committed) in (0, 1)
