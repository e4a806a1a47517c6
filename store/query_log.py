"""The query log: one row per request a user ran, with its SQL, timings and outcome."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, select

from store.connect import Store
from store.dialect import upsert_insert
from store.schema import now_utc, query_log


@dataclass(frozen=True)
class QueryLogEntry:
    """One logged request. Stage timings are milliseconds; None where a stage did not run."""

    user_name: str
    logical_sql: str
    subject_area: str | None = None
    physical_sql: str | None = None
    dialect: str | None = None
    model_hash: str | None = None
    parse_ms: float | None = None
    resolve_ms: float | None = None
    plan_ms: float | None = None
    generate_ms: float | None = None
    execute_ms: float | None = None
    fetch_ms: float | None = None
    rows: int | None = None
    cache: Literal["hit", "miss"] | None = None
    error: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = field(default_factory=now_utc)


_COLUMNS = tuple(f.name for f in fields(QueryLogEntry))


def log_query(store: Store, entry: QueryLogEntry) -> None:
    """Append `entry` to the query log; logging the same request_id twice keeps one row.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     entry = QueryLogEntry("alice", 'SELECT "Customer"."Region" FROM "Retail"', rows=4)
    ...     log_query(store, entry)
    ...     log_query(store, entry)
    ...     [(e.user_name, e.rows) for e in recent_queries(store)]
    [('alice', 4)]
    """
    log_queries(store, [entry])


def log_queries(store: Store, entries: Sequence[QueryLogEntry]) -> None:
    """Append several entries in one transaction (a busy engine's log writer batches)."""
    rows = [{name: getattr(entry, name) for name in _COLUMNS} for entry in entries]

    def insert(conn: Connection) -> None:
        # A retry after a commit whose reply was lost must not log a request twice.
        conn.execute(upsert_insert(conn, query_log).on_conflict_do_nothing(), rows)

    if rows:
        store.write(insert)


def recent_queries(store: Store, user: str | None = None, last: int = 20) -> list[QueryLogEntry]:
    """The `last` logged requests, newest first, of one user or of everyone.

    >>> from datetime import UTC, datetime
    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     for hour, who in enumerate(["alice", "bob", "alice"]):
    ...         at = datetime(2026, 1, 1, hour, tzinfo=UTC)
    ...         log_query(store, QueryLogEntry(who, f"q{hour}", at=at))
    ...     [e.logical_sql for e in recent_queries(store, user="alice")]
    ['q2', 'q0']
    """
    query = select(*(query_log.c[name] for name in _COLUMNS))
    if user is not None:
        query = query.where(query_log.c.user_name == user)
    # id breaks ties between requests logged in the same microsecond, in the order they arrived.
    query = query.order_by(query_log.c.at.desc(), query_log.c.id.desc()).limit(last)
    rows = store.read(lambda conn: conn.execute(query).all())
    return [QueryLogEntry(**row._mapping) for row in rows]


def logged_request(store: Store, request_id: str) -> QueryLogEntry | None:
    """The query log's row for one request, or None if it is not (yet) written.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     log_query(store, QueryLogEntry("alice", "q", request_id="r1", rows=3))
    ...     logged_request(store, "r1").rows, logged_request(store, "r2")
    (3, None)
    """
    query = select(*(query_log.c[name] for name in _COLUMNS)).where(
        query_log.c.request_id == request_id
    )
    row = store.read(lambda conn: conn.execute(query).first())
    return None if row is None else QueryLogEntry(**row._mapping)
