"""One customer's campaign history: every campaign whose list had them as a member, with what
the ledger did (sent, suppressed and why, control, failed), when it was sent, whether they
responded and whether they unsubscribed through it.

A list's members are keyed by its key column, so the customer is given as {column: value}
(e.g. {"Customer Id": "7", "Customer Number": "EP-0000007"}). A list keyed by another column
never matches. The caller passes only the campaigns the acting user may see
(`list_campaigns(store, viewer(engine, user))`), the same rule as the campaign pages and CLI.

>>> from store import open_store
>>> with open_store("sqlite://") as store:
...     member_history(store, {"Customer Id": "7"}, [])
()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, select

from campaigns.campaign import Campaign
from campaigns.suppression import normalise
from store.connect import Store
from store.schema import (
    campaign_ledger,
    campaign_list,
    campaign_list_member,
    campaign_response,
    suppression,
)

_g, _l, _m = campaign_ledger.c, campaign_list.c, campaign_list_member.c
_r, _s = campaign_response.c, suppression.c


@dataclass(frozen=True)
class HistoryRow:
    campaign_id: int
    campaign: str
    status: str  # the campaign's: draft, running, finished, ...
    channel: str
    member_key: str
    state: str  # the ledger's (sent, suppressed, control, ...); "not launched" without a row
    reason: str | None
    address: str | None
    sent_at: dt.datetime | None
    response: str | None  # what counted as a response (e.g. "e-bill"), if they responded
    responded_at: dt.datetime | None
    unsubscribed: bool  # through this campaign


def member_history(
    store: Store, keys: Mapping[str, str], campaigns: Iterable[Campaign]
) -> tuple[HistoryRow, ...]:
    """The history of the customer known by `keys` in `campaigns`, newest campaign first."""
    chosen = sorted(campaigns, key=lambda c: c.id, reverse=True)
    return store.read(lambda conn: tuple(_rows(conn, keys, chosen)))


def _rows(conn: Connection, keys: Mapping[str, str], campaigns: list[Campaign]):
    for campaign in campaigns:
        key_column = conn.execute(
            select(_l.key_column).where(_l.id == campaign.list_id)
        ).scalar_one()
        key = keys.get(key_column)
        if key is None:
            continue
        on_list = conn.execute(
            select(_m.member_key).where(_m.list_id == campaign.list_id, _m.member_key == key)
        ).first()
        if on_list is None:
            continue
        ledger = conn.execute(
            select(_g.state, _g.reason, _g.address, _g.sent_at).where(
                _g.campaign_id == campaign.id, _g.member_key == key, _g.channel == campaign.channel
            )
        ).first()
        response = conn.execute(
            select(_r.kind, _r.responded_at).where(
                _r.campaign_id == campaign.id, _r.member_key == key
            )
        ).first()
        unsubscribed = False
        if ledger is not None and ledger.address:
            unsubscribed = (
                conn.execute(
                    select(_s.reason).where(
                        _s.channel == campaign.channel,
                        _s.address == normalise(campaign.channel, ledger.address),
                        _s.campaign_id == campaign.id,
                        _s.reason == "unsubscribed",
                    )
                ).first()
                is not None
            )
        yield HistoryRow(
            campaign.id,
            campaign.name,
            str(campaign.status),
            campaign.channel,
            key,
            ledger.state if ledger else "not launched",
            ledger.reason if ledger else None,
            ledger.address if ledger else None,
            ledger.sent_at if ledger else None,
            response.kind if response else None,
            response.responded_at if response else None,
            unsubscribed,
        )
