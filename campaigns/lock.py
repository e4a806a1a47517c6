"""One sender per campaign: a lease in the campaign's row, taken and renewed in write
transactions. A second worker (an overlapping cron, a second scheduler) finds it held and does
nothing (Mautic's duplicate-send bugs came from exactly that overlap). A lease whose holder
died is free once it expires, or at once when the holder was a process on this host that no
longer exists (a SIGKILLed sender must not block its own restart)."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import socket

from sqlalchemy import Connection, select, update

from store.connect import Store
from store.schema import campaign

_c = campaign.c


def owner_name() -> str:
    """One sender, as a lease records it: host, pid and a token, so that two senders in one
    process (two threads of the web app) are two owners.

    >>> f" pid {os.getpid()} #" in owner_name(), owner_name() != owner_name()
    (True, True)
    """
    return f"{socket.gethostname()} pid {os.getpid()} #{secrets.token_hex(4)}"


def acquire(store: Store, campaign_id: int, owner: str, lease_s: float, now: dt.datetime) -> bool:
    """Take (or renew) the campaign's lease for `lease_s` seconds; False if someone holds it.

    >>> from datetime import UTC, datetime
    >>> from store import open_store
    >>> from store.schema import campaign
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> with open_store("sqlite://") as store:
    ...     _ = store.write(lambda c: c.execute(campaign.insert().values(
    ...         id=1, name="c", list_id=1, channel="email", template="{}", control_share=0,
    ...         status="running", created_by="a", created_at=t)))
    ...     a = acquire(store, 1, "host pid 1", 30, t)
    ...     b = acquire(store, 1, "other-host pid 2", 30, t)
    ...     c = acquire(store, 1, "other-host pid 2", 30, t + dt.timedelta(seconds=31))
    ...     a, b, c
    (True, False, True)
    """

    def take(conn: Connection) -> bool:
        holder, until = conn.execute(
            select(_c.lock_owner, _c.lock_until).where(_c.id == campaign_id)
        ).one()
        free = holder is None or holder == owner or until is None or until <= now
        if not free and _dead_here(holder):
            free = True
        if not free:
            return False
        conn.execute(
            update(campaign)
            .where(_c.id == campaign_id)
            .values(lock_owner=owner, lock_until=now + dt.timedelta(seconds=lease_s))
        )
        return True

    return store.write(take)


def holds(store: Store, campaign_id: int, owner: str, now: dt.datetime) -> bool:
    """Whether `owner` holds the campaign's lease at `now` and, if it is a process on this
    host, is still alive (a worker process asks this about its coordinator every batch).

    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     holds(store, 1, "host pid 1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    False
    """
    row = store.read(
        lambda c: c.execute(
            select(_c.lock_owner, _c.lock_until).where(_c.id == campaign_id)
        ).one_or_none()
    )
    if row is None or row[0] != owner or row[1] is None or row[1] <= now:
        return False
    return not _dead_here(owner)


def release(store: Store, campaign_id: int, owner: str) -> None:
    """Give the lease back, if `owner` still holds it."""
    store.write(
        lambda conn: conn.execute(
            update(campaign)
            .where(_c.id == campaign_id, _c.lock_owner == owner)
            .values(lock_owner=None, lock_until=None)
        )
    )


def _dead_here(holder: str) -> bool:
    found = re.fullmatch(r"(.*) pid (\d+)(?: #\w+)?", holder)
    if found is None or found[1] != socket.gethostname():
        return False
    pid = found[2]
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
