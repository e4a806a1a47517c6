"""Schedules: an approved campaign waits in `scheduled` until its time; the scheduler starts
it then, refuses one that is long overdue (a restored backup or a scheduler down for a day
must not send yesterday's campaign unasked: listmonk #1801), and keeps running campaigns
sending. All state is in the store, so a restarted scheduler carries on where it was."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from campaigns.campaign import Campaign, Status, get_campaign, set_status
from campaigns.launch import check_approval, launch
from campaigns.preflight import Preflight, preflight
from campaigns.settings import SendSettings
from store.connect import Store
from store.schema import campaign as campaign_table


def schedule_campaign(
    store: Store, name_or_id: str | int, when: dt.datetime, approved: Preflight
) -> Campaign:
    """Approve `approved` and schedule the campaign for `when` (aware datetime)."""
    check_approval(store, get_campaign(store, name_or_id), approved)
    return set_status(store, name_or_id, Status.SCHEDULED, scheduled_at=when)


@dataclass(frozen=True)
class Tick:
    """What one pass of the scheduler did."""

    started: tuple[str, ...] = ()
    overdue: tuple[str, ...] = ()  # due too long ago: left scheduled for a human to decide
    running: tuple[str, ...] = ()  # campaigns that need a sender


def tick(
    store: Store,
    now: dt.datetime,
    max_late: dt.timedelta,
    settings: SendSettings | None = None,
) -> Tick:
    """Start the scheduled campaigns that are due and not overdue; list those to send.

    Example: `tests/test_campaign_schedule.py`.
    """
    c = campaign_table.c
    due = store.read(
        lambda conn: conn.execute(
            select(c.id, c.name, c.scheduled_at)
            .where(c.status == Status.SCHEDULED.value, c.scheduled_at <= now)
            .order_by(c.scheduled_at)
        ).all()
    )
    started, overdue = [], []
    for row in due:
        if now - row.scheduled_at > max_late:
            overdue.append(row.name)
            continue
        campaign = get_campaign(store, row.id)
        launch(store, campaign.id, preflight(store, campaign), settings)
        started.append(row.name)
    running = store.read(
        lambda conn: (
            conn.execute(select(c.name).where(c.status == Status.RUNNING.value).order_by(c.id))
            .scalars()
            .all()
        )
    )
    return Tick(tuple(started), tuple(overdue), tuple(running))


def run_scheduler(
    store: Store,
    *,
    once: bool = False,
    interval_s: float = 30.0,
    max_late: dt.timedelta = dt.timedelta(hours=1),
    echo: Callable[[str], None] = print,
) -> None:
    """Loop: a tick, then a sender process (`strata campaign run`) for each running campaign
    that has none of ours; the campaign lock keeps senders from overlapping anyway."""
    children: dict[str, subprocess.Popen] = {}
    warned: set[str] = set()
    while True:
        result = tick(store, dt.datetime.now(dt.UTC), max_late)
        for name in result.started:
            echo(f"started {name!r}")
        for name in set(result.overdue) - warned:
            echo(
                f"not starting {name!r}: it was due more than {max_late} ago; "
                f"start it by hand with `strata campaign launch {name!r}`, or cancel it"
            )
            warned.add(name)
        for name in result.running:
            child = children.get(name)
            if child is None or child.poll() is not None:
                children[name] = subprocess.Popen(
                    [sys.executable, "-m", "cli", "campaign", "run", name]
                )
        if once:
            for child in children.values():
                child.wait()
            return
        time.sleep(interval_s)
