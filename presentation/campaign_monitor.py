"""The campaign monitor: every campaign with its status, its ledger counts per state and its
progress; delivered messages, opens, clicks and clicks per link; and one campaign's ledger
rows.

The campaigns listed are those the user may open (campaigns/visibility.py). Delivered, opens
and clicks are asked of the "Campaign Results" subject area through the engine as the user
(campaigns/engagement_report.py), so row filters apply as in any analysis; lift and responses
are ordinary analyses there too.
"""

from __future__ import annotations

import streamlit as st

from campaigns import Campaign, counts, ledger_rows, list_campaigns, viewer
from campaigns.engagement_report import Engagement, engagement_report
from campaigns.ledger import STATES
from presentation import state
from presentation.campaign_common import sender_log
from semantic.errors import StrataError

LEDGER_ROWS = 200
DONE = ("sent", "failed", "bounced")  # a row in one of these states is settled for good


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Campaign monitor")
    store = state.store(eng)
    campaigns = list_campaigns(store, viewer(eng, user))
    st.button("Refresh", key="cm_refresh")
    if not campaigns:
        st.info("No campaigns yet.")
    else:
        tally = {c.id: counts(store, c.id) for c in campaigns}
        st.dataframe(
            [_row(c, tally[c.id]) for c in campaigns],
            hide_index=True,
            key="cm_table",
            width="stretch",
            column_config={
                "progress": st.column_config.ProgressColumn(
                    "progress",
                    help="Settled (sent, failed, bounced) of those to send",
                    min_value=0.0,
                    max_value=1.0,
                    format="percent",
                )
            },
        )
        _engagement(eng, user, campaigns)
        _ledger(store, campaigns)
    st.divider()
    st.markdown(
        "**Results and lift** are analyses like any other: open the Analysis page and pick the "
        "subject area **Campaign Results** (sent, bounced, unsubscribed, responders, and *Lift*: "
        "the targeted response rate minus the control group's)."
    )
    st.page_link(st.session_state["pages"]["builder"], label="Analysis →")


def progress(tally: dict[str, int]) -> float | None:
    """The settled share of the rows meant to be sent (None before the ledger is written).

    >>> progress({"pending": 1, "sent": 2, "failed": 1, "suppressed": 5, "control": 3})
    0.75
    >>> progress({"suppressed": 2}) is None
    True
    """
    to_send = sum(tally.get(s, 0) for s in ("pending", "sending", *DONE))
    return sum(tally.get(s, 0) for s in DONE) / to_send if to_send else None


def _row(c: Campaign, tally: dict[str, int]) -> dict:
    return {
        "campaign": c.name,
        "channel": c.channel,
        "status": str(c.status),
        "created by": c.created_by,
        "started": c.started_at.strftime("%Y-%m-%d %H:%M") if c.started_at else "",
        **{state_: tally[state_] for state_ in STATES},
        "progress": progress(tally),
    }


def engagement_row(c: Campaign, found: Engagement | None) -> dict:
    """One campaign's line of the opens-and-clicks table; opens and clicks only if tracked.

    >>> from types import SimpleNamespace as Made
    >>> row = engagement_row(Made(name="Spring", tracking=True), Engagement(4, 3, 1))
    >>> row["delivered"], row["unique opens"], row["open rate"], row["click rate"]
    (4, 3, 0.75, 0.25)
    >>> engagement_row(Made(name="Plain", tracking=False), Engagement(4))["unique opens"] is None
    True
    """
    found = found or Engagement()
    tracked = bool(c.tracking)
    return {
        "campaign": c.name,
        "tracked": "yes" if tracked else "no",
        "delivered": found.delivered,
        "unique opens": found.opened if tracked else None,
        "unique clicks": found.clicked if tracked else None,
        "open rate": found.open_rate if tracked else None,
        "click rate": found.click_rate if tracked else None,
    }


def _engagement(eng, user: str | None, campaigns: list[Campaign]) -> None:
    st.subheader("Delivered, opens and clicks")
    try:
        found = engagement_report(eng, [c.name for c in campaigns], user)
    except StrataError as e:
        st.warning(f"Opens and clicks could not be asked of Campaign Results:\n\n{e}")
        return
    st.caption(
        "Asked of the Campaign Results subject area as the acting user, so only recipients "
        "they may see count. Delivered: messages the mail server accepted. Opens and clicks "
        "count members once, and only for campaigns sent with tracking; a blocked image or a "
        "plain-text reader is never counted, so they are a lower bound."
    )
    rate = {"format": "percent", "min_value": 0.0, "max_value": 1.0}
    st.dataframe(
        [engagement_row(c, found.get(c.name)) for c in campaigns],
        hide_index=True,
        key="cm_engagement",
        width="stretch",
        column_config={
            "open rate": st.column_config.ProgressColumn("open rate", **rate),
            "click rate": st.column_config.ProgressColumn("click rate", **rate),
        },
    )
    links = [
        {"campaign": c.name, "link": link.url, "members who clicked": link.clicked}
        for c in campaigns
        if c.tracking and c.name in found
        for link in found[c.name].links
    ]
    st.markdown("**Clicks per link**")
    if links:
        st.dataframe(links, hide_index=True, key="cm_links", width="stretch")
    else:
        st.caption("No clicks recorded yet.")


def _ledger(store, campaigns: list[Campaign]) -> None:
    st.subheader("Ledger")
    name = st.selectbox("Campaign", [c.name for c in campaigns], key="cm_campaign")
    campaign = next(c for c in campaigns if c.name == name)
    shown = st.multiselect("States", STATES, default=STATES, key="cm_states")
    rows = [r for r in ledger_rows(store, campaign.id) if r["state"] in shown]
    st.caption(f"{len(rows):,} row(s) in these states; the first {LEDGER_ROWS} below.")
    columns = ("member_key", "address", "state", "reason", "attempts", "sent_at", "message_id")
    st.dataframe(
        [{k: r[k] for k in columns} for r in rows[:LEDGER_ROWS]],
        hide_index=True,
        key="cm_ledger",
        width="stretch",
    )
    log = sender_log(campaign.id)
    if log.exists():
        with st.expander("Sender log (the last lines)"):
            st.code("\n".join(log.read_text().splitlines()[-20:]), language=None)
