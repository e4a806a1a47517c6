"""The INSERT that knows ON CONFLICT, for the backend a connection talks to.

SQLAlchemy Core has no portable upsert; SQLite and PostgreSQL spell it alike, so the two dialect
constructs take the same arguments and callers stay backend-blind.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from semantic.errors import StrataError

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def upsert_insert(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT on `table` with `on_conflict_do_update` / `on_conflict_do_nothing`.

    >>> from store.connect import connect_store
    >>> from store.schema import query_log
    >>> with connect_store("sqlite://") as store:
    ...     type(store.read(lambda c: upsert_insert(c, query_log))).__module__
    'sqlalchemy.dialects.sqlite.dml'
    """
    try:
        return _INSERTS[conn.dialect.name](table)
    except KeyError:
        raise StrataError(
            f"the app store does not support {conn.dialect.name!r}\n"
            "  hint: use an sqlite:/// or postgresql+psycopg:// URL"
        ) from None
