"""Send one campaign from several processes: one Python process renders and writes about a
thousand messages a second, so a campaign that must go faster uses more cores.

The coordinator (this process) takes the campaign's lock as a single sender would, so a
second, independent sender still finds the campaign held and does nothing. It puts rows a
dead sender left in `sending` back to pending, then starts `workers` processes
(`strata campaign run NAME --shard K/N --coordinator OWNER`). Worker K claims only ledger
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

import ctypes
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from campaigns.campaign import Status, get_campaign
from campaigns.ledger import Result, counts, recover
from campaigns.lock import acquire, owner_name, release
from campaigns.settings import SendSettings
from store.connect import Store

_log = logging.getLogger(__name__)
# A worker prints this, then its outcomes as JSON, as its last line of output.
OUTCOMES = "worker outcomes: "


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
    from campaigns.runner import RunReport, run_campaign

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
        procs = [_start(store, campaign.name, k, workers, owner) for k in range(workers)]
        try:
            lost = _supervise(store, campaign.id, owner, settings, procs, now, tally)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
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


def _start(store: Store, name: str, index: int, count: int, owner: str) -> subprocess.Popen:
    env = {**os.environ, "STRATA_STORE_URL": store.engine.url.render_as_string(False)}
    command = ["campaign", "run", name, "--shard", f"{index}/{count}", "--coordinator", owner]
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,
    )


def _supervise(store, campaign_id, owner, settings, procs, now, tally) -> int:
    """Renew the lease until every worker exits; returns how many did not exit cleanly."""
    renew_every = max(0.2, settings.lease_s / 4)
    renewed = time.monotonic()
    while any(p.poll() is None for p in procs):
        if time.monotonic() - renewed >= renew_every:
            if not acquire(store, campaign_id, owner, settings.lease_s, now()):
                break  # the lease was taken over: the workers see it and stop
            renewed = time.monotonic()
        time.sleep(0.05)
    lost = 0
    for p in procs:
        out, err = p.communicate()
        found = [line for line in out.splitlines() if line.startswith(OUTCOMES)]
        if p.returncode != 0 or not found:
            lost += 1
            _log.warning("worker %s exited with %s: %s", p.args[-3], p.returncode, err[-2000:])
            continue
        for k, v in json.loads(found[-1][len(OUTCOMES) :]).items():
            tally[k] = tally.get(k, 0) + v
    return lost


def _die_with_parent() -> None:
    # Linux: the kernel kills the worker when its coordinator dies, so no worker outlives
    # the lock it sends under. Elsewhere the worker's per-batch check stops it instead.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
