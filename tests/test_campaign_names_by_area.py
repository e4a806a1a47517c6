"""Area offices see a campaign in Campaign Results only if it was sent to (or held out) some of
their customers: on every path that shows a campaign's name, status or start, the row filter
on Campaign (models/demo/security.yaml) applies. Before, a request for campaign names alone
read the campaign table, and every office saw every campaign, drafts included. Each answer is
checked against the ledger in the app store and hand-written SQL on the demo warehouse."""

from __future__ import annotations

import os
import sqlite3

import pytest

from campaigns import create_campaign, freeze_list, get_campaign, launch, preflight
from campaigns.settings import SendSettings
from campaigns.templates import Template
from engine import Engine
from store import open_store
from tests.conftest import ROOT, hand

CAMPAIGNS = {  # name -> members (customer ids), launched or left a draft
    "Sarajevo only": ((9, 11, 12), True),
    "Zenica and Mostar": ((8, 10), True),
    "Tuzla draft": ((6, 7), False),
}
USERS = ("zenica.office", "sarajevo.office", "tuzla.mostar")


@pytest.fixture(scope="module")
def engine(demo_db, tmp_path_factory):
    """The demo engine over a data folder of its own: the demo warehouse (linked) and an app
    store holding just CAMPAIGNS, made by the marketer."""
    folder = tmp_path_factory.mktemp("names-by-area")
    os.symlink(demo_db, folder / "demo.duckdb")
    before = os.environ["STRATA_DATA"]
    os.environ["STRATA_DATA"] = str(folder)
    eng = Engine.open(ROOT / "models" / "demo")
    with open_store() as store:
        for name, (ids, launched) in CAMPAIGNS.items():
            sql = (
                'SELECT "Customer"."Customer Id", "Contact"."Email" FROM "Campaigns" WHERE '
                f'"Customer"."Customer Id" IN ({", ".join(map(str, ids))})'
            )
            frozen = freeze_list(eng, store, f"{name} list", sql, "marketer")
            made = create_campaign(store, name, frozen, Template("Hi", "x"), "marketer")
            if launched:
                launch(
                    store, made.id, preflight(store, get_campaign(store, made.id)), SendSettings()
                )
    yield eng
    eng.close()
    os.environ["STRATA_DATA"] = before


def visible_by_hand(demo_db, user: str) -> set[str]:
    """Campaigns with a ledger row of a customer in the user's areas: the ledger read from the
    store file, the areas from the warehouse and the staff table, by hand."""
    store = os.path.join(os.environ["STRATA_DATA"], "app.db")
    with sqlite3.connect(store) as con:
        ledger = con.execute(
            "SELECT c.name, l.member_key FROM campaign_ledger l JOIN campaign c "
            "ON c.id = l.campaign_id"
        ).fetchall()
    areas = {"tuzla.mostar": ["Tuzla", "Mostar"]}.get(user) or list(
        hand(
            demo_db,
            f"""SELECT a.name FROM staff s JOIN area a USING (area_id)
                WHERE s.user_name = '{user}'""",
        ).name
    )
    mine = set(
        hand(
            demo_db,
            f"""SELECT CAST(c.customer_id AS VARCHAR) AS k FROM customer c
                JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)
                WHERE a.name IN ({", ".join(f"'{a}'" for a in areas)})""",
        ).k
    )
    return {name for name, key in ledger if key in mine}


def names(engine, sql: str, user: str) -> set[str]:
    return set(engine.query(sql, user=user).df.iloc[:, 0])


@pytest.fixture(scope="module")
def expected(engine, demo_db) -> dict[str, set[str]]:
    found = {user: visible_by_hand(demo_db, user) for user in USERS}
    # The case tests something: each office sees one campaign, and the draft nobody.
    assert found == {
        "zenica.office": {"Zenica and Mostar"},
        "sarajevo.office": {"Sarajevo only"},
        "tuzla.mostar": {"Zenica and Mostar"},
    }
    return found


@pytest.mark.parametrize("user", USERS)
def test_campaign_names_alone_are_those_sent_to_the_offices_customers(engine, expected, user):
    got = names(engine, 'SELECT "Campaign"."Campaign" FROM "Campaign Results"', user)
    assert got == expected[user]


@pytest.mark.parametrize("column", ["Campaign Status", "Start Day", "Channel"])
def test_every_campaign_column_alone_is_filtered_the_same_way(engine, expected, column):
    sql = f'SELECT "Campaign"."Campaign", "Campaign"."{column}" FROM "Campaign Results"'
    assert names(engine, sql, "zenica.office") == expected["zenica.office"]


def test_the_filter_value_picker_offers_only_those_campaigns(engine, expected):
    found = engine.values("Campaign Results", "Campaign", "Campaign", user="sarajevo.office")
    assert set(found.values) == expected["sarajevo.office"]
    hidden = engine.values(
        "Campaign Results", "Campaign", "Campaign", user="sarajevo.office", search="draft"
    )
    assert hidden.values == ()


def test_a_filter_on_another_campaigns_name_finds_nothing(engine):
    got = engine.query(
        'SELECT "Campaign"."Campaign", "Campaign"."Campaign Status" FROM "Campaign Results" '
        'WHERE "Campaign"."Campaign" = \'Sarajevo only\'',
        user="zenica.office",
    ).df
    assert got.empty


def test_names_with_a_measure_or_a_recipient_column_are_filtered_too(engine, expected):
    for sql in (
        'SELECT "Campaign"."Campaign", "Facts"."# Members" FROM "Campaign Results"',
        'SELECT "Campaign"."Campaign", "Recipient"."Group" FROM "Campaign Results"',
        'SELECT "Campaign"."Campaign", "Facts"."# Opened", "Facts"."# Sent" '
        'FROM "Campaign Results"',
    ):
        assert names(engine, sql, "tuzla.mostar") == expected["tuzla.mostar"], sql


def test_marketing_and_administrators_still_see_every_campaign_drafts_included(engine):
    for user in ("marketer", "admin"):
        got = names(engine, 'SELECT "Campaign"."Campaign" FROM "Campaign Results"', user)
        assert got == set(CAMPAIGNS)
