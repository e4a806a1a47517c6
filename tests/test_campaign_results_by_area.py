"""Campaign Results by the warehouse's dimensions: the ledger (app store, SQLite) joined to the
recipient's customer and distribution area (demo warehouse, DuckDB) through the federated
join, with lift per area and area offices' row filters, each checked against an answer
computed from the ledger rows and hand-written SQL on the warehouse."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.campaign import create_campaign
from campaigns.launch import launch
from campaigns.lists import freeze_list
from campaigns.preflight import preflight
from campaigns.responses import add_responses
from campaigns.settings import SendSettings
from campaigns.templates import Template
from engine.errors import LogicalSQLError
from store import open_store
from tests.conftest import hand, rows

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
NAME = "Commercial Zenica and Tuzla (by area)"


@pytest.fixture(scope="module")
def campaign(demo):
    """A launched (not sent) campaign to the commercial customers of Zenica and Tuzla, 30 %
    held out, and responses from every third member: (campaign, its ledger rows)."""
    members_sql = (
        'SELECT "Customer"."Customer Id", "Contact"."Email" FROM "Campaigns" '
        "WHERE \"Customer\".\"Distribution Area\" IN ('Zenica', 'Tuzla') "
        'AND "Customer"."Customer Type" = \'Commercial\''
    )
    with open_store() as store:
        frozen = freeze_list(demo, store, NAME, members_sql, "marketer")
        c = create_campaign(store, NAME, frozen, Template("Hi", "x"), "marketer", control_share=0.3)
        launch(store, c.id, preflight(store, c), SendSettings())
        add_responses(store, c.id, [(str(k), T0) for k in range(0, 100_000, 3)], "e-bill")
        ledger = store.read(
            lambda conn: conn.exec_driver_sql(
                "SELECT l.member_key, l.state, r.member_key IS NOT NULL FROM campaign_ledger l "
                "LEFT JOIN campaign_response r "
                "ON r.campaign_id = l.campaign_id AND r.member_key = l.member_key "
                "WHERE l.campaign_id = ?",
                (c.id,),
            ).all()
        )
    return c, ledger


@pytest.fixture(scope="module")
def areas(demo_db) -> dict[str, str]:
    """Customer id (as a member key) -> distribution area, by hand on the warehouse."""
    df = hand(
        demo_db,
        """SELECT c.customer_id, a.name FROM customer c
           JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)""",
    )
    return {str(k): v for k, v in df.itertuples(index=False, name=None)}


def test_lift_by_distribution_area_matches_a_hand_computation(demo, campaign, areas):
    _, ledger = campaign
    expected = []
    for area in ("Tuzla", "Zenica"):
        mine = [(state, responded) for key, state, responded in ledger if areas[key] == area]
        targeted = [r for s, r in mine if s not in ("control", "suppressed")]
        control = [r for s, r in mine if s == "control"]
        assert targeted and control  # both groups in both areas: the case tests something
        expected.append((area, sum(targeted) / len(targeted) - sum(control) / len(control)))
    got = demo.query(
        'SELECT "Customer"."Distribution Area", "Facts"."Lift" FROM "Campaign Results" '
        f'WHERE "Campaign"."Campaign" = \'{NAME}\''
    ).df
    assert rows(got) == [(a, round(lift, 6)) for a, lift in expected]


def test_members_by_customer_type_and_area_match_the_warehouse(demo, demo_db, campaign):
    _, ledger = campaign
    keys = ", ".join(key for key, _, _ in ledger)
    expected = hand(
        demo_db,
        f"""SELECT c.customer_type, a.name, COUNT(*) FROM customer c
            JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)
            WHERE c.customer_id IN ({keys}) GROUP BY ALL""",
    )
    got = demo.query(
        'SELECT "Customer"."Customer Type", "Customer"."Distribution Area", "Facts"."# Members" '
        f'FROM "Campaign Results" WHERE "Campaign"."Campaign" = \'{NAME}\''
    ).df
    assert rows(got) == rows(expected)


def test_an_area_office_sees_only_its_own_areas_recipients(demo, demo_db, campaign):
    _, ledger = campaign
    keys = ", ".join(key for key, _, _ in ledger)
    expected = hand(
        demo_db,
        f"""SELECT CAST(c.customer_id AS VARCHAR) AS k FROM customer c
            JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)
            WHERE a.name = 'Zenica' AND c.customer_id IN ({keys})""",
    )
    by_member = demo.query(
        'SELECT "Recipient"."Member Key", "Facts"."# Members" FROM "Campaign Results" '
        f'WHERE "Campaign"."Campaign" = \'{NAME}\'',
        user="zenica.office",
    ).df
    assert sorted(by_member.iloc[:, 0]) == sorted(expected.k) != []
    assert set(by_member.iloc[:, 1]) == {1}
    # Without any customer column, the totals are still Zenica's (the filter joins them in).
    total = demo.query(
        f'SELECT "Facts"."# Members" FROM "Campaign Results" '
        f'WHERE "Campaign"."Campaign" = \'{NAME}\'',
        user="zenica.office",
    ).df
    assert total.iloc[0, 0] == len(expected) < len(ledger)


def test_explain_shows_the_store_tables_read_into_the_warehouse(demo):
    text = demo.explain(
        'SELECT "Customer"."Distribution Area", "Facts"."Lift" FROM "Campaign Results"'
    )
    assert text.splitlines()[:3] == [
        "-- federated: runs on 'warehouse' after reading these tables into it",
        "--   from 'campaign_store' (sqlite): campaign_ledger (campaign_id, member_key, state)",
        "--   from 'campaign_store' (sqlite): campaign_response (campaign_id, member_key)",
    ]


ATTRIBUTES = [
    '"Customer"."Customer Type"',
    '"Customer"."Municipality"',
    '"Recipient"."Group"',
    '"Recipient"."Delivery State"',
]
MEASURES = ['"Facts"."# Members"', '"Facts"."# Control"', '"Facts"."Lift"']
FILTERS = [
    "",
    ' AND "Customer"."Customer Type" = \'Commercial\'',
    ' AND "Recipient"."Group" <> \'control\'',
    ' AND "Customer"."Distribution Area" <> \'Tuzla\'',
]


@st.composite
def requests(draw):
    columns = ['"Customer"."Distribution Area"']
    columns += draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=2, unique=True))
    columns += draw(st.lists(st.sampled_from(MEASURES), min_size=1, max_size=2, unique=True))
    where = f' WHERE "Campaign"."Campaign" = \'{NAME}\'' + draw(st.sampled_from(FILTERS))
    return f'SELECT {", ".join(columns)} FROM "Campaign Results"' + where


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests())
def test_no_campaign_results_request_shows_a_recipient_outside_the_users_area(
    demo, campaign, request
):
    try:
        result = demo.query(request, user="zenica.office")
    except LogicalSQLError:
        return  # columns that cannot be combined: refused for everyone alike
    assert set(result.df["Distribution Area"]) == {"Zenica"}
    explicit = demo.query(request + ' AND "Customer"."Distribution Area" = \'Zenica\'', "admin")
    assert rows(result.df) == rows(explicit.df)
