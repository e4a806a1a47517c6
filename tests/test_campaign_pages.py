"""The campaign pages (lists, editor, pre-flight and launch, monitor), driven by Streamlit's
AppTest on the demo, each checked against the app store, the ledger, hand-written SQL on the
demo's DuckDB file or a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from campaigns import counts, freeze_list, get_campaign, get_list, ledger_rows
from campaigns.files import get_file
from engine import Engine
from store import open_store
from tests.campaign_fixtures import sink_fixture  # noqa: F401
from tests.conftest import ROOT, hand

# Customers 1-15 of the demo: 13 and 14 have no e-mail, 4 shares 3's address.
FIRST_15 = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email", '
    '"Contact"."Mobile Phone" FROM "Campaigns" WHERE "Customer"."Customer Id" <= 15'
)
BY_AREA = (
    'SELECT "Customer"."Customer Id", "Customer"."Distribution Area" FROM "Campaigns" '
    'WHERE "Customer"."Customer Id" <= 200'
)


@pytest.fixture
def url(demo_db, monkeypatch, tmp_path) -> str:
    store_url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("STRATA_MODEL", str(ROOT / "models" / "demo"))
    monkeypatch.setenv("STRATA_DATA", str(demo_db.parent))
    monkeypatch.setenv("STRATA_STORE_URL", store_url)
    monkeypatch.chdir(ROOT)
    from presentation import state

    state._engine.clear()  # a fresh engine, so the store of this test is the one written
    return store_url


def freeze(url: str, sql: str, user: str, name: str = "First fifteen"):
    engine = Engine.open(ROOT / "models" / "demo", store_url=url)
    try:
        with open_store(url) as store:
            return freeze_list(engine, store, name, sql, user)
    finally:
        engine.close()


def page(module: str, user: str, **state) -> AppTest:
    """One campaign page, run as `user` (the sidebar's acting user)."""
    at = AppTest.from_string(
        "import streamlit as st\n"
        "from presentation import builder, campaign_launch\n"
        "st.session_state['pages'] = {\n"
        "    'builder': st.Page(builder.render, url_path='analysis'),\n"
        "    'campaign_launch': st.Page(campaign_launch.render, url_path='launch'),\n"
        "}\n"
        f"from presentation import {module}\n{module}.render()",
        default_timeout=60,
    )
    at.session_state["acting_user"] = user
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


# -- Campaign lists -----------------------------------------------------------------------


def test_the_lists_page_shows_every_version_with_its_provenance(url, demo_db):
    freeze(url, FIRST_15, "marketer")
    second = freeze(url, FIRST_15, "marketer")
    at = ok(page("campaign_lists", "marketer"))
    versions = at.dataframe[0].value
    assert list(versions["version"]) == [2, 1]
    want = hand(demo_db, "SELECT COUNT(*) FROM customer WHERE customer_id <= 15").iloc[0, 0]
    assert list(versions["members"]) == [want, want] == [15, 15]
    assert set(versions["frozen by"]) == {"marketer"}
    assert set(versions["content hash"]) == {second.content_hash[:12]}  # same answer, same hash
    assert set(versions["model hash"]) == {second.model_hash[:12]}
    assert [c.value for c in at.code] == [FIRST_15]


def test_the_member_preview_shows_the_frozen_rows(url, demo_db):
    freeze(url, FIRST_15, "marketer")
    members = ok(page("campaign_lists", "marketer")).dataframe[1].value
    want = hand(
        demo_db,
        "SELECT customer_id, name, email FROM customer LEFT JOIN contact USING (customer_id) "
        "WHERE customer_id <= 15 ORDER BY customer_id",
    )
    assert list(members["key"]) == [str(i) for i in want["customer_id"]]
    assert list(members["Customer Name"]) == list(want["name"])
    assert [e or None for e in members["e-mail"]] == [
        None if e is None or e != e else e for e in want["email"]
    ]


def test_freeze_again_runs_the_list_as_the_acting_user(url, demo_db):
    # Frozen by the Tuzla and Mostar office, frozen again by an administrator: the new
    # version holds what the administrator may see, every area.
    freeze(url, BY_AREA, "tuzla.mostar", "By area")
    at = page("campaign_lists", "admin")
    button(at, "Freeze again").click().run()
    assert any("'By area' version 2" in s.value for s in ok(at).success)
    with open_store(url) as store:
        v1, v2 = get_list(store, "By area", 1), get_list(store, "By area", 2)
    everyone, office = (
        hand(
            demo_db,
            "SELECT COUNT(*) FROM customer c JOIN municipality m USING (municipality_id) "
            f"JOIN area a USING (area_id) WHERE c.customer_id <= 200 {where}",
        ).iloc[0, 0]
        for where in ("", "AND a.name IN ('Tuzla', 'Mostar')")
    )
    assert (v1.created_by, v1.row_count) == ("tuzla.mostar", office)
    assert (v2.created_by, v2.row_count) == ("admin", everyone)
    assert office < everyone
    assert list(at.dataframe[0].value["version"]) == [2, 1]  # the page shows it at once


def test_a_user_sees_only_their_own_lists(url):
    freeze(url, FIRST_15, "marketer")
    at = ok(page("campaign_lists", "zenica.office"))
    assert any("No campaign lists yet" in i.value for i in at.info)
    assert not at.dataframe


# -- Campaign editor ----------------------------------------------------------------------


def editor(url: str, **inputs) -> AppTest:
    freeze(url, FIRST_15, "marketer")
    at = page("campaign_editor", "marketer")
    for key, value in inputs.items():
        widget = at.text_area(key=key) if key in ("ce_text", "ce_html") else at.text_input(key=key)
        widget.input(value)
    return at.run()


def test_a_field_missing_from_the_list_is_reported_for_every_member(url):
    at = editor(url, ce_name="Spring", ce_subject="Hello", ce_text="Your tariff: {{ tarif }}")
    # Every member fails; the page lists the first ones, and the member preview says why.
    [every, chosen] = [e.value for e in at.error]
    assert "15 rendering error(s)** over 15 members" in every
    assert "member 1: text: 'tarif' is undefined" in every
    assert "'tarif' is undefined" in chosen
    at.text_area(key="ce_text").input("Dear {{ customer_name }}").run()
    assert any("renders for all 15 members" in s.value for s in ok(at).success)


def test_any_member_can_be_previewed(url, demo_db):
    at = editor(url, ce_subject="For {{ customer_name }}", ce_text="Mail: {{ email }}")
    at.selectbox(key="ce_member").select("12").run()
    [(name, email)] = hand(
        demo_db,
        "SELECT name, email FROM customer JOIN contact USING (customer_id) WHERE customer_id = 12",
    ).itertuples(index=False)
    assert f"**Subject:** For {name}" in [m.value for m in ok(at).markdown]
    assert f"Mail: {email}" in [c.value for c in at.code]


def test_creating_a_draft_stores_the_template_its_files_and_settings(url):
    at = editor(
        url,
        ce_name="Spring",
        ce_subject="Hello {{ customer_name }}",
        ce_text="Text",
        ce_html="<img src=\"{{ cid('logo.png') }}\"><p>{{ customer_name }}</p>",
    )
    logo, terms = b"\x89PNG fake logo", b"%PDF terms"
    at.file_uploader(key="ce_images").upload("logo.png", logo, "image/png")
    at.file_uploader(key="ce_attachments").upload("terms.pdf", terms, "application/pdf")
    at.number_input(key="ce_control").set_value(0.2)
    at.number_input(key="ce_rate").set_value(10.0)
    at.run()
    assert any("renders for all 15 members" in s.value for s in ok(at).success)
    # The HTML preview shows the uploaded image itself in place of its cid: reference.
    assert any("data:image/png;base64," in h.proto.body for h in at.get("html"))
    button(at, "Create draft campaign").click().run()
    assert any("Draft campaign 'Spring' created" in s.value for s in ok(at).success)
    with open_store(url) as store:
        made = get_campaign(store, "Spring")
    digest = hashlib.sha256(logo).hexdigest()
    assert made.template.images == (("logo.png", digest),)
    assert made.template.attachments == (("terms.pdf", hashlib.sha256(terms).hexdigest()),)
    assert get_file(digest) == logo
    assert (made.status, made.created_by, made.channel) == ("draft", "marketer", "email")
    assert (made.control_share, made.rate_per_second, made.rate_per_hour) == (0.2, 10.0, None)


def test_tracking_is_off_unless_the_editor_asks_for_it(url):
    for name, ticked in (("Untracked", False), ("Tracked", True)):
        at = editor(url, ce_name=name, ce_subject="Hi", ce_text="Text")
        if ticked:
            at.checkbox(key="ce_tracking").check().run()
        button(at, "Create draft campaign").click().run()
        with open_store(url) as store:
            assert get_campaign(store, name).tracking is ticked


def test_a_draft_is_loaded_into_the_editor_and_saved_back(url):
    from campaigns import Template, create_campaign, set_status
    from campaigns.campaign import Status

    frozen = freeze(url, FIRST_15, "marketer")
    with open_store(url) as store:
        create_campaign(
            store, "Draft one", frozen, Template("Hi", "Old text"), "marketer", control_share=0.1
        )
        create_campaign(store, "Started", frozen, Template("Hi", "x"), "marketer")
        set_status(store, "Started", Status.RUNNING)
    at = page("campaign_editor", "marketer")
    assert at.selectbox(key="ce_draft").options == ["(a new campaign)", "Draft one"]
    at.selectbox(key="ce_draft").select("Draft one").run()
    assert (at.text_area(key="ce_text").value, at.number_input(key="ce_control").value) == (
        "Old text",
        0.1,
    )
    at.text_area(key="ce_text").input("New text for {{ customer_name }}").run()
    at.checkbox(key="ce_tracking").check().run()
    button(at, "Save draft").click().run()
    assert any("Draft campaign 'Draft one' saved" in s.value for s in ok(at).success)
    with open_store(url) as store:
        saved = get_campaign(store, "Draft one")
    assert (saved.template.text, saved.control_share, saved.tracking, saved.status) == (
        "New text for {{ customer_name }}",
        0.1,
        True,
        "draft",
    )


def test_a_template_with_errors_is_not_created(url):
    at = editor(url, ce_name="Broken", ce_subject="Hi", ce_text="{{ nope }}")
    button(at, "Create draft campaign").click().run()
    assert any("Fix the template first" in e.value for e in at.error)
    with open_store(url) as store:
        assert not [c for c in __import__("campaigns").list_campaigns(store)]


def test_an_sms_preview_counts_its_segments(url):
    at = editor(url, ce_subject="SMS")
    at.radio(key="ce_channel").set_value("sms").run()
    # 150 characters plus a name: more than 160 GSM-7 septets take 2 segments of 153.
    at.text_area(key="ce_text").input("x" * 150 + " {{ customer_id }}").run()
    at.selectbox(key="ce_member").select("12").run()
    assert any("153 characters, GSM-7, 1 segment(s)" in c.value for c in ok(at).caption)
    at.text_area(key="ce_text").input("x" * 160 + " {{ customer_id }}").run()
    assert any("163 characters, GSM-7, 2 segment(s)" in c.value for c in ok(at).caption)


# -- Pre-flight, launch, schedule, status moves -----------------------------------------


def draft(url: str, name: str = "Spring", **kw):
    from campaigns import Template, create_campaign

    frozen = freeze(url, FIRST_15, "marketer")
    with open_store(url) as store:
        return create_campaign(
            store,
            name,
            frozen,
            Template("Hello {{ customer_name }}", "Dear customer"),
            "marketer",
            **kw,
        )


def test_launch_needs_the_preflight_report(url, demo_db):
    draft(url)
    at = ok(page("campaign_launch", "marketer"))
    assert not [b for b in at.button if b.label == "Launch"]
    button(at, "Run the pre-flight").click().run()
    metrics = {m.label: m.value for m in ok(at).metric}
    [(members, with_address, distinct)] = hand(
        demo_db,
        "SELECT COUNT(*), COUNT(email), COUNT(DISTINCT lower(email)) FROM customer "
        "LEFT JOIN contact USING (customer_id) WHERE customer_id <= 15",
    ).itertuples(index=False)
    assert (metrics["Members"], metrics["To send"]) == (str(members), str(distinct)) == ("15", "12")
    reasons = dict(zip(*at.table[0].value.to_dict("list").values(), strict=True))
    assert reasons["no address"] == members - with_address == 2
    assert reasons["duplicate address"] == with_address - distinct == 1
    assert len([e for e in at.expander if e.label.startswith("Sample: member")]) == 3
    assert not button(at, "Launch").disabled


def test_a_launch_from_the_page_sends_every_message_through_smtp(url, demo_db, sink, monkeypatch):
    monkeypatch.setenv("STRATA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("STRATA_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("STRATA_SENDER", "campaigns@utility.example")
    made = draft(url)
    at = page("campaign_launch", "marketer")
    button(at, "Run the pre-flight").click().run()
    button(at, "Launch").click().run()
    assert any("'Spring' is running" in s.value for s in ok(at).success)
    with open_store(url) as store:
        deadline = time.monotonic() + 90
        while get_campaign(store, made.id).status != "finished":
            assert time.monotonic() < deadline, counts(store, made.id)
            time.sleep(0.2)
        ledger = ledger_rows(store, made.id)
    want = hand(
        demo_db,
        "SELECT DISTINCT lower(email) FROM contact WHERE customer_id <= 15 AND email IS NOT NULL",
    )
    sent = [r for r in ledger if r["state"] == "sent"]
    assert sorted(r["address"] for r in sent) == sorted(want.iloc[:, 0])
    # One message per sent row, each carrying its ledger row's Message-ID.
    assert sorted(sink.message_ids()) == sorted(r["message_id"] for r in sent)
    assert sorted(rcpt for _, (rcpt,), _ in sink.messages) == sorted(want.iloc[:, 0])


def test_scheduling_stores_the_time_and_the_campaign_can_be_unscheduled(url):
    made = draft(url)
    at = page("campaign_launch", "marketer")
    button(at, "Run the pre-flight").click().run()
    at.date_input(key="cp_day").set_value(dt.date(2031, 5, 4))
    at.time_input(key="cp_time").set_value(dt.time(9, 30))
    button(at, "Schedule").click().run()
    assert any("scheduled for 2031-05-04 09:30 UTC" in s.value for s in ok(at).success)
    with open_store(url) as store:
        moved = get_campaign(store, made.id)
    assert moved.status == "scheduled"
    when = moved.scheduled_at.replace(tzinfo=dt.UTC)  # SQLite keeps no zone; the page sent UTC
    assert when == dt.datetime(2031, 5, 4, 9, 30, tzinfo=dt.UTC)
    button(at, "Unschedule").click().run()
    with open_store(url) as store:
        assert get_campaign(store, made.id).status == "draft"


def test_pause_resume_and_cancel_follow_the_status_machine(url):
    from campaigns import Status, set_status

    made = draft(url)
    with open_store(url) as store:
        set_status(store, made.id, Status.RUNNING)
    at = ok(page("campaign_launch", "marketer", cp_send=False))
    assert {"Pause", "Cancel campaign"} <= {b.label for b in at.button}
    assert "Resume" not in {b.label for b in at.button}
    button(at, "Pause").click().run()
    with open_store(url) as store:
        assert get_campaign(store, made.id).status == "paused"
    assert "Pause" not in {b.label for b in ok(at).button}
    button(at, "Cancel campaign").click().run()
    with open_store(url) as store:
        assert get_campaign(store, made.id).status == "cancelled"
    assert not {"Pause", "Resume", "Cancel campaign"} & {b.label for b in ok(at).button}


# -- Monitor --------------------------------------------------------------------------------


def test_the_monitor_shows_the_ledger_counts_and_progress(url):
    from campaigns import launch, preflight
    from campaigns.ledger import Outcome, Result, claim, record

    made = draft(url, control_share=0.3)
    with open_store(url) as store:
        launch(store, made.id, preflight(store, get_campaign(store, made.id)))
        rows = claim(store, made.id, 3, dt.datetime.now(dt.UTC))
        record(store, made.id, "email", [Outcome(r, Result.SENT) for r in rows])
        ledger = ledger_rows(store, made.id)
    at = ok(page("campaign_monitor", "marketer"))
    [shown] = at.dataframe[0].value.to_dict("records")
    by_state = {s: sum(r["state"] == s for r in ledger) for s in ("sent", "pending", "control")}
    assert by_state["sent"] == 3 and by_state["control"] > 0
    assert {s: shown[s] for s in by_state} == by_state
    assert shown["progress"] == pytest.approx(3 / (3 + by_state["pending"]))
    [rows_shown] = [d.value for d in at.dataframe if "member_key" in d.value.columns]
    assert len(rows_shown) == len(ledger)  # the campaign's ledger rows
    assert any("Campaign Results" in m.value for m in at.markdown)
