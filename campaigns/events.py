"""Opens and clicks, as the tracking endpoint receives them: check that a signed token names a
message this campaign sent with tracking on, find where a click goes from the campaign's own
template (never from the request), and record the first open and the first click per link.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, case, func, select

from campaigns.campaign import Campaign, CampaignError, get_campaign
from campaigns.templates import compile_template
from campaigns.tokens import Tracked
from campaigns.tracking import links
from store.connect import Store
from store.dialect import upsert_insert
from store.schema import campaign_event, campaign_ledger, campaign_list_member, now_utc

_g, _m = campaign_ledger.c, campaign_list_member.c


class NotTracked(CampaignError):
    """The token is signed but names no tracked message (campaign, member or link unknown)."""


def record_event(store: Store, tracked: Tracked, at: dt.datetime | None = None) -> str:
    """Record an open or a click; return where a click goes ('' for an open).

    Only the first open of a message and the first click on each of its links add a row;
    later ones are answered the same and change nothing. Raises `NotTracked` (and records
    nothing) when the campaign does not track, the member was not sent to, or the link
    number is not one of the member's links.

    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     record_event(store, Tracked(1, "7", 0))
    Traceback (most recent call last):
    campaigns.events.NotTracked: no tracked message for campaign 1, member '7'
    """
    at = at or now_utc()
    url = _target(store, tracked)

    def add(conn: Connection) -> str:
        row = {
            "campaign_id": tracked.campaign_id,
            "member_key": tracked.member_key,
            "kind": tracked.kind,
            "link": tracked.link,
            "url": url or None,
            "at": at,
        }
        conn.execute(upsert_insert(conn, campaign_event).values(**row).on_conflict_do_nothing())
        return url

    return store.write(add)


def events(store: Store, campaign_id: int) -> list[dict]:
    """A campaign's recorded opens and clicks, as dicts (reports and tests)."""
    query = (
        select(campaign_event)
        .where(campaign_event.c.campaign_id == campaign_id)
        .order_by(campaign_event.c.at, campaign_event.c.member_key, campaign_event.c.link)
    )
    return [dict(r._mapping) for r in store.read(lambda c: c.execute(query).all())]


def engagement(store: Store, campaign_id: int) -> tuple[int, int]:
    """(members who opened, members who clicked) of a campaign; a click counts as an open.

    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     engagement(store, 1)
    (0, 0)
    """
    e = campaign_event.c
    clicked = func.count(func.distinct(case((e.kind == "click", e.member_key))))
    query = select(func.count(func.distinct(e.member_key)), clicked).where(
        e.campaign_id == campaign_id
    )
    opened, clicks = store.read(lambda c: c.execute(query).one())
    return int(opened), int(clicks)


def _target(store: Store, tracked: Tracked) -> str:
    missing = NotTracked(
        f"no tracked message for campaign {tracked.campaign_id}, member {tracked.member_key!r}"
    )
    try:
        campaign = get_campaign(store, tracked.campaign_id)
    except CampaignError:
        raise missing from None
    if not campaign.tracking or campaign.template.html is None:
        raise missing
    return store.read(lambda conn: _checked(conn, campaign, tracked, missing))


def _checked(conn: Connection, campaign: Campaign, tracked: Tracked, missing: NotTracked) -> str:
    state = conn.execute(
        select(_g.state).where(
            _g.campaign_id == campaign.id,
            _g.member_key == tracked.member_key,
            _g.channel == campaign.channel,
        )
    ).scalar_one_or_none()
    # Control and suppressed members were never sent a message, so they cannot open one.
    if state is None or state in ("control", "suppressed"):
        raise missing
    if tracked.link == 0:
        return ""
    return _link(conn, campaign, tracked)


def _link(conn: Connection, campaign: Campaign, tracked: Tracked) -> str:
    fields = conn.execute(
        select(_m.fields).where(_m.list_id == campaign.list_id, _m.member_key == tracked.member_key)
    ).scalar_one_or_none()
    if fields is None:
        raise NotTracked(f"member {tracked.member_key!r} is not on the campaign's list")
    # The member's HTML rendered again, as the sender rendered it: the list is frozen and a
    # launched campaign's template cannot change, so link n is the link that was sent.
    html = compile_template(campaign.template).render(json.loads(fields)).html or ""
    found = links(html)
    if not 1 <= tracked.link <= len(found):
        raise NotTracked(
            f"campaign {campaign.id} has no link {tracked.link} for member {tracked.member_key!r}"
        )
    return found[tracked.link - 1]
