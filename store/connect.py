"""Open the app store: an SQLite file in WAL mode by default, or PostgreSQL, behind one `Store`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from physical.settings import data_folder
from store.retry import DEFAULT_POLICY, RetryPolicy, retry

T = TypeVar("T")

DEFAULT_FILE = "app.db"
# Execution option that marks a connection's transaction as a write (SQLite: BEGIN IMMEDIATE).
_WRITE = "strata_write"


@dataclass(frozen=True)
class Store:
    """A handle on the app store; all reads and writes go through `read` and `write`.

    Both run a unit of work in one transaction and run it again while the store is busy, so a
    unit of work must do nothing outside the database that cannot be repeated.
    """

    engine: Engine
    policy: RetryPolicy = DEFAULT_POLICY

    @property
    def dialect(self) -> str:
        """The backend's name: 'sqlite' or 'postgresql'.

        >>> with connect_store("sqlite://") as store:
        ...     store.dialect
        'sqlite'
        """
        return self.engine.dialect.name

    @property
    def where(self) -> str:
        """The store's URL with any password hidden, for messages.

        >>> with connect_store("postgresql://bi:secret@db/strata") as store:
        ...     store.where
        'postgresql+psycopg://bi:***@db/strata'
        """
        return self.engine.url.render_as_string(hide_password=True)

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a write transaction, committed when it returns, retried while busy.

        >>> from sqlalchemy import text
        >>> with connect_store("sqlite://") as store:
        ...     store.write(lambda c: c.execute(text("SELECT 1")).scalar())
        1
        """
        return retry(lambda: self._run(work, write=True), where=self.where, policy=self.policy)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a read transaction: one consistent snapshot, never blocking writers.

        >>> from sqlalchemy import text
        >>> with connect_store("sqlite://") as store:
        ...     store.read(lambda c: c.execute(text("SELECT 2")).scalar())
        2
        """
        return retry(lambda: self._run(work, write=False), where=self.where, policy=self.policy)

    def close(self) -> None:
        """Close the store's pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: write})
            with conn.begin():
                return work(conn)


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """The store's URL: $STRATA_STORE_URL, else an SQLite file in $STRATA_DATA (default data/).

    >>> default_url({})
    'sqlite:///data/app.db'
    >>> default_url({"STRATA_DATA": "/srv/strata"})
    'sqlite:////srv/strata/app.db'
    >>> default_url({"STRATA_STORE_URL": "postgresql+psycopg://bi@db/strata"})
    'postgresql+psycopg://bi@db/strata'
    """
    if url := env.get("STRATA_STORE_URL"):
        return url
    return f"sqlite:///{data_folder(env) / DEFAULT_FILE}"


def connect_store(url: str | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> Store:
    """A `Store` on `url` (default: `default_url()`), without creating or migrating its tables.

    Most callers want `open_store`, which also brings the schema up to date.

    >>> with connect_store("sqlite://") as store:
    ...     store.read(lambda c: c.exec_driver_sql("PRAGMA foreign_keys").scalar())
    1
    """
    parsed = _with_driver(make_url(url or default_url()))
    if parsed.get_backend_name() == "sqlite":
        return Store(_sqlite_engine(parsed, policy), policy)
    # pre_ping replaces a pooled connection the server closed (restart, idle timeout).
    return Store(create_engine(parsed, pool_pre_ping=True), policy)


def open_store(url: str | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> Store:
    """Open the app store at `url` (default: `default_url()`), creating or migrating its schema.

    Safe to call from several processes at once: one of them migrates, the others wait for it.

    >>> from store.migrate import LATEST_VERSION, current_version
    >>> with open_store("sqlite://") as store:
    ...     store.read(current_version) == LATEST_VERSION
    True
    """
    from store.migrate import migrate  # migrate needs Store; import here to keep the order simple

    store = connect_store(url, policy)
    try:
        migrate(store)
    except BaseException:
        store.close()  # the caller never gets the store, so nobody else can close its pool
        raise
    return store


def _with_driver(url: URL) -> URL:
    # SQLAlchemy's default PostgreSQL driver is psycopg2; Strata depends on psycopg 3.
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _sqlite_engine(url: URL, policy: RetryPolicy) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": policy.busy_timeout_ms / 1000})
    event.listen(engine, "connect", _sqlite_pragmas(policy.busy_timeout_ms))
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 would BEGIN lazily before the first INSERT, leaving earlier SELECTs
        # outside the transaction; switch that off and BEGIN ourselves in _sqlite_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching a fresh file to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # WAL: readers never block the writer nor the writer readers. NORMAL syncs at checkpoints
        # only: a commit survives the process being killed, though not a power cut.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _sqlite_begin(conn: Connection) -> None:
    # A write takes the write lock at BEGIN, where the busy handler waits for it. A deferred
    # transaction that reads and then writes can instead fail at once with SQLITE_BUSY_SNAPSHOT,
    # which no timeout helps, when another process committed in between.
    write = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
