"""Send a running campaign: take its lock, put rows a dead sender left back to pending, then
claim a batch (committed as `sending`), send it through the channel's connections at the
campaign's rate, record every outcome, and repeat until no row is due; pausing or cancelling
the campaign stops the loop at the next batch.

With `workers` > 1, `campaigns.workers` runs the campaign in several processes: it holds the
lock itself and starts workers that each send one `Shard` of the ledger (see there)."""

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
from campaigns.lock import acquire, holds, owner_name, release
from campaigns.ratelimit import RateLimiter
from campaigns.settings import SendSettings
from store.connect import Store


@dataclass(frozen=True)
class RunReport:
    """What one run did. `locked_out`: another sender held the campaign, so this one did
    nothing. `workers_lost`: worker processes that died (their rows were sent at the end)."""

    campaign: str
    status: Status
    locked_out: bool = False
    recovered: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    ledger: dict[str, int] = field(default_factory=dict)
    workers_lost: int = 0


@dataclass(frozen=True)
class Shard:
    """One worker's part of a campaign sent by several processes: the ledger rows whose id
    is `index` modulo `count`, sent only while `coordinator` holds the campaign's lock.

    >>> Shard(1, 4, "host pid 7 #ab").count
    4
    """

    index: int
    count: int
    coordinator: str


def run_campaign(
    store: Store,
    name_or_id: str | int,
    settings: SendSettings | None = None,
    *,
    workers: int = 1,
    shard: Shard | None = None,
    owner: str | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_wait_s: float = 5.0,
) -> RunReport:
    """Send campaign `name_or_id` until it is finished, paused or cancelled.

    Waits for rows whose retry is not yet due (checking the status at least every
    `max_wait_s`), so a run ends with the campaign finished unless someone stopped it.
    `workers` > 1 sends from that many processes (`campaigns.workers`); `shard` is what one
    of them runs; `owner` lets a coordinator finish under the lock it already holds.
    Example: `tests/test_campaign_sending.py`.
    """
    settings = settings or SendSettings.from_env()
    if workers > 1 and shard is None:
        from campaigns.workers import run_workers

        return run_workers(store, name_or_id, settings, workers, now=now, max_wait_s=max_wait_s)
    return asyncio.run(
        _run(store, name_or_id, settings, now, clock, sleep, max_wait_s, shard, owner)
    )


async def _run(
    store, name_or_id, settings, now, clock, sleep, max_wait_s, shard=None, owner=None
) -> RunReport:
    campaign = get_campaign(store, name_or_id)
    if campaign.status is not Status.RUNNING:
        return RunReport(campaign.name, campaign.status, ledger=counts(store, campaign.id))
    if shard is not None:
        # A worker never takes the lock: it sends while its coordinator holds it.
        if not holds(store, campaign.id, shard.coordinator, now()):
            return RunReport(campaign.name, campaign.status, locked_out=True)
        owner = None
    else:
        owner = owner or owner_name()
        if not acquire(store, campaign.id, owner, settings.lease_s, now()):
            return RunReport(campaign.name, campaign.status, locked_out=True)
    tally = {r.value: 0 for r in Result}
    channel = None
    recovered = 0
    try:
        if shard is None:
            # We hold the lock: any row still `sending` belongs to a sender that died.
            recovered = recover(store, campaign.id)
        channel = channel_for(campaign, settings)
        await channel.open()
        limiter = _limiter(campaign, shard)
        while True:
            status = get_campaign(store, campaign.id).status
            if status is not Status.RUNNING:
                break
            if shard is not None:
                if not holds(store, campaign.id, shard.coordinator, now()):
                    break  # the coordinator died or lost the lease: stop sending at once
            elif not acquire(store, campaign.id, owner, settings.lease_s, now()):
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
                (shard.index, shard.count) if shard else None,
            )
            if not rows:
                if shard is not None:
                    break  # retries and leftovers are the coordinator's final pass
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
        if owner is not None:
            release(store, campaign.id, owner)
    final = get_campaign(store, campaign.id)
    return RunReport(final.name, final.status, False, recovered, tally, counts(store, final.id))


def _limiter(campaign, shard: Shard | None) -> RateLimiter:
    """The campaign's rate limits, or this worker's share of them (shard 0 takes the
    remainder of the hourly limit, so the shares add up to the limit exactly).

    >>> from types import SimpleNamespace as Limits
    >>> rates = Limits(rate_per_second=9.0, rate_per_hour=7)
    >>> [(r.per_second, r.per_hour) for r in (_limiter(rates, Shard(k, 3, "o")) for k in range(3))]
    [(3.0, 3), (3.0, 2), (3.0, 2)]
    """
    if shard is None:
        return RateLimiter(campaign.rate_per_second, campaign.rate_per_hour)
    per_second = campaign.rate_per_second / shard.count if campaign.rate_per_second else None
    per_hour = None
    if campaign.rate_per_hour:
        # The coordinator starts at most rate_per_hour workers, so every share is >= 1.
        per_hour = max(1, campaign.rate_per_hour // shard.count)
        if shard.index == 0:
            per_hour += campaign.rate_per_hour % shard.count
    return RateLimiter(per_second, per_hour)


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
