"""Federation: one request over a DuckDB warehouse and a SQLite store, joined by a physical
join that names its `to_database`. The store's tables are read into DuckDB and the one query
runs there; answers are checked against counts done by hand on data small enough to read.

The data (tests/models/federated):

    warehouse  area      1 North, 2 South
               customer  1 Ana household North   2 Bo commercial North
                         3 Cy household South    4 Di commercial South   5 Ed household South
    store      ledger    campaign 1 "Spring": members 1 sent, 2 control, 3 sent, 4 control,
                         5 sent, "x9" sent (no such customer)
               response  campaign 1: members 1, 4, 5
"""

from __future__ import annotations

import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from engine import Engine
from engine.errors import LogicalSQLError
from semantic import load_model
from semantic.errors import ModelErrors
from store.query_log import logged_request
from tests.conftest import ROOT, rows, strata

MODEL = ROOT / "tests" / "models" / "federated"


@pytest.fixture(scope="module")
def files(tmp_path_factory, monkeypatch_module) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("federated")
    warehouse, store = folder / "warehouse.duckdb", folder / "store.db"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            """CREATE TABLE area (area_id INTEGER, name VARCHAR);
               INSERT INTO area VALUES (1, 'North'), (2, 'South');
               CREATE TABLE customer (customer_id INTEGER, name VARCHAR, kind VARCHAR,
                                      area_id INTEGER);
               INSERT INTO customer VALUES (1, 'Ana', 'household', 1), (2, 'Bo', 'commercial', 1),
                 (3, 'Cy', 'household', 2), (4, 'Di', 'commercial', 2), (5, 'Ed', 'household', 2);
            """
        )
    with sqlite3.connect(store) as con:
        con.executescript(
            """CREATE TABLE campaign (id INTEGER PRIMARY KEY, name TEXT);
               INSERT INTO campaign VALUES (1, 'Spring');
               CREATE TABLE ledger (id INTEGER PRIMARY KEY, campaign_id INTEGER,
                                    member_key TEXT, state TEXT);
               INSERT INTO ledger VALUES (1, 1, '1', 'sent'), (2, 1, '2', 'control'),
                 (3, 1, '3', 'sent'), (4, 1, '4', 'control'), (5, 1, '5', 'sent'),
                 (6, 1, 'x9', 'sent');
               CREATE TABLE response (campaign_id INTEGER, member_key TEXT, kind TEXT);
               INSERT INTO response VALUES (1, '1', 'e-bill'), (1, '4', 'e-bill'),
                 (1, '5', 'e-bill');
            """
        )
    monkeypatch_module.setenv("FED_WAREHOUSE", str(warehouse))
    monkeypatch_module.setenv("FED_STORE", str(store))
    return warehouse, store


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def fed(files, tmp_path_factory) -> Engine:
    log = tmp_path_factory.mktemp("fedlog") / "log.db"
    engine = Engine.open(MODEL, store_url=f"sqlite:///{log}")
    yield engine
    engine.close()


def test_members_by_customer_kind_join_the_store_to_the_warehouse(fed):
    # household: 1, 3, 5; commercial: 2, 4; "x9" has no customer, so no kind.
    df = fed.query('SELECT "Customer"."Kind", "Facts"."# Members" FROM "Results"').df
    assert rows(df) == [("commercial", 2), ("household", 3), (None, 1)]


def test_lift_by_area_matches_a_hand_computation(fed):
    # North: targeted {1} responded 1/1, control {2} 0/1 -> lift 1 - 0 = 1.
    # South: targeted {3, 5} responded 1/2, control {4} 1/1 -> 0.5 - 1 = -0.5.
    # No area ("x9"): targeted 0/1, no control -> no lift.
    df = fed.query('SELECT "Customer"."Area", "Facts"."Lift" FROM "Results"').df
    assert rows(df) == [("North", 1.0), ("South", -0.5), (None, None)]


def test_overall_lift_reads_the_store_alone(fed):
    # targeted {1, 3, 5, x9}: 2 of 4 responded; control {2, 4}: 1 of 2 -> 0.5 - 0.5 = 0.
    result = fed.query('SELECT "Campaign"."Campaign", "Facts"."Lift" FROM "Results"')
    assert rows(result.df) == [("Spring", 0.0)]
    assert "federated" not in fed.explain(result.logical_sql)  # nothing to fetch


def test_two_facts_of_two_databases_are_stitched_in_duckdb(fed):
    # Members per area from the store; customers per area from the warehouse alone.
    df = fed.query(
        'SELECT "Customer"."Area", "Facts"."# Members", "Facts"."# Customers" FROM "Results"'
    ).df
    assert rows(df) == [("North", 2, 2), ("South", 3, 3), (None, 1, None)]


def test_a_row_filter_on_the_warehouse_limits_the_store_rows(fed):
    # north.office sees customers of North only: members 1 and 2, whatever it selects.
    by_member = fed.query(
        'SELECT "Recipient"."Member Key", "Facts"."# Members" FROM "Results"', user="north.office"
    ).df
    assert rows(by_member) == [("1", 1), ("2", 1)]
    total = fed.query('SELECT "Facts"."# Members", "Facts"."Lift" FROM "Results"', "north.office")
    assert rows(total.df) == [(2, 1.0)]
    assert "federated" in fed.explain(total.logical_sql, user="north.office")


def test_explain_names_the_tables_read_from_each_database(fed):
    text = fed.explain('SELECT "Customer"."Area", "Facts"."# Members" FROM "Results"')
    notes = [line for line in text.splitlines() if line.startswith("--")]
    assert notes == [
        "-- federated: runs on 'warehouse' after reading these tables into it",
        "--   from 'store' (sqlite): ledger (id, member_key)",
    ]
    # The text key is compared as the warehouse's integer (TRY_CAST: "x9" matches nothing).
    assert 'TRY_CAST("ledger"."member_key" AS INT) = "customer"."customer_id"' in text


def test_strata_explain_prints_the_fetches(files):
    done = strata(
        "explain",
        "--model",
        str(MODEL),
        'SELECT "Customer"."Kind", "Facts"."# Members" FROM "Results"',
    )
    assert done.returncode == 0, done.stderr
    assert "--   from 'store' (sqlite): ledger (id, member_key)" in done.stdout


def test_a_federated_answer_is_read_again_after_the_store_changes(fed, files):
    _, store = files
    with sqlite3.connect(store) as con:
        con.execute("INSERT INTO ledger VALUES (7, 1, '3', 'sent')")
    try:
        df = fed.query('SELECT "Customer"."Customer Name", "Facts"."# Members" FROM "Results"').df
        assert dict(rows(df))["Cy"] == 2  # not cached: the store changed under the engine
    finally:
        with sqlite3.connect(store) as con:
            con.execute("DELETE FROM ledger WHERE id = 7")


def test_concurrent_federated_requests_each_see_their_own_fetched_tables(fed):
    # Each thread registers the fetched tables on its own DuckDB cursor: eight requests at
    # once, of two shapes, all give the single-threaded answers.
    requests = {
        'SELECT "Customer"."Kind", "Facts"."# Members" FROM "Results"': [
            ("commercial", 2), ("household", 3), (None, 1),
        ],
        'SELECT "Customer"."Area", "Facts"."Lift" FROM "Results"': [
            ("North", 1.0), ("South", -0.5), (None, None),
        ],
    }  # fmt: skip
    work = list(requests) * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda sql: rows(fed.query(sql).df), work))
    assert answers == [requests[sql] for sql in work]


def test_the_query_log_says_what_a_federated_request_read(fed):
    result = fed.query('SELECT "Customer"."Kind", "Facts"."# Members" FROM "Results"')
    fed.log.flush()
    entry = logged_request(fed.store, result.request_id)
    assert entry.physical_sql.startswith("-- federated: runs on 'warehouse'")


# ---------------------------------------------------------------- bad models


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    physical = folder / "physical.yaml"
    text = physical.read_text()
    assert old in text
    physical.write_text(text.replace(old, new))
    return folder


def _errors(folder: Path) -> str:
    with pytest.raises(ModelErrors) as caught:
        load_model(folder)
    return str(caught.value)


def test_a_join_to_an_unknown_database_names_it_with_a_suggestion(tmp_path):
    folder = _broken(tmp_path, "to_database: warehouse}", "to_database: wharehouse}")
    message = _errors(folder)
    assert "physical.yaml:30:9: join names unknown database 'wharehouse'" in message
    assert "did you mean 'warehouse'" in message


def test_a_federated_join_to_an_unknown_table_is_reported(tmp_path):
    folder = _broken(
        tmp_path, "to: customer.customer_id, to_database", "to: client.id, to_database"
    )
    assert "physical.yaml:30:9: join refers to unknown table 'client'" in _errors(folder)


def test_a_join_across_databases_must_say_so(tmp_path):
    folder = _broken(tmp_path, ", to_database: warehouse}", "}")
    message = _errors(folder)
    assert "physical.yaml:30:9: a join cannot cross databases ('store' and 'warehouse')" in message
    assert "to_database" in message


def test_a_federated_request_on_a_database_other_than_duckdb_is_refused(
    files, tmp_path, monkeypatch
):
    # The model loads (a warehouse retargeted to PostgreSQL keeps its federated joins), but a
    # request that needs the join says why it cannot run.
    folder = _broken(tmp_path, "dialect: sqlite", "dialect: SWAP")
    physical = folder / "physical.yaml"
    text = physical.read_text().replace("dialect: duckdb", "dialect: sqlite")
    physical.write_text(text.replace("dialect: SWAP", "dialect: duckdb"))
    engine = Engine.open(folder, store_url=f"sqlite:///{tmp_path}/log.db")
    try:
        with pytest.raises(LogicalSQLError, match="federated requests run on DuckDB only"):
            engine.explain('SELECT "Customer"."Kind", "Facts"."# Members" FROM "Results"')
    finally:
        engine.close()


def test_strata_check_prints_a_bad_federated_join_with_its_position(tmp_path):
    folder = _broken(tmp_path, "to_database: warehouse}", "to_database: store}")
    done = strata("check", str(folder))
    assert done.returncode == 1
    assert "physical.yaml:30:9: 'to_database: store' names the database that declares" in (
        done.stdout + done.stderr
    )


def test_a_missing_store_file_is_a_clear_error(fed, files, tmp_path, monkeypatch):
    monkeypatch.setenv("FED_STORE", str(tmp_path / "gone.db"))
    engine = Engine.open(MODEL, store_url=f"sqlite:///{tmp_path}/log.db")
    try:
        with pytest.raises(Exception, match=r"database 'store': file .*gone.db does not exist"):
            engine.query('SELECT "Customer"."Kind", "Facts"."# Members" FROM "Results"')
    finally:
        engine.close()
