"""Send one campaign from several processes: one Python process renders and writes about a
thousand messages a second, so a campaign that must go faster uses more cores.

The coordinator (this process) takes the campaign's lock as a single sender would, so a
second, independent sender still finds the campaign held and does nothing. It puts rows a
dead sender left in `sending` back to pending, then forks `workers` processes, each
sending one `campaigns.runner.Shard`. Worker K claims only ledger
rows whose id is K modulo N, so no two workers ever claim the same row; each checks every
batch that the coordinator still holds the lock and is alive, and stops if not (on Linux a
worker is also killed with its coordinator). Every other guarantee is the single sender's,
per worker: a row is committed `sending` before its message leaves, and only a confirmed
send marks it `sent`.

While workers run, the coordinator renews the lease. When they have all exited, any row
still `sending` was in flight in a worker that died; the coordinator recovers those and
finishes the campaign itself with an ordinary single-process pass, which also waits for
4xx retries (workers leave those to it).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from campaigns.campaign import Status, get_campaign
from campaigns.ledger import Result, counts, recover
from campaigns.lock import acquire, owner_name, release
from campaigns.settings import SendSettings
from store.connect import Store, open_store

if TYPE_CHECKING:
    from campaigns.runner import Shard

_log = logging.getLogger(__name__)
_FORK = multiprocessing.get_context("fork")


def run_workers(
    store: Store,
    name_or_id: str | int,
    settings: SendSettings,
    workers: int,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    max_wait_s: float = 5.0,
):
    """Send campaign `name_or_id` from `workers` processes; returns the `RunReport` of the
    whole run (outcomes summed over the workers and the final pass). Example:
    `tests/test_campaign_workers.py`."""
    from campaigns.runner import RunReport, Shard, run_campaign

    campaign = get_campaign(store, name_or_id)
    if campaign.status is not Status.RUNNING:
        return RunReport(campaign.name, campaign.status, ledger=counts(store, campaign.id))
    owner = owner_name()
    if not acquire(store, campaign.id, owner, settings.lease_s, now()):
        return RunReport(campaign.name, campaign.status, locked_out=True)
    if campaign.rate_per_hour:
        workers = min(workers, campaign.rate_per_hour)  # every worker's share is >= 1/hour
    tally = {r.value: 0 for r in Result}
    lost = 0
    try:
        recovered = recover(store, campaign.id)
        shards = [Shard(k, workers, owner) for k in range(workers)]
        # No pooled connection may cross a fork (SQLite forbids it): reconnect afterwards.
        store.engine.dispose()
        started = [_start(store, campaign.id, shard, settings) for shard in shards]
        try:
            lost = _supervise(store, campaign.id, owner, settings, started, now, tally)
        finally:
            for w in started:
                if w.process.is_alive():
                    w.process.kill()
                w.process.join()
        # Every worker has exited: a row still `sending` was in flight in one that died.
        recovered += recover(store, campaign.id)
    except BaseException:
        release(store, campaign.id, owner)
        raise
    # The final pass runs (and releases the lock) under the owner that holds it now.
    final = run_campaign(store, campaign.id, settings, owner=owner, now=now, max_wait_s=max_wait_s)
    for k, v in final.outcomes.items():
        tally[k] = tally.get(k, 0) + v
    return RunReport(
        final.campaign, final.status, final.locked_out, recovered, tally, final.ledger, lost
    )


def _start(store: Store, campaign_id: int, shard: Shard, settings: SendSettings) -> _Worker:
    # Forked, not started afresh: the worker inherits the imported code (a new interpreter
    # spends over a second of CPU importing it) but opens its own store connections.
    receive, send = _FORK.Pipe(duplex=False)
    url = store.engine.url.render_as_string(hide_password=False)
    process = _FORK.Process(
        target=_work, args=(url, campaign_id, shard, settings, send, os.getpid()), daemon=True
    )
    process.start()
    send.close()
    return _Worker(process, receive)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    outcomes: multiprocessing.connection.Connection


def _work(url, campaign_id, shard, settings, outcomes, coordinator_pid) -> None:
    _die_with_parent()
    if os.getppid() != coordinator_pid:
        os._exit(1)  # the coordinator died before the line above took effect
    from campaigns.runner import run_campaign

    with open_store(url) as store:
        report = run_campaign(store, campaign_id, settings, shard=shard)
    outcomes.send(report.outcomes)
    outcomes.close()


def _supervise(store, campaign_id, owner, settings, workers, now, tally) -> int:
    """Renew the lease until every worker exits; returns how many did not exit cleanly."""
    renew_every = max(0.2, settings.lease_s / 4)
    renewed = time.monotonic()
    while any(w.process.is_alive() for w in workers):
        if time.monotonic() - renewed >= renew_every:
            if not acquire(store, campaign_id, owner, settings.lease_s, now()):
                break  # the lease was taken over: the workers see it and stop
            renewed = time.monotonic()
        time.sleep(0.05)
    lost = 0
    for w in workers:
        w.process.join()
        outcomes = None
        if w.process.exitcode == 0 and w.outcomes.poll():
            with contextlib.suppress(EOFError, OSError):
                outcomes = w.outcomes.recv()
        if outcomes is None:
            lost += 1
            _log.warning("a worker exited with %s", w.process.exitcode)
            continue
        for k, v in outcomes.items():
            tally[k] = tally.get(k, 0) + v
    return lost


def _die_with_parent() -> None:
    # Linux: the kernel kills the worker when its coordinator dies, so no worker outlives
    # the lock it sends under. Elsewhere the worker's per-batch check stops it instead.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
