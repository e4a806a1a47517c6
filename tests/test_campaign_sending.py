"""Sending through a real SMTP server (aiosmtpd on 127.0.0.1): the ledger is written before
anything leaves, each member gets one message whose Message-ID comes from its ledger key,
4xx and dropped connections are retried, 5xx bounces and suppresses, control members get
nothing, and a second worker on the same campaign does nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.campaign import CampaignError, Status, create_campaign, set_status
from campaigns.control import in_control
from campaigns.launch import launch
from campaigns.ledger import counts, ledger_rows, message_id
from campaigns.lock import acquire
from campaigns.preflight import preflight
from campaigns.runner import run_campaign
from campaigns.settings import SendSettings
from campaigns.suppression import suppress, suppressed
from campaigns.templates import Template
from tests.campaign_fixtures import app_store_fixture, frozen_people, sink_fixture  # noqa: F401

TEMPLATE = Template("Hello {{ name }}", "Dear {{ name }}, your town is {{ town }}.")


def _settings(sink, **kw) -> SendSettings:
    base = dict(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        sender="ep@utility.example",
        retry_base_s=0.01,
        connections=2,
        batch_size=7,
    )
    return SendSettings(**{**base, **kw})


def _people(n: int, town: str = "Tuzla", local=lambda i: f"p{i}") -> list[tuple]:
    return [(i, f"Person {i}", f"{local(i)}@x.example", None, town) for i in range(1, n + 1)]


def _launched(tmp_path, store, rows, sink, share=0.0, name="Spring", **settings):
    frozen = frozen_people(tmp_path, store, rows)
    campaign = create_campaign(store, name, frozen, TEMPLATE, "marketer", control_share=share)
    s = _settings(sink, **settings)
    launch(store, campaign.id, preflight(store, campaign), s)
    return campaign, s


def test_every_member_gets_one_message_whose_message_id_is_its_ledger_key(
    tmp_path, app_store, sink
):
    campaign, settings = _launched(tmp_path, app_store, _people(20), sink)
    report = run_campaign(app_store, campaign.id, settings)
    assert report.status is Status.FINISHED and report.outcomes["sent"] == 20
    expected = {message_id(campaign.id, str(i), "email", "utility.example") for i in range(1, 21)}
    ids = sink.message_ids()
    assert len(ids) == 20 and set(ids) == expected
    assert {r["state"] for r in ledger_rows(app_store, campaign.id)} == {"sent"}
    first = next(m for m in sink.parsed() if m["To"] == "p1@x.example")
    assert first["Subject"] == "Hello Person 1"
    assert first.get_body(("plain",)).get_content().strip() == "Dear Person 1, your town is Tuzla."


def test_the_ledger_is_written_at_launch_before_anything_is_sent(tmp_path, app_store, sink):
    campaign, _ = _launched(tmp_path, app_store, _people(5), sink)
    assert counts(app_store, campaign.id)["pending"] == 5 and sink.messages == []


def test_a_4xx_is_retried_with_backoff_until_the_server_accepts(tmp_path, app_store, sink):
    rows = _people(3, local=lambda i: "tempfail" if i == 2 else f"p{i}")
    campaign, settings = _launched(tmp_path, app_store, rows, sink)
    report = run_campaign(app_store, campaign.id, settings)
    assert report.outcomes == {"sent": 3, "retry": 2, "bounced": 0, "failed": 0}
    assert sink.attempts["tempfail@x.example"] == 3  # 451, 451, then 250
    row = next(r for r in ledger_rows(app_store, campaign.id) if r["member_key"] == "2")
    assert (row["state"], row["attempts"]) == ("sent", 3)


def test_a_4xx_that_never_clears_fails_after_the_last_attempt(tmp_path, app_store, sink):
    sink.tempfail_times = 99
    rows = _people(1, local=lambda i: "tempfail")
    campaign, settings = _launched(tmp_path, app_store, rows, sink, max_attempts=3)
    run_campaign(app_store, campaign.id, settings)
    (row,) = ledger_rows(app_store, campaign.id)
    assert (row["state"], row["attempts"], sink.attempts["tempfail@x.example"]) == ("failed", 3, 3)
    assert "gave up after 3 attempts" in row["reason"]


def test_a_5xx_is_a_hard_bounce_never_retried_and_suppressed_for_later_campaigns(
    tmp_path, app_store, sink
):
    rows = _people(2, local=lambda i: "nouser" if i == 1 else f"p{i}")
    campaign, settings = _launched(tmp_path, app_store, rows, sink)
    run_campaign(app_store, campaign.id, settings)
    row = next(r for r in ledger_rows(app_store, campaign.id) if r["member_key"] == "1")
    assert (row["state"], row["reason"]) == ("bounced", "550 5.1.1 no such user")
    assert sink.attempts["nouser@x.example"] == 1
    assert suppressed(app_store, "email") == {"nouser@x.example": "bounced"}
    later = create_campaign(
        app_store, "Later", frozen_list_of(app_store, campaign), TEMPLATE, "marketer"
    )
    assert dict(preflight(app_store, later).exclusions)["earlier hard bounce"] == 1


def frozen_list_of(store, campaign):
    from campaigns.lists import get_list

    return get_list(store, list_id=campaign.list_id)


def test_a_dropped_connection_is_retried_on_a_new_one(tmp_path, app_store, sink):
    rows = _people(3, local=lambda i: "drop" if i == 2 else f"p{i}")
    campaign, settings = _launched(tmp_path, app_store, rows, sink)
    report = run_campaign(app_store, campaign.id, settings)
    assert report.status is Status.FINISHED and report.outcomes["retry"] == 1
    assert sink.attempts["DATA drop@x.example"] == 2  # dropped once, accepted on the retry
    assert sorted(to[0] for _, to, _ in sink.messages) == [
        "drop@x.example",
        "p1@x.example",
        "p3@x.example",
    ]


def test_control_members_get_a_control_row_and_no_message(tmp_path, app_store, sink):
    campaign, settings = _launched(tmp_path, app_store, _people(200), sink, share=0.25)
    run_campaign(app_store, campaign.id, settings)
    control = {str(i) for i in range(1, 201) if in_control(campaign.id, str(i), 0.25)}
    rows = ledger_rows(app_store, campaign.id)
    assert {r["member_key"] for r in rows if r["state"] == "control"} == control
    assert 30 <= len(control) <= 70  # 25 % of 200, give or take chance
    received = {to[0] for _, to, _ in sink.messages}
    assert len(received) == 200 - len(control)
    assert not received & {f"p{k}@x.example" for k in control}


def test_a_second_worker_on_a_locked_campaign_does_nothing(tmp_path, app_store, sink):
    campaign, settings = _launched(tmp_path, app_store, _people(5), sink)
    now = dt.datetime.now(dt.UTC)
    assert acquire(app_store, campaign.id, "other-host pid 1", 60, now)
    report = run_campaign(app_store, campaign.id, settings)
    assert report.locked_out and sink.messages == []
    assert counts(app_store, campaign.id)["pending"] == 5


def test_a_paused_campaign_sends_nothing_until_resumed(tmp_path, app_store, sink):
    campaign, settings = _launched(tmp_path, app_store, _people(4), sink)
    set_status(app_store, campaign.id, Status.PAUSED)
    assert run_campaign(app_store, campaign.id, settings).status is Status.PAUSED
    assert sink.messages == []
    set_status(app_store, campaign.id, Status.RUNNING)
    assert run_campaign(app_store, campaign.id, settings).status is Status.FINISHED
    assert len(sink.messages) == 4


def test_a_cancelled_campaign_cannot_be_resumed(tmp_path, app_store, sink):
    campaign, _ = _launched(tmp_path, app_store, _people(1), sink)
    set_status(app_store, campaign.id, Status.CANCELLED)
    with pytest.raises(CampaignError, match="cancelled and cannot become running"):
        set_status(app_store, campaign.id, Status.RUNNING)


def test_preflight_counts_exclusions_by_reason(tmp_path, app_store, sink):
    rows = [
        (1, "Ok", "ok@x.example", None, "T"),
        (2, "No address", None, None, "T"),
        (3, "Invalid", "not-an-address@", None, "T"),
        (4, "Unsubscribed", "gone@x.example", None, "T"),
        (5, "Bounced", "bad@x.example", None, "T"),
        (6, "Duplicate", "OK@x.example", None, "T"),
    ]
    suppress(app_store, "email", "gone@x.example", "unsubscribed")
    suppress(app_store, "email", "bad@x.example", "bounced")
    frozen = frozen_people(tmp_path, app_store, rows)
    campaign = create_campaign(app_store, "P", frozen, TEMPLATE, "marketer", rate_per_second=0.5)
    report = preflight(app_store, campaign)
    assert (report.members, report.to_send, report.duration_s) == (6, 1, 2.0)
    assert dict(report.exclusions) == {
        "duplicate customer (merged)": 0,
        "no address": 1,
        "invalid address": 1,
        "opted out": 0,
        "suppressed": 1,
        "earlier hard bounce": 1,
        "duplicate address": 1,
        "control group": 0,
    }
    (sample,) = report.samples
    assert (sample.member_key, sample.rendered.subject) == ("1", "Hello Ok")


def test_preflight_reports_template_errors_and_launch_refuses_them(tmp_path, app_store, sink):
    frozen = frozen_people(tmp_path, app_store, _people(3))
    broken = Template("Hi {{ nam }}", "x")
    campaign = create_campaign(app_store, "Broken", frozen, broken, "marketer")
    report = preflight(app_store, campaign)
    assert report.error_count == 3 and "'nam' is undefined" in str(report.errors[0])
    with pytest.raises(CampaignError, match="3 template error"):
        launch(app_store, campaign.id, report, _settings(sink))


def test_launch_needs_the_preflight_of_this_campaign(tmp_path, app_store, sink):
    frozen = frozen_people(tmp_path, app_store, _people(3))
    a = create_campaign(app_store, "A", frozen, TEMPLATE, "marketer")
    b = create_campaign(app_store, "B", frozen, TEMPLATE, "marketer")
    with pytest.raises(CampaignError, match="report is for campaign 'A', not 'B'"):
        launch(app_store, b.id, preflight(app_store, a), _settings(sink))


def test_launching_again_adds_no_ledger_row(tmp_path, app_store, sink):
    campaign, settings = _launched(tmp_path, app_store, _people(3), sink)
    with pytest.raises(CampaignError, match="running and cannot become running"):
        launch(app_store, campaign.id, preflight(app_store, campaign), settings)
    assert sum(counts(app_store, campaign.id).values()) == 3


def test_the_rate_limit_spaces_messages_on_an_injected_clock(tmp_path, app_store, sink):
    frozen = frozen_people(tmp_path, app_store, _people(12))
    campaign = create_campaign(
        app_store, "Slow", frozen, TEMPLATE, "marketer", rate_per_second=5, rate_per_hour=10
    )
    settings = _settings(sink, batch_size=100)
    launch(app_store, campaign.id, preflight(app_store, campaign), settings)
    clock = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:  # moves the clock instead of waiting
        waits.append(seconds)
        clock[0] += seconds

    run_campaign(
        app_store, campaign.id, settings, clock=lambda: clock[0], sleep=fake_sleep, max_wait_s=600
    )
    assert len(sink.messages) == 12
    # 5 at once, then one per 0.2 s: the 6th to 10th wait 0.2 to 1.0 s within their batch.
    assert [round(w, 3) for w in waits[:5]] == [0.2, 0.4, 0.6, 0.8, 1.0]
    # The 11th waits for the hour to roll over, in steps no longer than max_wait_s, so a
    # pause is seen meanwhile; no row sat in `sending` through that hour.
    assert sum(waits) >= 3600 and max(waits) <= 600


def test_two_senders_in_one_process_are_two_lock_owners(tmp_path, app_store, sink):
    from campaigns.lock import owner_name

    campaign, _ = _launched(tmp_path, app_store, _people(1), sink)
    now = dt.datetime.now(dt.UTC)
    first, second = owner_name(), owner_name()
    assert acquire(app_store, campaign.id, first, 60, now)
    assert not acquire(app_store, campaign.id, second, 60, now)  # alive, same pid: still held
    assert acquire(app_store, campaign.id, first, 60, now)  # the holder renews
