"""The app store's tables as the code reads them now: SQLAlchemy Core, one shape for SQLite and
PostgreSQL.

Migrations (`store.migrate`) create and change these tables; queries only ever name them here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back as an aware UTC datetime on every backend.

    SQLite has no time zone type and SQLAlchemy stores its datetimes as naive text, while
    PostgreSQL's timestamptz comes back in the session's zone; this type makes both read the same.

    >>> t = UTCDateTime()
    >>> t.process_result_value(datetime(2026, 1, 2, 3, 4), None)
    datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous; refusing it keeps a local-time bug from being stored.
            raise ValueError(f"store timestamps must carry a time zone, got naive {value}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect | None
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    """The current time, aware, in UTC.

    >>> now_utc().tzinfo
    datetime.timezone.utc
    """
    return datetime.now(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
    Column("applied_by", Text, nullable=False),  # host and pid, for whoever reads the table later
)

query_log = Table(
    "query_log",
    metadata,
    # BIGINT on PostgreSQL for a log that only grows; SQLite autoincrements only an INTEGER key.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("request_id", Text, nullable=False, unique=True),
    Column("at", UTCDateTime, nullable=False),
    Column("user_name", Text, nullable=False),
    Column("subject_area", Text),
    Column("logical_sql", Text, nullable=False),
    Column("physical_sql", Text),
    Column("dialect", Text),
    Column("model_hash", Text),
    Column("parse_ms", Float),
    Column("resolve_ms", Float),
    Column("plan_ms", Float),
    Column("generate_ms", Float),
    Column("execute_ms", Float),
    Column("fetch_ms", Float),
    Column("rows", BigInteger),
    Column("cache", Text),
    Column("error", Text),
    CheckConstraint("cache IN ('hit', 'miss')", name="query_log_cache"),
)
Index("query_log_user_at", query_log.c.user_name, query_log.c.at)
Index("query_log_at", query_log.c.at)

saved_analysis = Table(
    "saved_analysis",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("folder", Text, nullable=False),
    # In 'my' the owner is whose folder it is; in 'shared' it is who saved it first.
    Column("owner", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("subject_area", Text, nullable=False),
    Column("logical_sql", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_run_at", UTCDateTime),
    CheckConstraint("folder IN ('my', 'shared')", name="saved_analysis_folder"),
)
# A name is unique within its folder, as in the OBIEE catalog: each user's My Folder is its own
# folder, Shared is one folder for everyone. Two partial unique indexes say exactly that; both
# SQLite (3.8+) and PostgreSQL enforce them and accept them as ON CONFLICT targets.
MY_FOLDER = saved_analysis.c.folder == "my"
SHARED_FOLDER = saved_analysis.c.folder == "shared"
Index(
    "saved_analysis_my_name",
    saved_analysis.c.owner,
    saved_analysis.c.name,
    unique=True,
    sqlite_where=MY_FOLDER,
    postgresql_where=MY_FOLDER,
)
Index(
    "saved_analysis_shared_name",
    saved_analysis.c.name,
    unique=True,
    sqlite_where=SHARED_FOLDER,
    postgresql_where=SHARED_FOLDER,
)

# Customer data hub (issue 7): named CSV import mappings, reused across imports. The mapping is
# kept as the JSON its dataclass writes (customers.mapping), so a new transform needs no migration.
customer_mapping = Table(
    "customer_mapping",
    metadata,
    Column("name", Text, primary_key=True),
    Column("spec", Text, nullable=False),
    Column("saved_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
