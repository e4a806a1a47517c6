"""The app store's tables as the code reads them now: SQLAlchemy Core, one shape for SQLite and
PostgreSQL.

Migrations (`store.migrate`) create and change these tables; queries only ever name them here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    false,
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
    # 'analysis' or 'filter' (a named filter); both share a folder's names, as in OBIEE.
    Column("kind", Text, nullable=False, server_default="analysis"),
    Column("spec", Text),  # the builder's definition as JSON; None for Logical SQL only
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

# --- Campaigns (migration 2) -------------------------------------------------------------
# A campaign list is a frozen snapshot of an analysis; a new freeze of one name is a new
# version, so a running campaign's members never change under it.
campaign_list = Table(
    "campaign_list",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("logical_sql", Text, nullable=False),
    Column("subject_area", Text),
    Column("model_hash", Text, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("content_hash", Text, nullable=False),  # sha256 over the members, in order
    Column("key_column", Text, nullable=False),
    Column("email_column", Text),
    Column("phone_column", Text),
    Column("field_names", Text, nullable=False),  # JSON list, the analysis' column order
    Column("created_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("campaign_list_name_version", campaign_list.c.name, campaign_list.c.version, unique=True)

campaign_list_member = Table(
    "campaign_list_member",
    metadata,
    Column("list_id", Integer, primary_key=True, autoincrement=False),
    Column("member_key", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    Column("fields", Text, nullable=False),  # JSON object: every column of the analysis
)

campaign = Table(
    "campaign",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("list_id", Integer, nullable=False),
    Column("channel", Text, nullable=False),
    Column("template", Text, nullable=False),  # JSON of campaigns.templates.Template
    Column("control_share", Float, nullable=False),  # 0..1 of members held out
    Column("status", Text, nullable=False),
    Column("scheduled_at", UTCDateTime),
    Column("rate_per_second", Float),
    Column("rate_per_hour", Integer),
    Column("created_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    # The per-campaign lock: a lease held by one sender ("host pid N"), renewed while it runs.
    Column("lock_owner", Text),
    Column("lock_until", UTCDateTime),
    # Open and click tracking (migration 6): off unless the campaign asks for it.
    Column("tracking", Boolean, nullable=False, server_default=false()),
    CheckConstraint(
        "status IN ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'finished')",
        name="campaign_status",
    ),
    CheckConstraint("channel IN ('email', 'sms')", name="campaign_channel"),
)

campaign_ledger = Table(
    "campaign_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, nullable=False),
    Column("member_key", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("address", Text),
    Column("state", Text, nullable=False),
    Column("reason", Text),  # why suppressed, bounced or failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("message_id", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    CheckConstraint(
        "state IN ('pending', 'sending', 'sent', 'failed', 'bounced', 'suppressed', 'control')",
        name="campaign_ledger_state",
    ),
)
# The ledger key: one row per campaign x member x channel, whoever writes it and how often.
Index(
    "campaign_ledger_key",
    campaign_ledger.c.campaign_id,
    campaign_ledger.c.member_key,
    campaign_ledger.c.channel,
    unique=True,
)
Index("campaign_ledger_state", campaign_ledger.c.campaign_id, campaign_ledger.c.state)

suppression = Table(
    "suppression",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("address", Text, primary_key=True),  # e-mail lower-cased; phone as given
    Column("reason", Text, nullable=False),  # unsubscribed, bounced, manual
    Column("campaign_id", Integer),
    Column("at", UTCDateTime, nullable=False),
)

campaign_response = Table(
    "campaign_response",
    metadata,
    Column("campaign_id", Integer, primary_key=True, autoincrement=False),
    Column("member_key", Text, primary_key=True),
    Column("responded_at", UTCDateTime, nullable=False),
    Column("kind", Text, nullable=False),  # what counted as a response, e.g. 'e-bill'
)

CAMPAIGN_TABLES = (
    campaign_list,
    campaign_list_member,
    campaign,
    campaign_ledger,
    suppression,
    campaign_response,
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

# Campaign lists use golden records (issue 7): a list member whose customer the customer hub
# merged into another member's, and that member's key. The member stays on the list (the
# query returned it) but is never contacted; pre-flight counts it as "duplicate customer
# (merged)". A table of its own, so that campaign_list_member keeps its v2 shape.
campaign_list_merged = Table(
    "campaign_list_merged",
    metadata,
    Column("list_id", Integer, primary_key=True, autoincrement=False),
    Column("member_key", Text, primary_key=True),
    Column("merged_into", Text, nullable=False),
)

# Open and click tracking (migration 6): the first open of a message and the first click on each
# of its links, one row each, so a pixel fetched again by an image proxy counts once. `link` is
# 0 for an open and the link's number (from 1, in the HTML's order) for a click; `url` is the
# target the click went to, looked up from the campaign's own template, never from the request.
campaign_event = Table(
    "campaign_event",
    metadata,
    Column("campaign_id", Integer, primary_key=True, autoincrement=False),
    Column("member_key", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("link", Integer, primary_key=True, autoincrement=False),
    Column("url", Text),
    Column("at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('open', 'click')", name="campaign_event_kind"),
)

# Aggregate navigation (issue 8): for each request that had a choice of sources, one row per
# fact query with the source that answered it, what it covered per hierarchy level, and the
# data version of the database it read, so that a wrong or stale answer can be traced.
query_route = Table(
    "query_route",
    metadata,
    Column("request_id", Text, primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("fact", Text, nullable=False),  # the logical fact, with the function it computes
    Column("source", Text, nullable=False),  # fragments as "archive + current"
    Column("aggregate", Integer, nullable=False),  # 1: an aggregate source (a routed query)
    # "Time: Year from Month; Geography: Area from Area": the request's lowest level per
    # hierarchy, and the level the source's rows hold ("detail" for detail rows).
    Column("coverage", Text, nullable=False),
    Column("data_version", Text),  # None: the database gives none (a server)
)
