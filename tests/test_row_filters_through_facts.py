"""A row filter declared on a dimension whose condition reads another dimension (campaigns an
office may see are those sent to its customers) applies on every path: a dimension-only
request reads the dimension through a fact that reaches the condition, a request with a
measure of such a fact is filtered, and one that cannot reach the condition is refused
rather than answered unfiltered. A small DuckDB model whose answers can be checked by eye."""

from __future__ import annotations

import duckdb
import pytest

from engine import Engine
from engine.errors import LogicalSQLError
from tests.conftest import hand, rows

DATA = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, area VARCHAR);
INSERT INTO customer VALUES (1, 'North'), (2, 'North'), (3, 'South');
CREATE TABLE campaign (id INTEGER PRIMARY KEY, name VARCHAR, status VARCHAR);
INSERT INTO campaign VALUES (10, 'Both areas', 'running'), (11, 'South only', 'finished'),
    (12, 'Draft', 'draft');
CREATE TABLE send (id INTEGER PRIMARY KEY, campaign_id INTEGER, customer_id INTEGER);
INSERT INTO send VALUES (100, 10, 1), (101, 10, 3), (102, 11, 3), (103, 10, 2);
CREATE TABLE note (id INTEGER PRIMARY KEY, campaign_id INTEGER);
INSERT INTO note VALUES (1, 10), (2, 11), (3, 12);
"""

MODEL = """
databases:
  - name: crm
    dialect: duckdb
    connection: {path: "%s"}
    tables:
      - {name: customer, primary_key: id, columns: {id: integer, area: varchar}}
      - {name: campaign, primary_key: id, columns: {id: integer, name: varchar, status: varchar}}
      - name: send
        primary_key: id
        columns: {id: integer, campaign_id: integer, customer_id: integer}
      - {name: note, primary_key: id, columns: {id: integer, campaign_id: integer}}
    joins:
      - {from: send.campaign_id, to: campaign.id}
      - {from: send.customer_id, to: customer.id}
      - {from: note.campaign_id, to: campaign.id}
logical_tables:
  - name: Customer
    kind: dimension
    columns: [{name: Area, expr: customer.area}]
  - name: Campaign
    kind: dimension
    columns: [{name: Name, expr: campaign.name}, {name: Status, expr: campaign.status}]
  - name: Sends
    kind: fact
    sources: [{tables: [send, campaign, customer]}]
    columns: [{name: "# Sent", expr: send.id, aggregation: count}]
  - name: Notes
    kind: fact
    sources: [{tables: [note, campaign]}]
    columns: [{name: "# Notes", expr: note.id, aggregation: count}]
subject_areas:
  - name: Results
    implicit_facts: [Sends]
    folders:
      - {name: Customer, columns: [Customer.Area]}
      - {name: Campaign, columns: [Campaign.Name, Campaign.Status]}
      - {name: Facts, columns: [Sends.# Sent, Notes.# Notes]}
security:
  default_user: admin
  roles:
    - {name: administrators, administrator: true}
    - {name: office}
  users:
    - {name: admin, roles: [administrators]}
    - {name: north, roles: [office], variables: {AREA: [North]}}
  row_filters:
    - {role: office, table: Customer, filter: '"Customer"."Area" IN (VALUEOF(NQ_SESSION.AREA))'}
    - {role: office, table: Campaign, filter: '"Customer"."Area" IN (VALUEOF(NQ_SESSION.AREA))'}
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("through-facts") / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(DATA)
    return path


@pytest.fixture(scope="module")
def engine(db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("through-facts-model")
    (folder / "model.yaml").write_text(MODEL % db)
    eng = Engine.open(folder, store_url=f"sqlite:///{folder / 'log.db'}")
    yield eng
    eng.close()


# Campaigns sent to a North customer, by hand: only 'Both areas' (customers 1 and 2).
NORTHS = """SELECT DISTINCT c.name FROM campaign c JOIN send s ON s.campaign_id = c.id
            JOIN customer u ON u.id = s.customer_id WHERE u.area = 'North'"""


def test_a_dimension_alone_is_read_through_the_fact_for_a_restricted_user(engine, db):
    got = engine.query('SELECT "Campaign"."Name" FROM "Results"', user="north").df
    assert rows(got) == rows(hand(db, NORTHS)) == [("Both areas",)]


def test_every_column_of_the_restricted_dimension_is_filtered(engine, db):
    got = engine.query('SELECT "Campaign"."Status" FROM "Results"', user="north").df
    assert rows(got) == [("running",)]


def test_the_value_picker_offers_only_the_rows_the_user_may_see(engine):
    found = engine.values("Results", "Campaign", "Name", user="north")
    assert found.values == ("Both areas",)
    assert engine.values("Results", "Campaign", "Name", user="north", search="south").values == ()


def test_an_administrator_still_reads_every_member_from_the_dimension(engine, db):
    got = engine.query('SELECT "Campaign"."Name" FROM "Results"', user="admin").df
    assert rows(got) == rows(hand(db, "SELECT name FROM campaign"))  # the draft too


def test_a_measure_of_a_fact_that_reaches_the_condition_is_filtered(engine, db):
    got = engine.query('SELECT "Campaign"."Name", "Facts"."# Sent" FROM "Results"', user="north").df
    want = hand(
        db,
        """SELECT c.name, COUNT(*) FROM send s JOIN campaign c ON c.id = s.campaign_id
           JOIN customer u ON u.id = s.customer_id WHERE u.area = 'North' GROUP BY c.name""",
    )
    assert rows(got) == rows(want) == [("Both areas", 2)]


def test_a_fact_that_cannot_reach_the_condition_is_refused_not_answered_unfiltered(engine):
    # Notes reach campaigns but no customer: the filter cannot apply, so no answer at all.
    with pytest.raises(LogicalSQLError, match='rows of "Campaign" you may see are limited'):
        engine.query('SELECT "Campaign"."Name", "Facts"."# Notes" FROM "Results"', user="north")


def test_a_fact_that_reaches_the_restricted_dimension_is_refused_without_its_columns(engine):
    # Notes hang off campaigns: their total counts the notes of campaigns north may not see.
    with pytest.raises(LogicalSQLError, match='rows of "Campaign" you may see are limited'):
        engine.query('SELECT "Facts"."# Notes" FROM "Results"', user="north")


def test_the_refused_requests_answer_an_administrator(engine, db):
    got = engine.query('SELECT "Campaign"."Name", "Facts"."# Notes" FROM "Results"').df
    want = hand(
        db, "SELECT c.name, COUNT(*) FROM note n JOIN campaign c ON c.id = n.campaign_id GROUP BY 1"
    )
    assert rows(got) == rows(want)
