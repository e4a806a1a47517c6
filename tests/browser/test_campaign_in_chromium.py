"""A campaign made by clicking in a real browser: from a frozen list to a draft, a member's
preview and the pre-flight report, checked against the app store and hand-written SQL."""

from __future__ import annotations

import re

import pytest

from campaigns import freeze_list, get_campaign
from engine import Engine
from store import open_store
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_builder_in_chromium import idle, pick
from tests.conftest import ROOT, hand

pytestmark = pytest.mark.browser

# Customers 1-15 of the demo: 13 and 14 have no e-mail, 4 shares 3's address.
FIRST_15 = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email" '
    'FROM "Campaigns" WHERE "Customer"."Customer Id" <= 15'
)


def fill(page, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.blur()  # Streamlit sends a text widget's value when it loses focus
    idle(page)


def test_a_campaign_from_a_list_previewed_and_preflighted(page, app_url, demo_db):
    from playwright.sync_api import expect

    url, store_path = app_url
    store_url = f"sqlite:///{store_path}"
    engine = Engine.open(ROOT / "models" / "demo", store_url=store_url)
    with open_store(store_url) as store:
        freeze_list(engine, store, "Browser fifteen", FIRST_15, "admin")
    engine.close()

    page.goto(f"{url}/campaign")
    expect(page.get_by_role("heading", name="New campaign")).to_be_visible(timeout=60_000)
    idle(page)
    pick(page, "Campaign list", "Browser fifteen v1 · 15 members")
    fill(page, "Campaign name", "Browser spring")
    fill(page, "Subject", "Hello {{ customer_name }}")
    fill(page, "Text body", "We write to {{ email }}.")
    expect(page.get_by_text("The template renders for all 15 members.")).to_be_visible()

    pick(page, "Member key", "12")
    [(name, email)] = hand(
        demo_db,
        "SELECT name, email FROM customer JOIN contact USING (customer_id) WHERE customer_id = 12",
    ).itertuples(index=False)
    expect(page.get_by_text(f"Subject: Hello {name}")).to_be_visible()
    expect(page.get_by_text(f"We write to {email}.")).to_be_visible()

    page.get_by_role("button", name="Create draft campaign").click()
    expect(page.get_by_text("Draft campaign 'Browser spring' created")).to_be_visible()
    page.get_by_role("link", name="Pre-flight and launch →").click()
    expect(page.get_by_role("heading", name="Pre-flight and launch")).to_be_visible()
    idle(page)
    page.get_by_role("button", name="Run the pre-flight").click()
    expect(page.get_by_role("heading", name="Pre-flight report")).to_be_visible(timeout=30_000)
    idle(page)
    [(distinct,)] = hand(
        demo_db,
        "SELECT COUNT(DISTINCT lower(email)) FROM contact WHERE customer_id <= 15",
    ).itertuples(index=False)
    to_send = page.get_by_test_id("stMetric").filter(has_text="To send")
    expect(to_send).to_contain_text(str(distinct))
    expect(page.get_by_test_id("stExpander").filter(has_text="Sample: member")).to_have_count(3)
    # The first sample is open: the member's own rendered subject.
    subjects = page.get_by_text(re.compile(r"^Subject: Hello \S"))
    expect(subjects.filter(visible=True)).to_have_count(1)
    expect(page.get_by_role("button", name="Launch", exact=True)).to_be_enabled()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "campaign-preflight.png"), full_page=True)
    with open_store(store_url) as store:
        made = get_campaign(store, "Browser spring")
    assert (made.status, made.created_by, made.template.subject) == (
        "draft",
        "admin",
        "Hello {{ customer_name }}",
    )
