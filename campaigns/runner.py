"""Send a running campaign: take its lock, put rows a dead sender left back to pending, then
claim a batch (committed as `sending`), send it through the channel's connections at the
campaign's rate, record every outcome, and repeat until no row is due; pausing or cancelling
the campaign stops the loop at the next batch."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from campaigns.campaign import CampaignError, Status, get_campaign, set_status
from campaigns.channels import channel_for
from campaigns.ledger import Claimed, Outcome, Result, claim, counts, next_retry, record, recover
from campaigns.lock import acquire, owner_name, release
from campaigns.ratelimit import RateLimiter
from campaigns.settings import SendSettings
from store.connect import Store


@dataclass(frozen=True)
class RunReport:
    """What one run did. `locked_out`: another sender held the campaign, so this one did
    nothing."""

    campaign: str
    status: Status
    locked_out: bool = False
    recovered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    ledger: dict[str, int] = field(default_factory=dict)


def run_campaign(
    store: Store,
    name_or_id: str | int,
    settings: SendSettings | None = None,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_wait_s: float = 5.0,
) -> RunReport:
    """Send campaign `name_or_id` until it is finished, paused or cancelled.

    Waits for rows whose retry is not yet due (checking the status at least every
    `max_wait_s`), so a run ends with the campaign finished unless someone stopped it.
    Example: `tests/test_campaign_sending.py`.
    """
    settings = settings or SendSettings.from_env()
    return asyncio.run(_run(store, name_or_id, settings, now, clock, sleep, max_wait_s))


async def _run(store, name_or_id, settings, now, clock, sleep, max_wait_s) -> RunReport:
    campaign = get_campaign(store, name_or_id)
    if campaign.status is not Status.RUNNING:
        return RunReport(campaign.name, campaign.status, ledger=counts(store, campaign.id))
    owner = owner_name()
    if not acquire(store, campaign.id, owner, settings.lease_s, now()):
        return RunReport(campaign.name, campaign.status, locked_out=True)
    tally = {r.value: 0 for r in Result}
    channel = None
    try:
        # We hold the lock: any row still `sending` belongs to a sender that died.
        recovered = recover(store, campaign.id)
        channel = channel_for(campaign, settings)
        await channel.open()
        limiter = RateLimiter(campaign.rate_per_second, campaign.rate_per_hour)
        while True:
            status = get_campaign(store, campaign.id).status
            if status is not Status.RUNNING:
                break
            if not acquire(store, campaign.id, owner, settings.lease_s, now()):
                break  # the lease was taken over (we stalled past it): stop sending at once
            # Never claim more than the rate lets start soon: rows wait in `pending`, where
            # a pause, a cancel or another sender can still see them, not in `sending`.
            wait = limiter.wait(clock())
            if wait > max_wait_s:
                await sleep(max_wait_s)
                continue
            rows = claim(
                store,
                campaign.id,
                _claimable(campaign, limiter, clock, settings, max_wait_s),
                now(),
            )
            if not rows:
                due = next_retry(store, campaign.id)
                if due is None:
                    _finish(store, campaign.id)
                    break
                await sleep(min(max_wait_s, max(0.0, (due - now()).total_seconds())))
                continue
            outcomes = await _send_batch(channel, rows, limiter, clock, sleep)
            record(store, campaign.id, campaign.channel, outcomes)
            for o in outcomes:
                tally[o.result.value] += 1
    finally:
        if channel is not None:
            await channel.close()
        release(store, campaign.id, owner)
    final = get_campaign(store, campaign.id)
    return RunReport(final.name, final.status, False, recovered, tally, counts(store, final.id))


async def _send_batch(channel, rows: list[Claimed], limiter, clock, sleep) -> list[Outcome]:
    async def one(row: Claimed, delay: float) -> Outcome:
        try:
            prepared = channel.prepare(row)
        except Exception as e:  # preview renders every member; this is a last line of defence
            return Outcome(row, Result.FAILED, f"cannot build the message: {e}")
        if delay > 0:
            await sleep(delay)
        return await channel.deliver(row, prepared)

    start = clock()
    # The limiter hands out start times; the channel's pool bounds how many run at once.
    delays = [limiter.take(start) for _ in rows]
    return list(await asyncio.gather(*(one(r, d) for r, d in zip(rows, delays, strict=True))))


def _claimable(campaign, limiter, clock, settings, max_wait_s) -> int:
    """The batch size, cut to what the rate lets start within about `max_wait_s`."""
    limit = settings.batch_size
    if campaign.rate_per_second:
        limit = min(limit, max(1, int(campaign.rate_per_second * max_wait_s)))
    room = limiter.room(clock())
    if room is not None:
        limit = min(limit, max(1, room))
    return limit


def _finish(store: Store, campaign_id: int) -> None:
    # Paused or cancelled in the meantime: their status stands.
    with contextlib.suppress(CampaignError):
        set_status(store, campaign_id, Status.FINISHED, expected=Status.RUNNING)
