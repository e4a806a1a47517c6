"""The Monitor's delivered, opens, clicks, rates and clicks per link, driven by Streamlit's
AppTest on the demo. A small tracked campaign (six customers, five delivered, one bounced) and
a scripted handful of opens and clicks, recorded by the tracking endpoint's own function; the
expected figures are counted by hand from that script. The figures come through the engine
as the viewing user, so an area office counts only its own customers."""

from __future__ import annotations

import datetime as dt
import os

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from campaigns import create_campaign, freeze_list, get_campaign, launch, preflight
from campaigns.events import record_event
from campaigns.ledger import Outcome, Result, claim, record
from campaigns.settings import SendSettings
from campaigns.templates import Template
from campaigns.tokens import Tracked
from engine import Engine
from store import open_store
from tests.conftest import ROOT, hand

MEMBERS = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email" '
    'FROM "Campaigns" WHERE "Customer"."Customer Id" BETWEEN 5 AND 10'
)
EBILL, TARIFFS = "https://utility.example/e-bill", "https://utility.example/tariffs"
TEMPLATE = Template(
    "Go paperless",
    "Sign up for e-bill.",
    f'<html><body><a href="{EBILL}">e-bill</a> <a href="{TARIFFS}">Tariffs</a></body></html>',
)
SETTINGS = SendSettings(unsubscribe_url="https://u.example/u", unsubscribe_secret="s")
SENT, BOUNCED = ("5", "6", "7", "8", "9"), ("10",)
# member -> what they did: 0 is the open pixel, n the template's link n (1 e-bill, 2 tariffs).
# 5 clicks e-bill twice (one counts); 8 clicks without loading images (a click is an open).
EVENTS = {"5": (0, 1, 1, 2), "6": (0,), "8": (1,)}


@pytest.fixture
def data(demo_db, monkeypatch, tmp_path):
    """A data folder of the test's own: the demo warehouse (linked) and a fresh app store,
    which is both the pages' store and the one Campaign Results reads."""
    os.symlink(demo_db, tmp_path / "demo.duckdb")
    monkeypatch.setenv("STRATA_MODEL", str(ROOT / "models" / "demo"))
    monkeypatch.setenv("STRATA_DATA", str(tmp_path))
    monkeypatch.delenv("STRATA_STORE_URL", raising=False)
    monkeypatch.chdir(ROOT)
    from presentation import state

    state._engine.clear()
    yield tmp_path
    state._engine.clear()  # its connections point at this test's folder


def tracked_campaign(name: str, created_by: str, *, tracking: bool = True):
    """Freeze the six members as an administrator, make the campaign as `created_by`, mark
    SENT delivered and BOUNCED bounced in the ledger, then record EVENTS."""
    engine = Engine.open(ROOT / "models" / "demo")
    try:
        with open_store() as store:
            frozen = freeze_list(engine, store, f"{name} list", MEMBERS, "admin")
            made = create_campaign(store, name, frozen, TEMPLATE, created_by, tracking=tracking)
            launch(store, made.id, preflight(store, get_campaign(store, made.id)), SETTINGS)
            rows = claim(store, made.id, 100, dt.datetime.now(dt.UTC))
            assert sorted(r.member_key for r in rows) == sorted(SENT + BOUNCED)
            outcome = {k: Result.SENT for k in SENT} | {k: Result.BOUNCED for k in BOUNCED}
            record(store, made.id, "email", [Outcome(r, outcome[r.member_key]) for r in rows])
            if tracking:
                for member, links in EVENTS.items():
                    for link in links:
                        record_event(store, Tracked(made.id, member, link))
    finally:
        engine.close()
    return made


def expected(keep=lambda member: True) -> dict:
    """The figures counted by hand from SENT and EVENTS, over the members `keep` lets in."""
    delivered = [m for m in SENT if keep(m)]
    opened = [m for m in EVENTS if keep(m)]  # any event proves an open
    clicked = [m for m, links in EVENTS.items() if keep(m) and set(links) - {0}]
    per_link = {
        url: len({m for m, links in EVENTS.items() if keep(m) and n in links})
        for n, url in ((1, EBILL), (2, TARIFFS))
    }
    return {
        "delivered": len(delivered),
        "unique opens": len(opened),
        "unique clicks": len(clicked),
        "open rate": round(len(opened) / len(delivered), 9),
        "click rate": round(len(clicked) / len(delivered), 9),
        "links": {url: n for url, n in per_link.items() if n},
    }


def monitor(user: str) -> AppTest:
    at = AppTest.from_string(
        "import streamlit as st\n"
        "from presentation import builder, campaign_monitor\n"
        "st.session_state['pages'] = {'builder': st.Page(builder.render, url_path='analysis')}\n"
        "campaign_monitor.render()",
        default_timeout=60,
    )
    at.session_state["acting_user"] = user
    at = at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    return at


# AppTest gives a dataframe no key unless it is selectable: tables are told by a column.
COLUMN = {"cm_engagement": "unique opens", "cm_links": "members who clicked"}


def tables(at: AppTest, key: str) -> list:
    return [d for d in at.dataframe if COLUMN[key] in d.value.columns]


def table(at: AppTest, key: str) -> list[dict]:
    [found] = tables(at, key)
    return found.value.to_dict("records")


def shown(at: AppTest, name: str) -> dict:
    [row] = [r for r in table(at, "cm_engagement") if r["campaign"] == name]
    links = {
        r["link"]: r["members who clicked"] for r in table(at, "cm_links") if r["campaign"] == name
    }
    return {k: row[k] for k in ("delivered", "unique opens", "unique clicks")} | {
        "open rate": round(row["open rate"], 9),
        "click rate": round(row["click rate"], 9),
        "links": links,
    }


def test_the_monitor_shows_delivered_opens_clicks_and_rates_counted_once_per_member(data):
    tracked_campaign("Paperless", "marketer")
    got = shown(monitor("marketer"), "Paperless")
    want = expected()
    assert want["delivered"] == 5 and want["unique opens"] == 3 and want["unique clicks"] == 2
    assert got == want
    assert want["open rate"] == 3 / 5 and want["click rate"] == 2 / 5


def test_clicks_per_link_count_members_most_clicked_first(data):
    tracked_campaign("Paperless", "marketer")
    rows = [r for r in table(monitor("marketer"), "cm_links") if r["campaign"] == "Paperless"]
    assert [(r["link"], r["members who clicked"]) for r in rows] == [(EBILL, 2), (TARIFFS, 1)]
    assert expected()["links"] == {EBILL: 2, TARIFFS: 1}


def test_the_figures_agree_with_the_campaign_results_analysis(data):
    # The Monitor and an analysis of Campaign Results are the same engine answer.
    tracked_campaign("Paperless", "marketer")
    got = shown(monitor("marketer"), "Paperless")
    engine = Engine.open(ROOT / "models" / "demo")
    try:
        [rates] = engine.query(
            'SELECT "Facts"."Open Rate", "Facts"."Click Rate" FROM "Campaign Results" '
            'WHERE "Campaign"."Campaign" = \'Paperless\'',
            user="marketer",
        ).df.itertuples(index=False)
    finally:
        engine.close()
    assert (got["open rate"], got["click rate"]) == tuple(round(r, 9) for r in rates)


def test_an_untracked_campaign_shows_delivered_but_no_opens_or_clicks(data):
    tracked_campaign("Plain", "marketer", tracking=False)
    at = monitor("marketer")
    [row] = table(at, "cm_engagement")
    assert (row["tracked"], row["delivered"]) == ("no", len(SENT))
    assert all(row[k] is None or row[k] != row[k] for k in ("unique opens", "open rate"))
    assert not tables(at, "cm_links")


def test_the_figures_count_only_the_recipients_the_viewing_user_may_see(data, demo_db):
    # A campaign of zenica.office's own over a list of several areas: the ledger counts show
    # every row, but opens and clicks come through the engine, where its row filter applies.
    areas = dict(
        hand(
            demo_db,
            """SELECT CAST(c.customer_id AS VARCHAR), a.name FROM customer c
               JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)
               WHERE c.customer_id BETWEEN 5 AND 10""",
        ).itertuples(index=False)
    )
    tracked_campaign("Zenica paperless", "zenica.office")
    got = shown(monitor("zenica.office"), "Zenica paperless")
    want = expected(lambda member: areas[member] == "Zenica")
    assert want["delivered"] == 1 < len(SENT)  # customer 8 is the only one in Zenica
    assert got == want


def test_an_area_office_sees_no_figures_of_another_users_campaign(data):
    tracked_campaign("Paperless", "marketer")
    at = monitor("zenica.office")
    assert not tables(at, "cm_engagement")
    assert any("No campaigns yet" in i.value for i in at.info)
