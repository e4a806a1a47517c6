"""One campaign sent by several processes (`strata campaign run --workers N`), with real
processes and a real SMTP server: workers claim disjoint ledger rows, so no member gets two
messages; a worker or its coordinator killed with SIGKILL loses nobody (the rows it had in
flight are resent under the same Message-ID); and the coordinator holds the campaign's lock,
so an independent sender still finds the campaign taken."""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from campaigns.campaign import Status, create_campaign, get_campaign, set_status
from campaigns.control import in_control
from campaigns.launch import launch
from campaigns.ledger import claim, counts, message_id
from campaigns.preflight import preflight
from campaigns.settings import SendSettings
from campaigns.templates import Template
from store import open_store
from tests.campaign_fixtures import frozen_people, sink_fixture  # noqa: F401
from tests.conftest import ROOT

BATCH = 20
TEMPLATE = Template("Hello {{ name }}", "Dear {{ name }}, we have news for {{ town }}.")


def _campaign(tmp_path, sink, members: int, rate: float | None = None):
    url = f"sqlite:///{tmp_path}/app.db"
    store = open_store(url)
    people = [(i, f"P{i}", f"p{i}@x.example", None, "Tuzla") for i in range(1, members + 1)]
    frozen = frozen_people(tmp_path, store, people)
    campaign = create_campaign(
        store, "Many", frozen, TEMPLATE, "marketer", control_share=0.1, rate_per_second=rate
    )
    launch(store, campaign.id, preflight(store, campaign), SendSettings(sender="ep@u.example"))
    env = {
        **os.environ,
        "STRATA_STORE_URL": url,
        "STRATA_SMTP_HOST": "127.0.0.1",
        "STRATA_SMTP_PORT": str(sink.port),
        "STRATA_SENDER": "ep@u.example",
        "STRATA_BATCH_SIZE": str(BATCH),
        "STRATA_CONNECTIONS": "2",
    }
    expected = {
        message_id(campaign.id, str(i), "email", "u.example")
        for i in range(1, members + 1)
        if not in_control(campaign.id, str(i), 0.1)
    }
    return store, campaign, env, expected


def _run(env, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "campaign", "run", "Many", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def _wait_for(condition, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_shards_claim_disjoint_rows_that_together_are_every_row(tmp_path, sink):
    store, campaign, _, expected = _campaign(tmp_path, sink, 40)
    now = dt.datetime.now(dt.UTC)
    shards = [claim(store, campaign.id, 100, now, (k, 3)) for k in range(3)]
    ids = [{row.id for row in rows} for rows in shards]
    assert all(row.id % 3 == k for k, rows in enumerate(shards) for row in rows)
    assert sum(len(i) for i in ids) == len(set().union(*ids)) == len(expected)


def test_workers_send_every_member_exactly_once(tmp_path, sink):
    store, campaign, env, expected = _campaign(tmp_path, sink, 400)
    sender = _run(env, "--workers", "3")
    out, err = sender.communicate(timeout=120)
    assert sender.returncode == 0, err
    received = collections.Counter(sink.message_ids())
    assert set(received) == expected and set(received.values()) == {1}
    assert get_campaign(store, campaign.id).status is Status.FINISHED
    assert f"sent {len(expected)}" in out


def test_a_worker_killed_mid_run_loses_nobody_and_resends_only_what_it_had_in_flight(
    tmp_path, sink
):
    store, campaign, env, expected = _campaign(tmp_path, sink, 600)
    coordinator = _run(env, "--workers", "2")
    _wait_for(lambda: len(_children(coordinator.pid)) == 2, "two workers")
    _wait_for(lambda: len(sink.messages) >= 50, "the first messages")
    os.kill(_children(coordinator.pid)[0], signal.SIGKILL)
    out, err = coordinator.communicate(timeout=120)
    # The coordinator sends the dead worker's rows itself and finishes the campaign.
    assert coordinator.returncode == 0, err
    assert "1 worker(s) died" in out
    assert get_campaign(store, campaign.id).status is Status.FINISHED
    received = collections.Counter(sink.message_ids())
    assert set(received) == expected
    assert sum(n - 1 for n in received.values()) <= BATCH  # the killed worker's batch at most


def test_killing_the_coordinator_stops_its_workers_and_a_rerun_loses_nobody(tmp_path, sink):
    store, campaign, env, expected = _campaign(tmp_path, sink, 600)
    coordinator = _run(env, "--workers", "2")
    _wait_for(lambda: len(_children(coordinator.pid)) == 2, "two workers")
    workers = _children(coordinator.pid)
    _wait_for(lambda: len(sink.messages) >= 50, "the first messages")
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait()
    # The kernel kills the workers with their coordinator: none keeps sending unlocked.
    _wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), "workers to die")
    rerun = _run(env, "--workers", "2")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    received = collections.Counter(sink.message_ids())
    assert set(received) == expected
    assert sum(n - 1 for n in received.values()) <= 2 * BATCH  # the two workers' batches
    n = counts(store, campaign.id)
    assert (n["sent"], n["pending"], n["sending"]) == (len(expected), 0, 0)


def test_an_independent_sender_finds_a_campaign_run_by_workers_taken(tmp_path, sink):
    _, _, env, expected = _campaign(tmp_path, sink, 200, rate=20.0)  # about 9 s of sending
    coordinator = _run(env, "--workers", "2")
    _wait_for(lambda: len(sink.messages) >= 1, "the first message")
    second = _run(env)
    out, _ = second.communicate(timeout=60)
    assert "another process" in out
    _, err = coordinator.communicate(timeout=120)
    assert coordinator.returncode == 0, err
    received = collections.Counter(sink.message_ids())
    assert set(received) == expected and set(received.values()) == {1}


def test_pausing_stops_every_worker_and_resuming_sends_the_rest_once(tmp_path, sink):
    store, campaign, env, expected = _campaign(tmp_path, sink, 200, rate=20.0)
    coordinator = _run(env, "--workers", "2")
    _wait_for(lambda: len(sink.messages) >= 10, "the first messages")
    set_status(store, campaign.id, Status.PAUSED)
    _, err = coordinator.communicate(timeout=120)
    assert coordinator.returncode == 0, err
    assert get_campaign(store, campaign.id).status is Status.PAUSED
    paused_at = len(sink.messages)
    assert paused_at < len(expected)
    time.sleep(0.5)
    assert len(sink.messages) == paused_at  # nobody sends while the campaign is paused
    set_status(store, campaign.id, Status.RUNNING)
    resumed = _run(env, "--workers", "2")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    received = collections.Counter(sink.message_ids())
    assert set(received) == expected and set(received.values()) == {1}
