"""Real components for campaign tests: an aiosmtpd SMTP sink on 127.0.0.1 with fault
injection, a small customer model on a DuckDB file, and an app store file per test."""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from campaigns.lists import freeze_list
from engine import Engine
from store import open_store

MODEL = """
databases:
  - name: crm
    dialect: duckdb
    connection: {path: "%s"}
    tables:
      - name: person
        primary_key: id
        columns: {id: integer, name: varchar, email: varchar, phone: varchar, town: varchar}
logical_tables:
  - name: Person
    kind: dimension
    columns:
      - {name: Id, expr: person.id}
      - {name: Name, expr: person.name}
      - {name: Email, expr: person.email}
      - {name: Mobile Phone, expr: person.phone}
      - {name: Town, expr: person.town}
subject_areas:
  - name: People
    folders:
      - name: Person
        columns: [Person.Id, Person.Name, Person.Email, Person.Mobile Phone, Person.Town]
"""
ALL = (
    'SELECT "Person"."Id", "Person"."Name", "Person"."Email", "Person"."Mobile Phone", '
    '"Person"."Town" FROM "People"'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(store, secret: str):
    """The unsubscribe/tracking app under uvicorn on a free loopback port; yields its base."""
    import uvicorn

    from campaigns.unsubscribe import unsubscribe_app

    port = free_port()
    config = uvicorn.Config(
        unsubscribe_app(store, secret), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@dataclass
class Sink:
    """What the SMTP sink received, and the faults it injects by recipient prefix:
    `tempfail*` gets 451 for its first `tempfail_times` attempts, `nouser*` gets 550, and
    `drop*` has its connection dropped during its first DATA."""

    tempfail_times: int = 2
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    attempts: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.attempts[address] += 1
            seen = self.attempts[address]
        if address.startswith("tempfail") and seen <= self.tempfail_times:
            return "451 4.3.0 try again later"
        if address.startswith("nouser"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(a.startswith("drop") for a in envelope.rcpt_tos):
            with self.lock:
                first = self.attempts["DATA " + envelope.rcpt_tos[0]] == 0
                self.attempts["DATA " + envelope.rcpt_tos[0]] += 1
            if first:
                server.transport.close()
                return "421 4.4.2 connection dropped"
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def parsed(self):
        with self.lock:
            raw = [m[2] for m in self.messages]
        return [BytesParser(policy=policy.default).parsebytes(r) for r in raw]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.parsed()]


@pytest.fixture(name="sink")
def sink_fixture():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


def people_db(path: Path, rows: list[tuple]) -> Path:
    """A DuckDB file with `person` rows (id, name, email, phone, town)."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE person (id INTEGER, name VARCHAR, email VARCHAR, phone VARCHAR, "
            "town VARCHAR)"
        )
        if rows:
            con.executemany("INSERT INTO person VALUES (?, ?, ?, ?, ?)", rows)
    return path


def people_model(folder: Path, db: Path) -> Path:
    model = folder / "model"
    model.mkdir()
    (model / "people.yaml").write_text(MODEL % db)
    return model


@pytest.fixture(name="app_store")
def app_store_fixture(tmp_path):
    url = f"sqlite:///{tmp_path}/app.db"
    with open_store(url) as store:
        yield store


def frozen_people(tmp_path: Path, store, rows: list[tuple], name: str = "People"):
    """Freeze `rows` as a campaign list through a real engine on a real DuckDB file."""
    db = people_db(tmp_path / "people.duckdb", rows)
    engine = Engine.open(people_model(tmp_path, db), store_url=f"sqlite:///{tmp_path}/log.db")
    try:
        return freeze_list(engine, store, name, ALL)
    finally:
        engine.close()
