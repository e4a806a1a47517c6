"""Channels behind one protocol, registered by name: the runner knows none of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from campaigns.campaign import Campaign
from campaigns.ledger import Claimed, Outcome, Result
from campaigns.settings import SendSettings


class Channel(Protocol):
    """Prepares one row's message (CPU) and delivers it (I/O) through its own connections."""

    name: ClassVar[str]

    def __init__(self, campaign: Campaign, settings: SendSettings) -> None: ...

    def prepare(self, row: Claimed) -> Any: ...

    async def open(self) -> None: ...

    async def deliver(self, row: Claimed, prepared: Any) -> Outcome: ...

    async def close(self) -> None: ...


CHANNELS: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    """Make a channel available by its name (built-in channels register like any other)."""
    CHANNELS[cls.name] = cls
    return cls


def channel_for(campaign: Campaign, settings: SendSettings) -> Channel:
    """The channel a campaign sends through.

    >>> import campaigns.smtp, campaigns.sms
    >>> sorted(CHANNELS)
    ['email', 'sms']
    """
    import campaigns.sms
    import campaigns.smtp  # noqa: F401  (registers the built-in channels)

    return CHANNELS[campaign.channel](campaign, settings)


def transient(
    row: Claimed, settings: SendSettings, detail: str, now: Callable[[], dt.datetime]
) -> Outcome:
    """A temporary failure: retry with a doubling backoff, until attempts run out.

    >>> from datetime import UTC, datetime
    >>> row = Claimed(1, "k", "a@x.ba", "<m>", 0, {})
    >>> at = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    >>> o = transient(row, SendSettings(retry_base_s=30), "451", at)
    >>> o.result.value, o.retry_at.isoformat()
    ('retry', '2026-01-01T00:00:30+00:00')
    """
    if row.attempts + 1 >= settings.max_attempts:
        return Outcome(row, Result.FAILED, f"{detail} (gave up after {row.attempts + 1} attempts)")
    wait = settings.retry_base_s * 2**row.attempts
    return Outcome(row, Result.RETRY, detail, now() + dt.timedelta(seconds=wait))
