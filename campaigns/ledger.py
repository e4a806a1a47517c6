"""The campaign ledger: one row per campaign × member × channel, written before anything is
sent. A row goes pending → sending (committed before the message leaves) → sent / failed /
bounced; suppressed and control rows never leave their state. A sender that dies leaves rows
in `sending`; the next one (holding the campaign's lock) sends them again with the same
Message-ID, so nothing is skipped and a resend is recognisable."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, and_, bindparam, func, or_, select, true, update

from campaigns.exclusions import Decision
from campaigns.suppression import suppress
from store.connect import Store
from store.dialect import upsert_insert
from store.schema import campaign, campaign_ledger, campaign_list_member, now_utc

_g, _m = campaign_ledger.c, campaign_list_member.c
STATES = ("pending", "sending", "sent", "failed", "bounced", "suppressed", "control")


def message_id(campaign_id: int, member_key: str, channel: str, domain: str) -> str:
    """The Message-ID of a ledger row: a function of its key, the same on every resend.

    >>> message_id(7, "1001", "email", "utility.example")
    '<strata.7.fe675fe7aaee830b6fed.email@utility.example>'
    """
    digest = hashlib.sha256(member_key.encode()).hexdigest()[:20]
    return f"<strata.{campaign_id}.{digest}.{channel}@{domain}>"


def write_ledger(
    store: Store, campaign_id: int, channel: str, decisions: Iterable[Decision], domain: str
) -> int:
    """Write a row per decision; rows that exist are left as they are. Returns rows added.

    >>> from store import open_store
    >>> from campaigns.lists import Member
    >>> with open_store("sqlite://") as store:
    ...     d = [Decision(Member("1", "a@x.ba", None, {}), "a@x.ba", "pending")]
    ...     write_ledger(store, 1, "email", d, "x.ba"), write_ledger(store, 1, "email", d, "x.ba")
    (1, 0)
    """
    now = now_utc()
    rows = [
        {
            "campaign_id": campaign_id,
            "member_key": d.member.key,
            "channel": channel,
            "address": d.address,
            "state": d.state,
            "reason": d.reason,
            "attempts": 0,
            "message_id": message_id(campaign_id, d.member.key, channel, domain),
            "updated_at": now,
        }
        for d in decisions
    ]

    def add(conn: Connection) -> int:
        before = _count(conn, campaign_id)
        if rows:
            conn.execute(upsert_insert(conn, campaign_ledger).on_conflict_do_nothing(), rows)
        return _count(conn, campaign_id) - before

    return store.write(add)


@dataclass(frozen=True)
class Claimed:
    """A row a sender has marked `sending`, with what it needs to build the message."""

    id: int
    member_key: str
    address: str
    message_id: str
    attempts: int
    fields: dict


class Result(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # 4xx, a dropped connection: try again later
    BOUNCED = "bounced"  # 5xx: the address is bad; suppress it for later campaigns
    FAILED = "failed"  # retries exhausted, or a problem with this message itself


@dataclass(frozen=True)
class Outcome:
    row: Claimed
    result: Result
    detail: str = ""
    retry_at: dt.datetime | None = None


def claim(
    store: Store,
    campaign_id: int,
    limit: int,
    now: dt.datetime,
    shard: tuple[int, int] | None = None,
) -> list[Claimed]:
    """Mark up to `limit` due pending rows `sending` (committed before returning) and return
    them in ledger order. With `shard` = (k, n), only rows whose id is k modulo n: the n
    worker processes of one campaign claim disjoint rows."""

    def take(conn: Connection) -> list[Claimed]:
        due = or_(_g.next_attempt_at.is_(None), _g.next_attempt_at <= now)
        mine = (_g.id % shard[1]) == shard[0] if shard else true()
        query = (
            select(_g.id, _g.member_key, _g.address, _g.message_id, _g.attempts, _m.fields)
            .select_from(
                campaign_ledger.join(campaign, campaign.c.id == _g.campaign_id).join(
                    campaign_list_member,
                    and_(_m.list_id == campaign.c.list_id, _m.member_key == _g.member_key),
                )
            )
            .where(_g.campaign_id == campaign_id, _g.state == "pending", due, mine)
            .order_by(_g.id)
            .limit(limit)
        )
        rows = conn.execute(query).all()
        if rows:
            conn.execute(
                update(campaign_ledger)
                .where(_g.id.in_([r.id for r in rows]))
                .values(state="sending", updated_at=now)
            )
        return [
            Claimed(r.id, r.member_key, r.address, r.message_id, r.attempts, json.loads(r.fields))
            for r in rows
        ]

    return store.write(take)


def record(store: Store, campaign_id: int, channel: str, outcomes: Sequence[Outcome]) -> None:
    """Write what happened to claimed rows, in one transaction; bounces are suppressed."""
    if not outcomes:
        return
    now = now_utc()
    params = []
    for o in outcomes:
        state = {"sent": "sent", "retry": "pending"}.get(o.result.value, o.result.value)
        params.append(
            {
                "row_id": o.row.id,
                "new_state": state,
                "new_reason": o.detail or None,
                "new_attempts": o.row.attempts + 1,
                "new_next": o.retry_at,
                "new_sent_at": now if o.result is Result.SENT else None,
            }
        )
    stmt = (
        update(campaign_ledger)
        .where(_g.id == bindparam("row_id"), _g.state == "sending")
        .values(
            state=bindparam("new_state"),
            reason=bindparam("new_reason"),
            attempts=bindparam("new_attempts"),
            next_attempt_at=bindparam("new_next"),
            sent_at=bindparam("new_sent_at"),
            updated_at=now,
        )
    )

    def write(conn: Connection) -> None:
        conn.execute(stmt, params)
        for o in outcomes:
            if o.result is Result.BOUNCED:
                suppress(conn, channel, o.row.address, "bounced", campaign_id)

    store.write(write)


def recover(store: Store, campaign_id: int) -> int:
    """Put rows a dead sender left in `sending` back to pending; only the lock holder may.

    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     recover(store, 1)
    0
    """

    def reset(conn: Connection) -> int:
        stmt = (
            update(campaign_ledger)
            .where(_g.campaign_id == campaign_id, _g.state == "sending")
            .values(state="pending", updated_at=now_utc())
        )
        return conn.execute(stmt).rowcount

    return store.write(reset)


def counts(store: Store, campaign_id: int) -> dict[str, int]:
    """Rows per state (every state listed, zeros included)."""
    query = select(_g.state, func.count()).where(_g.campaign_id == campaign_id).group_by(_g.state)
    found = dict(store.read(lambda c: c.execute(query).all()))
    return {state: found.get(state, 0) for state in STATES}


def next_retry(store: Store, campaign_id: int) -> dt.datetime | None:
    """When the earliest pending row waiting for a retry is due (None if none waits)."""
    query = select(func.min(_g.next_attempt_at)).where(
        _g.campaign_id == campaign_id, _g.state == "pending", _g.next_attempt_at.is_not(None)
    )
    return store.read(lambda c: c.execute(query).scalar())


def ledger_rows(store: Store, campaign_id: int) -> list[dict]:
    """Every ledger row of a campaign, as dicts (reports and tests)."""
    query = select(campaign_ledger).where(_g.campaign_id == campaign_id).order_by(_g.id)
    return [dict(r._mapping) for r in store.read(lambda c: c.execute(query).all())]


def _count(conn: Connection, campaign_id: int) -> int:
    return conn.execute(select(func.count()).where(_g.campaign_id == campaign_id)).scalar_one()
