"""Fixtures for the app store: a throwaway PostgreSQL cluster, and a fresh store per test on
each backend.

The cluster follows shared/notes/engines.md section 2: initdb and pg_ctl in a temp dir, on a free
loopback port, with the socket in that dir; as root they run as the `postgres` user, because
initdb refuses root. No system service is touched.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from store import Store, open_store

_databases = itertools.count(1)


def _pg_bin() -> Path | None:
    # Debian links initdb into PATH from /usr/lib/postgresql/<major>/bin, where pg_ctl also is.
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for this test session; yields its URL without a database name."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip(
            "PostgreSQL: initdb not on PATH nor in /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql)"
        )
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="strata-pg-"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("PostgreSQL: running as root and there is no 'postgres' user for initdb")
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    initdb = [*as_user, pg_bin / "initdb", "-D", data, "-U", "postgres", "-A", "trust"]
    subprocess.run([*initdb, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], **run)
    # Durability settings off: the cluster lives for one test run.
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = [*as_user, pg_bin / "pg_ctl", "-D", data, "-l", folder / "log", "-w"]
    subprocess.run([*pg_ctl, "-o", options, "start"], **run)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def new_pg_database(server_url: str) -> str:
    """Create an empty database on the test server; return its SQLAlchemy URL."""
    name = f"store_{os.getpid()}_{next(_databases)}"
    dsn = server_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server_url}/{name}"


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store on the backend named by the test's parameter."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    if request.param == "postgresql":
        return new_pg_database(request.getfixturevalue("pg_server"))
    raise ValueError(f"unknown store backend {request.param!r}")


@pytest.fixture
def app_store(store_url: str) -> Iterator[Store]:
    """An opened (migrated) empty store on the test's backend."""
    with open_store(store_url) as opened:
        yield opened
