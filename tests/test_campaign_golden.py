"""Campaign lists use golden records, so a person is contacted once: members whose customers
the customer hub merged collapse onto one, contacted at the golden record's address, and the
others are excluded at pre-flight as "duplicate customer (merged)". Real components: a DuckDB
warehouse, a hub file with a real import and merge, the SQLite app store, aiosmtpd."""

from __future__ import annotations

import pytest

from campaigns.campaign import create_campaign
from campaigns.launch import launch
from campaigns.ledger import ledger_rows
from campaigns.lists import freeze_list, get_list, list_members
from campaigns.preflight import preflight
from campaigns.runner import run_campaign
from campaigns.settings import SendSettings
from campaigns.templates import Template
from customers import import_csv, open_hub, parse_mapping
from customers.lookup import records_with_keys
from customers.merge import merge
from engine import Engine
from store import open_store
from tests.campaign_fixtures import (  # noqa: F401
    ALL,
    app_store_fixture,
    people_db,
    people_model,
    sink_fixture,
)
from tests.conftest import hand, strata

# The warehouse: Amra is customer 1 and, after a second sign-up, customer 2 as well.
PEOPLE = [
    (1, "Amra Hodzic", "amra.old@x.example", None, "Tuzla"),
    (2, "Amra Hodžić", "amra.crm@x.example", None, "Tuzla"),
    (3, "Lana Begic", "lana@x.example", None, "Tuzla"),
]
# The hub got the same three customers from an export whose e-mails are newer for Amra's
# second record: survivorship takes the most recent e-mail (record 2's) for the golden record.
EXPORT = (
    "id,first_name,last_name,email\n"
    "1,Amra,Hodzic,amra.old@x.example\n"
    "2,Amra,Hodžić,amra.new@x.example\n"
    "3,Lana,Begic,lana@x.example\n"
)
MAPPING = parse_mapping(
    {
        "name": "warehouse export",
        "source": "warehouse",
        "fields": {
            "source_key": "id",
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
        },
    }
)
TEMPLATE = Template("Hello {{ name }}", "Dear {{ name }}, this goes to {{ email }}.")


@pytest.fixture
def world(tmp_path):
    """(engine, hub path) with customers 1 and 2 merged in the hub."""
    (tmp_path / "export.csv").write_text(EXPORT, encoding="utf-8")
    hub_path = tmp_path / "customers.duckdb"
    with open_hub(hub_path) as hub:
        import_csv(hub, tmp_path / "export.csv", MAPPING)
        merge(hub, records_with_keys(hub, ["1", "2"]), "steward")
    db = people_db(tmp_path / "people.duckdb", PEOPLE)
    engine = Engine.open(people_model(tmp_path, db), store_url=f"sqlite:///{tmp_path}/log.db")
    yield engine, hub_path
    engine.close()


def _settings(sink) -> SendSettings:
    return SendSettings(smtp_host="127.0.0.1", smtp_port=sink.port, sender="ep@utility.example")


def test_a_merged_customer_gets_one_message_at_the_golden_address(world, app_store, sink):
    engine, hub_path = world
    frozen = freeze_list(engine, app_store, "Tuzla", ALL, hub=hub_path)
    campaign = create_campaign(app_store, "Once", frozen, TEMPLATE, "marketer")
    report = preflight(app_store, campaign)
    launch(app_store, campaign.id, report, _settings(sink))
    run_campaign(app_store, campaign.id, _settings(sink))

    # Three rows came back; two people are contacted, Amra once, at her golden e-mail.
    assert (report.members, report.to_send) == (3, 2)
    assert dict(report.exclusions)["duplicate customer (merged)"] == 1
    assert sorted(to for _, tos, _ in sink.messages for to in tos) == [
        "amra.new@x.example",
        "lana@x.example",
    ]
    amra = next(m for m in sink.parsed() if m["To"] == "amra.new@x.example")
    assert "this goes to amra.new@x.example" in amra.get_body(("plain",)).get_content()
    rows = ledger_rows(app_store, campaign.id)
    ledger = {r["member_key"]: (r["state"], r["reason"]) for r in rows}
    assert ledger == {
        "1": ("sent", None),
        "2": ("suppressed", "duplicate customer (merged)"),
        "3": ("sent", None),
    }


def test_the_list_keeps_the_surviving_customer_and_marks_the_other(world, app_store):
    engine, hub_path = world
    frozen = freeze_list(engine, app_store, "Tuzla", ALL, hub=hub_path)
    members = {m.key: (m.email, m.merged_into) for m in list_members(app_store, frozen)}
    # Record 1 is the entity's survivor (the oldest record keeps its id on a merge).
    assert members == {
        "1": ("amra.new@x.example", None),
        "2": ("amra.crm@x.example", "1"),
        "3": ("lana@x.example", None),
    }
    assert frozen.row_count == 3  # the query's answer, all of it: nobody is dropped unseen


def test_a_merged_customer_alone_on_the_list_is_kept_at_the_golden_address(world, app_store):
    engine, hub_path = world
    # The survivor's customer is not on this list: the one that is stays, and nobody is added.
    sql = ALL + ' WHERE "Person"."Id" <> 1'
    frozen = freeze_list(engine, app_store, "Not 1", sql, hub=hub_path)
    members = {m.key: (m.email, m.merged_into) for m in list_members(app_store, frozen)}
    assert members == {"2": ("amra.new@x.example", None), "3": ("lana@x.example", None)}


def test_without_a_hub_every_row_is_a_member_as_before(world, app_store):
    engine, _ = world
    frozen = freeze_list(engine, app_store, "Tuzla", ALL)
    members = {m.key: (m.email, m.merged_into) for m in list_members(app_store, frozen)}
    assert members == {
        "1": ("amra.old@x.example", None),
        "2": ("amra.crm@x.example", None),
        "3": ("lana@x.example", None),
    }


def test_list_create_collapses_by_the_hub_matching_the_customer_number(demo_db, tmp_path):
    # The demo's list is keyed by Customer Id; the hub knows customers by their number (what
    # a warehouse export carries), so the "Customer Number" column is the hub key.
    numbers = dict(
        hand(
            demo_db, "SELECT customer_id, customer_number FROM customer WHERE customer_id <= 2"
        ).itertuples(index=False, name=None)
    )
    (tmp_path / "export.csv").write_text(
        "id,first_name,last_name,email\n"
        f"{numbers[1]},Amra,Hodzic,one@hub.example\n"
        f"{numbers[2]},Amra,Hodzic,two@hub.example\n",
        encoding="utf-8",
    )
    with open_hub(tmp_path / "hub.duckdb") as hub:
        import_csv(hub, tmp_path / "export.csv", MAPPING)
        merge(hub, records_with_keys(hub, list(numbers.values())), "steward")
    sql = (
        'SELECT "Customer"."Customer Id", "Customer"."Customer Number", "Contact"."Email"'
        ' FROM "Campaigns" WHERE "Customer"."Customer Id" IN (1, 2)'
    )
    url = f"sqlite:///{tmp_path}/app.db"
    made = strata(
        "campaign", "list-create", "Pair", "--user", "marketer", "--sql", sql,
        "--hub", str(tmp_path / "hub.duckdb"), STRATA_STORE_URL=url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "2 members, 1 merged into another member by the customer hub" in made.stdout
    with open_store(url) as store:
        members = list_members(store, get_list(store, "Pair"))
    # Customer 1's record is the survivor (imported first); the golden e-mail is the newest.
    assert [(m.key, m.email, m.merged_into) for m in members] == [
        ("1", "two@hub.example", None),
        ("2", members[1].email, "1"),
    ]
