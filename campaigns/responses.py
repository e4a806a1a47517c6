"""Responses: which campaign members did what the campaign promoted (took up e-bill) within N
days of its start. Read from the warehouse through the engine as a user, like a list, and
written beside the ledger, where the "Campaign Results" subject area measures lift."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from campaigns.campaign import Campaign, CampaignError
from store.connect import Store
from store.dialect import upsert_insert
from store.schema import campaign_ledger, campaign_response

if TYPE_CHECKING:
    from engine.api import Engine


def record_responses(
    engine: Engine,
    store: Store,
    campaign: Campaign,
    adopters_sql: str,
    user: str,
    days: int,
    kind: str,
    since: dt.datetime | None = None,
) -> int:
    """Record as responders the campaign's members (targeted or control) that `adopters_sql`
    returns with a date within `days` days from `since` (default: the campaign's start).

    `adopters_sql` selects two columns: the member key and the date of the response, e.g.
    customers and the start of their e-bill subscription. Returns the responders added.
    Example: `tests/test_campaign_results.py`.
    """
    start = since or campaign.started_at
    if start is None:
        raise CampaignError(
            f"campaign {campaign.name!r} has not started\n"
            "  hint: responses are counted from its start; pass `since` to choose another day"
        )
    df = engine.query(adopters_sql, user=user).df
    if len(df.columns) != 2:
        raise CampaignError(
            f"the responders' request returns {len(df.columns)} columns\n"
            "  hint: select exactly two: the member key and the date of the response"
        )
    end = start + dt.timedelta(days=days)
    first: dict[str, dt.datetime] = {}
    for key, when in df.itertuples(index=False, name=None):
        at = _aware(when)
        if key is None or at is None or not (start <= at <= end):
            continue
        k = str(key.item() if hasattr(key, "item") else key)
        first[k] = min(first.get(k, at), at)
    return add_responses(store, campaign.id, first.items(), kind)


def add_responses(
    store: Store, campaign_id: int, responses: Iterable[tuple[str, dt.datetime]], kind: str
) -> int:
    """Record (member key, when) responses for members on the campaign's ledger (others are
    ignored); a member responds once. Returns the responses added.

    >>> from datetime import UTC, datetime
    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     add_responses(store, 1, [("7", datetime(2026, 1, 1, tzinfo=UTC))], "e-bill")
    0
    """
    wanted = dict(responses)

    def add(conn: Connection) -> int:
        on_ledger = set(
            conn.execute(
                select(campaign_ledger.c.member_key).where(
                    campaign_ledger.c.campaign_id == campaign_id,
                    campaign_ledger.c.state != "suppressed",
                )
            ).scalars()
        )
        rows = [
            {"campaign_id": campaign_id, "member_key": k, "responded_at": at, "kind": kind}
            for k, at in wanted.items()
            if k in on_ledger
        ]
        added = 0
        for row in rows:
            insert = upsert_insert(conn, campaign_response).values(**row)
            added += conn.execute(insert.on_conflict_do_nothing()).rowcount
        return added

    return store.write(add)


def _aware(value) -> dt.datetime | None:
    # Imported here, not at the top: the sender imports this package, and pandas would add
    # seconds to the start-up of every `strata campaign run`.
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()
