"""The other moving parts over real HTTP: RFC 8058 one-click unsubscribe served by uvicorn,
an SMS gateway (a real HTTP server in the test) on the same ledger, and the scheduler's
decisions on an injected clock."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from campaigns.campaign import Status, create_campaign, get_campaign
from campaigns.launch import launch
from campaigns.ledger import ledger_rows
from campaigns.preflight import preflight
from campaigns.runner import run_campaign
from campaigns.schedule import schedule_campaign, tick
from campaigns.settings import SendSettings
from campaigns.suppression import suppressed
from campaigns.templates import Template
from tests.campaign_fixtures import (  # noqa: F401  (fixtures)
    app_store_fixture,
    free_port,
    frozen_people,
    serving,
    sink_fixture,
)

SECRET = "test-secret"


@pytest.fixture
def unsubscribe_url(app_store):
    with serving(app_store, SECRET) as base:
        yield f"{base}/u"


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_one_click_unsubscribe_suppresses_the_address_for_later_campaigns(
    tmp_path, app_store, sink, unsubscribe_url
):
    people = [(i, f"P{i}", f"p{i}@x.example", None, "T") for i in (1, 2)]
    frozen = frozen_people(tmp_path, app_store, people)
    settings = SendSettings(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        sender="ep@u.example",
        unsubscribe_url=unsubscribe_url,
        unsubscribe_secret=SECRET,
    )
    first = create_campaign(app_store, "First", frozen, Template("Hi", "x"), "marketer")
    launch(app_store, first.id, preflight(app_store, first), settings)
    run_campaign(app_store, first.id, settings)
    mail = next(m for m in sink.parsed() if m["To"] == "p1@x.example")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip("<>")

    with urllib.request.urlopen(link, timeout=5) as page:  # a GET, as a link scanner does
        assert page.status == 200 and b"<form method='post'>" in page.read()
    assert suppressed(app_store, "email") == {}

    assert _post(link, b"List-Unsubscribe=One-Click") == (200, "p1@x.example is unsubscribed")
    assert suppressed(app_store, "email") == {"p1@x.example": "unsubscribed"}
    later = create_campaign(app_store, "Later", frozen, Template("Hi", "x"), "marketer")
    assert dict(preflight(app_store, later).exclusions)["suppressed"] == 1


def test_a_forged_unsubscribe_token_is_refused(unsubscribe_url, app_store):
    status, text = _post(f"{unsubscribe_url}/eyJ4IjoxfQ.forged", b"List-Unsubscribe=One-Click")
    assert (status, text) == (400, "this unsubscribe link is not valid")
    assert suppressed(app_store, "email") == {}


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list] = []  # (authorization, json body); replaced per test
    fail_first: ClassVar[set] = set()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.headers.get("Authorization"), body))
        if body["to"].endswith("0000000"):
            self._reply(400, {"error": "invalid number"})
        elif body["to"] in self.fail_first:
            self.fail_first.discard(body["to"])
            self._reply(503, {"error": "busy"})
        else:
            self._reply(202, {"id": body["reference"]})

    def _reply(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.received, _Gateway.fail_first = [], {"+38761000002"}
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send", _Gateway
    server.shutdown()


def test_sms_goes_through_the_gateway_on_the_same_ledger(tmp_path, app_store, gateway):
    url, handler = gateway
    people = [
        (1, "Ana", None, "+387 61 000 001", "Tuzla"),
        (2, "Edin", None, "+38761000002", "Mostar"),  # 503 once, then accepted
        (3, "Mia", None, "+38760000000", "Zenica"),  # 400: a bad number, a hard bounce
        (4, "Ivo", None, "123", "Bihać"),  # not a phone number: excluded before sending
    ]
    frozen = frozen_people(tmp_path, app_store, people)
    template = Template("", "Poštovani {{ name }}, e-račun za {{ town }}.")
    c = create_campaign(app_store, "Sms", frozen, template, "marketer", channel="sms")
    settings = SendSettings(sms_url=url, sms_auth="Bearer k", sms_sender="EP", retry_base_s=0.01)
    report = preflight(app_store, c)
    assert report.sms_segments == ("UCS-2", 1)
    assert dict(report.exclusions)["invalid address"] == 1
    launch(app_store, c.id, report, settings)
    assert run_campaign(app_store, c.id, settings).status is Status.FINISHED

    states = {r["member_key"]: r["state"] for r in ledger_rows(app_store, c.id)}
    assert states == {"1": "sent", "2": "sent", "3": "bounced", "4": "suppressed"}
    accepted = [b for auth, b in handler.received if b["to"] != "+38760000000"]
    assert {auth for auth, _ in handler.received} == {"Bearer k"}
    assert sorted(b["text"] for b in accepted) == [
        "Poštovani Ana, e-račun za Tuzla.",
        "Poštovani Edin, e-račun za Mostar.",
        "Poštovani Edin, e-račun za Mostar.",  # the 503, then the retry
    ]
    assert suppressed(app_store, "sms") == {"+38760000000": "bounced"}


def _scheduled(tmp_path, app_store, name, when):
    frozen = frozen_people(tmp_path / name, app_store, [(1, "A", "a@x.example", None, "T")])
    c = create_campaign(app_store, name, frozen, Template("Hi", "x"), "marketer")
    return schedule_campaign(app_store, c.id, when, preflight(app_store, c))


def test_the_scheduler_starts_a_campaign_when_it_is_due_and_not_before(tmp_path, app_store):
    at = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    (tmp_path / "Spring").mkdir()
    c = _scheduled(tmp_path, app_store, "Spring", at)
    hour = dt.timedelta(hours=1)
    early = tick(app_store, at - dt.timedelta(minutes=1), hour, SendSettings())
    assert early.started == () and get_campaign(app_store, c.id).status is Status.SCHEDULED
    due = tick(app_store, at + dt.timedelta(minutes=5), hour, SendSettings())
    assert (due.started, due.running) == (("Spring",), ("Spring",))
    assert get_campaign(app_store, c.id).status is Status.RUNNING
    again = tick(app_store, at + dt.timedelta(minutes=6), hour, SendSettings())
    assert again.started == ()  # a restarted scheduler does not start it twice


def test_the_scheduler_refuses_a_long_overdue_campaign(tmp_path, app_store):
    at = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    (tmp_path / "Old").mkdir()
    c = _scheduled(tmp_path, app_store, "Old", at)
    late = tick(app_store, at + dt.timedelta(days=1), dt.timedelta(hours=1), SendSettings())
    assert (late.started, late.overdue) == ((), ("Old",))
    assert get_campaign(app_store, c.id).status is Status.SCHEDULED
    assert ledger_rows(app_store, c.id) == []
