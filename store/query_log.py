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
from store.schema import now_utc, query_log, query_route


@dataclass(frozen=True)
class QueryRoute:
    """The source that answered one fact query of a request, when it had a choice.

    `coverage` names, per hierarchy the query touched, its lowest level and the level the
    source holds ("Time: Year from Month"); `data_version` is the database's (None for a
    server, which has none).

    >>> from store.connect import open_store
    >>> route = QueryRoute("Sales", "monthly", True, "Time: Year from Month", "v1")
    >>> with open_store("sqlite://") as store:
    ...     log_query(store, QueryLogEntry("alice", "q", request_id="r1", routes=(route,)))
    ...     print(*logged_request(store, "r1").routes)
    Sales <- monthly (aggregate; Time: Year from Month; data version v1)
    """

    fact: str
    source: str
    aggregate: bool
    coverage: str
    data_version: str | None = None

    def __str__(self) -> str:
        kind = "aggregate" if self.aggregate else "detail"
        version = f"; data version {self.data_version}" if self.data_version else ""
        return f"{self.fact} <- {self.source} ({kind}; {self.coverage}{version})"


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
    routes: tuple[QueryRoute, ...] = ()  # kept in query_route, one row each


_COLUMNS = tuple(f.name for f in fields(QueryLogEntry) if f.name != "routes")
_ROUTE_COLUMNS = tuple(f.name for f in fields(QueryRoute))


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
    routes = [
        {
            "request_id": entry.request_id,
            "position": position,
            **{name: getattr(route, name) for name in _ROUTE_COLUMNS},
            "aggregate": int(route.aggregate),
        }
        for entry in entries
        for position, route in enumerate(entry.routes)
    ]

    def insert(conn: Connection) -> None:
        # A retry after a commit whose reply was lost must not log a request twice.
        conn.execute(upsert_insert(conn, query_log).on_conflict_do_nothing(), rows)
        if routes:
            conn.execute(upsert_insert(conn, query_route).on_conflict_do_nothing(), routes)

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

    def read(conn: Connection) -> list[QueryLogEntry]:
        rows = conn.execute(query).all()
        routes = _routes(conn, [row.request_id for row in rows])
        return [
            QueryLogEntry(**row._mapping, routes=routes.get(row.request_id, ())) for row in rows
        ]

    return store.read(read)


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

    def read(conn: Connection) -> QueryLogEntry | None:
        row = conn.execute(query).first()
        if row is None:
            return None
        routes = _routes(conn, [request_id]).get(request_id, ())
        return QueryLogEntry(**row._mapping, routes=routes)

    return store.read(read)


def _routes(conn: Connection, request_ids: list[str]) -> dict[str, tuple[QueryRoute, ...]]:
    """The logged routes of these requests, in their fact queries' order."""
    if not request_ids:
        return {}
    query = (
        select(query_route.c.request_id, *(query_route.c[name] for name in _ROUTE_COLUMNS))
        .where(query_route.c.request_id.in_(request_ids))
        .order_by(query_route.c.request_id, query_route.c.position)
    )
    found: dict[str, list[QueryRoute]] = {}
    for row in conn.execute(query):
        values = {name: getattr(row, name) for name in _ROUTE_COLUMNS}
        values["aggregate"] = bool(values["aggregate"])
        found.setdefault(row.request_id, []).append(QueryRoute(**values))
    return {k: tuple(v) for k, v in found.items()}
