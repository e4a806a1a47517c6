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

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)

from semantic.errors import StrataError
from store.schema import (
    CAMPAIGN_TABLES,
    UTCDateTime,
    campaign_event,
    campaign_list_merged,
    customer_mapping,
    metadata,
    now_utc,
    query_log,
    query_route,
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
    # v1 builds its tables as they were at v1: query_log from schema.py (unchanged since), and
    # saved_analysis from its v1 copy below, since v4 adds columns to it. A later migration that
    # changes a table must first copy its v1 definition here in the same way.
    metadata.create_all(conn, tables=[query_log])
    _V1.create_all(conn)


_V1 = MetaData()
_saved_analysis_v1 = Table(
    "saved_analysis",
    _V1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("folder", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("subject_area", Text, nullable=False),
    Column("logical_sql", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_run_at", UTCDateTime),
    CheckConstraint("folder IN ('my', 'shared')", name="saved_analysis_folder"),
)
_v1_my = _saved_analysis_v1.c.folder == "my"
_v1_shared = _saved_analysis_v1.c.folder == "shared"
Index(
    "saved_analysis_my_name",
    _saved_analysis_v1.c.owner,
    _saved_analysis_v1.c.name,
    unique=True,
    sqlite_where=_v1_my,
    postgresql_where=_v1_my,
)
Index(
    "saved_analysis_shared_name",
    _saved_analysis_v1.c.name,
    unique=True,
    sqlite_where=_v1_shared,
    postgresql_where=_v1_shared,
)


def _v4_catalog_kinds_and_builder_specs(conn: Connection) -> None:
    # Named filters live in the catalog beside analyses (one namespace per folder, as in
    # OBIEE); the builder's own definition (filter tree, prompts) is kept as JSON beside the
    # Logical SQL it produced. Constant DDL, the same on SQLite and PostgreSQL.
    conn.execute(
        text("ALTER TABLE saved_analysis ADD COLUMN kind TEXT NOT NULL DEFAULT 'analysis'")
    )
    conn.execute(text("ALTER TABLE saved_analysis ADD COLUMN spec TEXT"))


def _v2_campaigns(conn: Connection) -> None:
    # Same rule as v1: copy the definitions here before a later migration changes them
    # (v6 adds a column to campaign, so campaign comes from its v2 copy below).
    metadata.create_all(conn, tables=[t for t in CAMPAIGN_TABLES if t.name != "campaign"])
    _V2.create_all(conn)


_V2 = MetaData()
_campaign_v2 = Table(
    "campaign",
    _V2,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("list_id", Integer, nullable=False),
    Column("channel", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("control_share", Float, nullable=False),
    Column("status", Text, nullable=False),
    Column("scheduled_at", UTCDateTime),
    Column("rate_per_second", Float),
    Column("rate_per_hour", Integer),
    Column("created_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("lock_owner", Text),
    Column("lock_until", UTCDateTime),
    CheckConstraint(
        "status IN ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'finished')",
        name="campaign_status",
    ),
    CheckConstraint("channel IN ('email', 'sms')", name="campaign_channel"),
)


def _v3_customer_mappings(conn: Connection) -> None:
    metadata.create_all(conn, tables=[customer_mapping])


def _v5_campaign_list_merged(conn: Connection) -> None:
    metadata.create_all(conn, tables=[campaign_list_merged])


def _v6_open_and_click_tracking(conn: Connection) -> None:
    # Constant DDL, the same on SQLite (3.23+ knows FALSE) and PostgreSQL; existing campaigns
    # keep tracking off, as they were sent.
    conn.execute(text("ALTER TABLE campaign ADD COLUMN tracking BOOLEAN NOT NULL DEFAULT FALSE"))
    metadata.create_all(conn, tables=[campaign_event])


def _v7_query_routes(conn: Connection) -> None:
    # Same rule as v1: copy the definition here before a later migration changes it.
    metadata.create_all(conn, tables=[query_route])


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "query log and saved analyses", _v1_query_log_and_saved_analyses),
    Migration(2, "campaign lists, campaigns, ledger, suppression, responses", _v2_campaigns),
    Migration(3, "customer import mappings", _v3_customer_mappings),
    Migration(4, "catalog kinds and builder specs", _v4_catalog_kinds_and_builder_specs),
    Migration(5, "campaign list members merged by the customer hub", _v5_campaign_list_merged),
    Migration(6, "campaign open and click tracking", _v6_open_and_click_tracking),
    Migration(7, "query routes of aggregate navigation", _v7_query_routes),
)
LATEST_VERSION = MIGRATIONS[-1].version


class StoreTooNew(StrataError):
    """The store was migrated by a newer Strata than this one.

    >>> print(StoreTooNew("sqlite:///app.db", 99))  # doctest: +ELLIPSIS
    the app store sqlite:///app.db is at schema version 99, newer than this Strata knows (...)
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
