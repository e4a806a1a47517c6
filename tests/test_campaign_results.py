"""Campaign results are ordinary BI: the "Campaign Results" subject area reads the ledger,
responses and unsubscribes from the app store, and lift is a measure, checked here against
a hand computation on a campaign small enough to count."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.campaign import create_campaign
from campaigns.control import in_control
from campaigns.launch import launch
from campaigns.lists import freeze_list
from campaigns.preflight import preflight
from campaigns.responses import add_responses, record_responses
from campaigns.runner import run_campaign
from campaigns.settings import SendSettings
from campaigns.suppression import suppress
from campaigns.templates import Template
from store import open_store
from tests.campaign_fixtures import frozen_people, sink_fixture  # noqa: F401
from tests.conftest import hand

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def default_store(demo):
    # The demo model reads campaign results from $STRATA_DATA/app.db: the default store.
    with open_store() as store:
        yield store


def test_lift_and_delivery_counts_match_a_hand_computation(demo, default_store, sink, tmp_path):
    # 20 people: #3 has no address (excluded), #5's address bounces (550).
    people = [
        (i, f"P{i}", None if i == 3 else f"{'nouser' if i == 5 else 'p'}{i}@x.example", None, "T")
        for i in range(1, 21)
    ]
    frozen = frozen_people(tmp_path, default_store, people, name="Lift case list")
    c = create_campaign(
        default_store, "Lift case", frozen, Template("Hi", "x"), "marketer", control_share=0.3
    )
    settings = SendSettings(smtp_host="127.0.0.1", smtp_port=sink.port, sender="e@u.example")
    launch(default_store, c.id, preflight(default_store, c), settings)
    run_campaign(default_store, c.id, settings)

    eligible = {str(i) for i in range(1, 21)} - {"3"}
    control = {k for k in eligible if in_control(c.id, k, 0.3)}
    targeted = eligible - control
    # One targeted member unsubscribes through this campaign's link.
    leaver = min(targeted - {"5"}, key=int)
    suppress(default_store, "email", f"p{leaver}@x.example", "unsubscribed", c.id)
    responders = {"1", "2", "4", "6", "8", "10", "12", "3"}  # "3" is excluded: not counted
    add_responses(default_store, c.id, [(k, T0) for k in responders], "e-bill")

    by_hand = len(responders & targeted) / len(targeted) - len(responders & control) / len(control)
    sql = (
        'SELECT "Facts"."# Members", "Facts"."# Sent", "Facts"."# Bounced", "Facts"."# Excluded",'
        ' "Facts"."# Control", "Facts"."# Unsubscribed", "Facts"."Bounce Rate", "Facts"."Lift" '
        'FROM "Campaign Results" WHERE "Campaign"."Campaign" = \'Lift case\''
    )
    row = demo.query(sql).df.iloc[0].tolist()
    bounced = 1 if "5" in targeted else 0  # the split depends on the campaign's id
    sent = len(targeted) - bounced
    assert row[:6] == [20, sent, bounced, 1, len(control), 1]
    assert row[6] == pytest.approx(bounced / (sent + bounced))
    assert row[7] == pytest.approx(by_hand)
    assert 0 < len(control) < len(eligible)  # both groups exist, so the case tests something


def test_lift_by_group_splits_members_into_targeted_control_and_excluded(
    demo, default_store, sink, tmp_path
):
    people = [(i, f"P{i}", None if i == 1 else f"g{i}@x.example", None, "T") for i in range(1, 9)]
    frozen = frozen_people(tmp_path, default_store, people, name="Groups list")
    c = create_campaign(
        default_store, "Groups", frozen, Template("Hi", "x"), "marketer", control_share=0.5
    )
    launch(default_store, c.id, preflight(default_store, c), SendSettings())
    control = sum(in_control(c.id, str(i), 0.5) for i in range(2, 9))
    sql = (
        'SELECT "Recipient"."Group", "Facts"."# Members" FROM "Campaign Results" '
        'WHERE "Campaign"."Campaign" = \'Groups\''
    )
    got = dict(demo.query(sql).df.itertuples(index=False, name=None))
    assert got == {"excluded": 1, "control": control, "targeted": 7 - control}


def test_responses_are_the_members_who_adopted_within_n_days(demo, demo_db, default_store):
    members_sql = (
        'SELECT "Customer"."Customer Id", "Contact"."Email" FROM "Campaigns" '
        'WHERE "Customer"."Distribution Area" = \'Zenica\''
    )
    frozen = freeze_list(demo, default_store, "Zenica all (responses)", members_sql, "marketer")
    c = create_campaign(
        default_store, "Zenica e-bill (responses)", frozen, Template("Hi", "x"), "marketer"
    )
    launch(default_store, c.id, preflight(default_store, c), SendSettings())
    adopters = (
        'SELECT "Customer"."Customer Id", "E-Services"."Subscription Start" FROM "Campaigns" '
        'WHERE "E-Services"."Service" = \'e-bill\''
    )
    since = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    added = record_responses(demo, default_store, c, adopters, "marketer", 90, "e-bill", since)
    ledger = {
        r[0]
        for r in default_store.read(
            lambda conn: conn.exec_driver_sql(
                "SELECT member_key FROM campaign_ledger WHERE campaign_id = ? AND state != "
                "'suppressed'",
                (c.id,),
            ).all()
        )
    }
    expected = hand(
        demo_db,
        """SELECT DISTINCT s.customer_id FROM subscription s
           JOIN e_service e USING (service_id) JOIN customer c USING (customer_id)
           JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)
           WHERE e.code = 'e-bill' AND a.name = 'Zenica'
             AND s.start_date BETWEEN DATE '2025-06-01' AND DATE '2025-08-30'""",
    )
    want = {str(k) for k in expected.customer_id} & ledger
    assert added == len(want) > 0
