"""Customer 360's campaign history: the campaigns a customer was a member of, with the
ledger's state, when the message was sent, the response and an unsubscribe, asked of the
campaigns API, and only the campaigns the acting user may open. Real components: the demo
warehouse, the SQLite app store, a campaign sent through aiosmtpd."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from campaigns import (
    add_responses,
    create_campaign,
    freeze_list,
    launch,
    ledger_rows,
    preflight,
    run_campaign,
    suppress,
)
from campaigns.settings import SendSettings
from campaigns.templates import Template
from engine import Engine
from store import open_store
from tests.campaign_fixtures import sink_fixture  # noqa: F401
from tests.conftest import ROOT, hand
from tests.test_customers_pages import act, folder, frame, page  # noqa: F401

HISTORY = ("campaign", "status", "channel", "state")
uses_folder = pytest.mark.usefixtures("folder")


def _two_customers_with_an_email(demo_db) -> list[tuple[int, str]]:
    found = hand(
        demo_db,
        "SELECT customer_id, email FROM contact WHERE regexp_full_match(email, '[a-z0-9._-]+@"
        "[a-z0-9-]+(\\.[a-z0-9-]+)+') ORDER BY customer_id LIMIT 2",
    )
    return [(int(i), e) for i, e in found.itertuples(index=False, name=None)]


@pytest.fixture
def history(demo_db, sink):
    """Campaign "Spring" by marketer, sent to two customers; the first responded ("e-bill")
    and unsubscribed through it. Campaign "Admin draft" by admin has the first on its list
    and is not launched. Returns (customer id, e-mail, Spring's ledger row for them, both
    members' ids)."""
    (first, email), (second, _) = _two_customers_with_an_email(demo_db)
    url = os.environ["STRATA_STORE_URL"]
    sql = (
        'SELECT "Customer"."Customer Id", "Contact"."Email" FROM "Campaigns"'
        f' WHERE "Customer"."Customer Id" IN ({first}, {second})'
    )
    engine = Engine.open(ROOT / "models" / "demo", store_url=url)
    settings = SendSettings(smtp_host="127.0.0.1", smtp_port=sink.port, sender="ep@x.example")
    template = Template("News", "Dear customer, news.")
    try:
        with open_store(url) as store:
            spring = create_campaign(
                store,
                "Spring",
                freeze_list(engine, store, "Two", sql, "marketer"),
                template,
                "marketer",
            )
            launch(store, spring.id, preflight(store, spring), settings)
            run_campaign(store, spring.id, settings)
            add_responses(
                store, spring.id, [(str(first), dt.datetime(2026, 5, 2, tzinfo=dt.UTC))], "e-bill"
            )
            suppress(store, "email", email, "unsubscribed", spring.id)
            create_campaign(
                store,
                "Admin draft",
                freeze_list(engine, store, "Admin's", sql, "admin"),
                template,
                "admin",
            )
            ledger = next(r for r in ledger_rows(store, spring.id) if r["member_key"] == str(first))
    finally:
        engine.close()
    return first, email, ledger, (first, second)


def _shown(at):
    return frame(at, *HISTORY)


@uses_folder
def test_the_360_lists_the_customers_campaigns_with_state_sent_at_response_and_unsubscribe(
    history,
):
    customer, email, ledger, _ = history
    at = page("customers_360")
    at.query_params["customer"] = str(customer)
    at = act(at)
    shown = _shown(at)
    assert shown[["campaign", "status", "state"]].values.tolist() == [
        ["Admin draft", "draft", "not launched"],
        ["Spring", "finished", "sent"],
    ]
    spring = shown.iloc[1]
    assert ledger["state"] == "sent"
    assert (spring["address"], spring["response"], bool(spring["unsubscribed"])) == (
        email,
        "e-bill",
        True,
    )
    assert spring["sent at"].to_pydatetime().replace(tzinfo=None) == ledger["sent_at"].replace(
        tzinfo=None
    )
    assert str(spring["responded at"])[:10] == "2026-05-02"


@uses_folder
def test_a_user_sees_only_the_campaigns_they_may_open(history):
    customer, *_ = history
    at = page("customers_360")
    at.query_params["customer"] = str(customer)
    act(at.sidebar.selectbox(key="acting_user").select("marketer"))
    assert _shown(at)["campaign"].tolist() == ["Spring"]  # the admin's draft is not theirs


@uses_folder
def test_a_customer_in_no_campaign_says_so(history):
    at = page("customers_360")
    # Customer 1, or 2 or 3: one of the first three is neither of the two on the lists.
    at.query_params["customer"] = str(next(i for i in (1, 2, 3) if i not in history[3]))
    at = act(at)
    assert "In no campaign this user may see." in [c.value for c in at.caption]
