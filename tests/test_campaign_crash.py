"""Crash safety, with real processes: the sender (`strata campaign run`) is killed with
SIGKILL at random points of a 2,000-member campaign and restarted, several times. Every
non-control member must then have received its message (counted by Message-ID at the SMTP
sink), none skipped, and no member more than once except for the rows a killed sender had
in flight, which are resent under the same Message-ID (so a receiver can recognise them)."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time

from campaigns.campaign import Status, create_campaign, get_campaign
from campaigns.control import in_control
from campaigns.launch import launch
from campaigns.ledger import counts, message_id
from campaigns.preflight import preflight
from campaigns.settings import SendSettings
from campaigns.templates import Template
from store import open_store
from tests.campaign_fixtures import frozen_people, sink_fixture  # noqa: F401
from tests.conftest import ROOT

MEMBERS = 2_000
BATCH = 25
TEMPLATE = Template("Hello {{ name }}", "Dear {{ name }}, we have news for {{ town }}.")


def _campaign(tmp_path, sink, name):
    url = f"sqlite:///{tmp_path}/app.db"
    store = open_store(url)
    people = [(i, f"P{i}", f"p{i}@x.example", None, "Tuzla") for i in range(1, MEMBERS + 1)]
    frozen = frozen_people(tmp_path, store, people)
    campaign = create_campaign(store, name, frozen, TEMPLATE, "marketer", control_share=0.1)
    launch(store, campaign.id, preflight(store, campaign), SendSettings(sender="ep@u.example"))
    env = {
        **os.environ,
        "STRATA_STORE_URL": url,
        "STRATA_SMTP_HOST": "127.0.0.1",
        "STRATA_SMTP_PORT": str(sink.port),
        "STRATA_SENDER": "ep@u.example",
        "STRATA_BATCH_SIZE": str(BATCH),
        "STRATA_CONNECTIONS": "4",
    }
    expected = {
        message_id(campaign.id, str(i), "email", "u.example")
        for i in range(1, MEMBERS + 1)
        if not in_control(campaign.id, str(i), 0.1)
    }
    return store, campaign, env, expected


def _sender(env, name) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "campaign", "run", name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killing_the_sender_at_random_points_skips_no_member_and_resends_only_in_flight(
    tmp_path, sink
):
    store, campaign, env, expected = _campaign(tmp_path, sink, "Crash")
    rng = random.Random(2026)
    kills = 0
    for _ in range(5):
        sender = _sender(env, "Crash")
        # Kill after a random number of further deliveries, or at a random moment before the
        # first one (start-up, lock, recovery): both are points a real crash can hit.
        target = len(sink.messages) + rng.choice([0, rng.randint(1, 400)])
        deadline = time.monotonic() + 60
        if target == len(sink.messages):
            time.sleep(rng.uniform(0.05, 1.0))
        while len(sink.messages) < target and sender.poll() is None:
            assert time.monotonic() < deadline, "the sender made no progress"
            time.sleep(0.005)
        if sender.poll() is None:
            sender.send_signal(signal.SIGKILL)
            kills += 1
        sender.wait()
    assert get_campaign(store, campaign.id).status is Status.RUNNING
    final = _sender(env, "Crash")
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert get_campaign(store, campaign.id).status is Status.FINISHED

    received = collections.Counter(sink.message_ids())
    assert set(received) == expected  # every non-control member, and nobody else
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= kills * BATCH  # at most the batch each killed sender had claimed
    n = counts(store, campaign.id)
    assert (n["sent"], n["control"], n["pending"], n["sending"]) == (
        len(expected),
        MEMBERS - len(expected),
        0,
        0,
    )
    print(f"{kills} kills, {duplicates} resent in-flight message(s) of {len(expected)}")


def test_two_senders_started_together_send_each_message_once(tmp_path, sink):
    _, _, env, expected = _campaign(tmp_path, sink, "Twice")
    first, second = _sender(env, "Twice"), _sender(env, "Twice")
    outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert first.returncode == second.returncode == 0
    received = collections.Counter(sink.message_ids())
    assert set(received) == expected and set(received.values()) == {1}
    assert any("another process" in out for out in outputs), outputs
