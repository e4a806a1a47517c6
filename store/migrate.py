"""Versioned schema migrations: each a function, applied in order, each recorded once.

`schema_version` holds one row per applied migration. Several processes may open a fresh store
at once; the migrating transaction takes the store's write lock (SQLite BEGIN IMMEDIATE, a
PostgreSQL advisory lock) and re-reads the version under it, so exactly one of them migrates.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, insert, inspect, select

from semantic.errors import StrataError
from store.schema import (
    customer_mapping,
    metadata,
    now_utc,
    query_log,
    saved_analysis,
    schema_version,
)

if TYPE_CHECKING:
    from store.connect import Store

# Any fixed 64-bit number; it names the lock that PostgreSQL migrations of this store share.
_PG_MIGRATION_LOCK = 0x5374726174610001


@dataclass(frozen=True)
class Migration:
    """One step of the schema: `apply` runs inside the transaction that records `version`."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _v1_query_log_and_saved_analyses(conn: Connection) -> None:
    # v1 builds its tables from schema.py while they are still the v1 shape. A later migration
    # that changes one of them must first copy the v1 definition here, or a fresh store would
    # get the new shape from v1 and then fail on the change (tests/test_store.py would show it).
    metadata.create_all(conn, tables=[query_log, saved_analysis])


def _v3_customer_mappings(conn: Connection) -> None:
    metadata.create_all(conn, tables=[customer_mapping])


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "query log and saved analyses", _v1_query_log_and_saved_analyses),
    # Versions need not be contiguous: 2 belongs to another branch until it is merged.
    Migration(3, "customer import mappings", _v3_customer_mappings),
)
LATEST_VERSION = MIGRATIONS[-1].version


class StoreTooNew(StrataError):
    """The store was migrated by a newer Strata than this one.

    >>> print(StoreTooNew("sqlite:///app.db", 7))
    the app store sqlite:///app.db is at schema version 7, newer than this Strata knows (3)
      hint: upgrade Strata on this machine, or point STRATA_STORE_URL at another store
    """

    def __init__(self, where: str, version: int):
        super().__init__(
            f"the app store {where} is at schema version {version}, newer than this Strata "
            f"knows ({LATEST_VERSION})\n"
            "  hint: upgrade Strata on this machine, or point STRATA_STORE_URL at another store"
        )


def current_version(conn: Connection) -> int:
    """The newest migration applied to the store, 0 for an empty one.

    >>> from store.connect import connect_store
    >>> with connect_store("sqlite://") as store:
    ...     store.read(current_version)
    0
    """
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one()


def migrate(store: Store) -> tuple[int, ...]:
    """Apply the migrations the store lacks; return the versions this call applied.

    >>> from store.connect import connect_store
    >>> with connect_store("sqlite://") as store:
    ...     migrate(store) == tuple(m.version for m in MIGRATIONS), migrate(store)
    (True, ())
    """
    # Most opens find the store up to date: check that without taking the write lock.
    version = store.read(current_version)
    if version > LATEST_VERSION:
        raise StoreTooNew(store.where, version)
    if version == LATEST_VERSION:
        return ()
    return store.write(lambda conn: _apply_pending(conn, store.where))


def _apply_pending(conn: Connection, where: str) -> tuple[int, ...]:
    if conn.dialect.name == "postgresql":
        # Held until this transaction ends; concurrent CREATE TABLEs would otherwise collide.
        conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
    schema_version.create(conn, checkfirst=True)
    # Read again under the lock: another process may have migrated since our first look.
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise StoreTooNew(where, version)
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        migration.apply(conn)
        conn.execute(
            insert(schema_version).values(
                version=migration.version,
                name=migration.name,
                applied_at=now_utc(),
                applied_by=f"{socket.gethostname()} pid {os.getpid()}",
            )
        )
        applied.append(migration.version)
    return tuple(applied)
