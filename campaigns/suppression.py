"""The suppression list, per channel: addresses that no later campaign may contact, and why
(unsubscribed, bounced, manual)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from store.connect import Store
from store.dialect import upsert_insert
from store.schema import now_utc, suppression

REASONS = ("unsubscribed", "bounced", "manual")


def normalise(channel: str, address: str) -> str:
    """The form an address is compared in: e-mail lower-cased, phone digits with its '+'.

    >>> normalise("email", " Ana@X.BA "), normalise("sms", "+387 61-234 567")
    ('ana@x.ba', '+38761234567')
    """
    address = address.strip()
    if channel == "email":
        return address.casefold()
    return "".join(c for c in address if c.isdigit() or c == "+")


def suppress(
    store: Store | Connection,
    channel: str,
    address: str,
    reason: str,
    campaign_id: int | None = None,
) -> None:
    """Add `address` to the channel's suppression list; the first reason recorded is kept.

    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     suppress(store, "email", "Ana@x.ba", "unsubscribed")
    ...     suppress(store, "email", "ana@x.ba", "bounced")
    ...     suppressed(store, "email")
    {'ana@x.ba': 'unsubscribed'}
    """
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}; one of {', '.join(REASONS)}")

    def add(conn: Connection) -> None:
        row = {
            "channel": channel,
            "address": normalise(channel, address),
            "reason": reason,
            "campaign_id": campaign_id,
            "at": now_utc(),
        }
        conn.execute(upsert_insert(conn, suppression).values(**row).on_conflict_do_nothing())

    if isinstance(store, Connection):
        add(store)
    else:
        store.write(add)


def suppressed(store: Store, channel: str) -> dict[str, str]:
    """Every suppressed address of `channel` (normalised) and its reason."""
    query = select(suppression.c.address, suppression.c.reason).where(
        suppression.c.channel == channel
    )
    return dict(store.read(lambda c: c.execute(query).all()))
