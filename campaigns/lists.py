"""Campaign lists: a frozen, versioned snapshot of an analysis, run through the engine as the
user who saves it, so that the user's permissions and row filters decide who is on the list.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select

from campaigns.visibility import Viewer, visible
from semantic.errors import StrataError, did_you_mean
from store.connect import Store
from store.schema import campaign_list, campaign_list_member, campaign_list_merged, now_utc

if TYPE_CHECKING:
    from engine.api import Engine

_l, _m, _g = campaign_list.c, campaign_list_member.c, campaign_list_merged.c


@dataclass(frozen=True)
class Member:
    """One member of a frozen list: its key, its addresses and every field of the analysis.

    `merged_into` is set when the customer hub merged this member's customer into another
    member's (campaigns.golden): that member is contacted instead, once.
    """

    key: str
    email: str | None
    phone: str | None
    fields: dict[str, Any]
    merged_into: str | None = None


@dataclass(frozen=True)
class CampaignList:
    """A frozen list's provenance: what was asked, of which model, by whom, and what came back."""

    id: int
    name: str
    version: int
    logical_sql: str
    subject_area: str | None
    model_hash: str
    row_count: int
    content_hash: str
    key_column: str
    email_column: str | None
    phone_column: str | None
    field_names: tuple[str, ...]
    created_by: str
    created_at: dt.datetime


class ListError(StrataError):
    """A list cannot be frozen or found; the message names the column or list and a fix."""


def freeze_list(
    engine: Engine,
    store: Store,
    name: str,
    logical_sql: str,
    user: str | None = None,
    *,
    key: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    hub: Path | str | None = None,
    hub_key: str | None = None,
) -> CampaignList:
    """Run `logical_sql` as `user` and store its rows as the next version of list `name`.

    `key` names the column that identifies a member (default: the first column); `email` and
    `phone` name the address columns (default: a column called like "Email" / "Mobile Phone",
    if any). Every column is kept as a personalisation field.

    With `hub` (a customer hub file), members the hub merged into one entity collapse onto
    one, contacted at the golden record's address (`campaigns.golden`); `hub_key` names the
    column whose values are the hub's source keys (default: a "Customer Number" column, as
    Customer 360 matches them, else the key column). The hub is opened read-only, and only
    for that lookup.

    >>> import os, tempfile
    >>> from engine import Engine
    >>> from store import open_store
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "m.yaml"), "w").write('''
    ... databases:
    ...   - name: w
    ...     dialect: duckdb
    ...     connection: {path: ":memory:"}
    ...     tables:
    ...       - {name: c, primary_key: id, columns: {id: integer, email: varchar}}
    ... logical_tables:
    ...   - name: Customer
    ...     kind: dimension
    ...     columns: [{name: Id, expr: c.id}, {name: Email, expr: c.email}]
    ... subject_areas:
    ...   - {name: S, folders: [{name: Customer, columns: [Customer.Id, Customer.Email]}]}
    ... ''')
    >>> eng = Engine.open(folder, store_url="sqlite://")
    >>> eng._backend("w").run("CREATE TABLE c AS SELECT 1 AS id, 'a@x.ba' AS email") is None
    False
    >>> with open_store("sqlite://") as store:  # doctest: +ELLIPSIS
    ...     sql = 'SELECT "Customer"."Id", "Customer"."Email" FROM "S"'
    ...     frozen = freeze_list(eng, store, "Test", sql)
    ...     (frozen.version, frozen.row_count, frozen.email_column), list_members(store, frozen)
    ((1, 1, 'Email'), (Member(key='1', email='a@x.ba', phone=None, fields={...}, ...),))
    >>> eng.close()
    """
    if not name.strip():
        raise ListError(
            "a campaign list needs a name\n  hint: e.g. 'Sarajevo households, no e-bill'"
        )
    session = engine.session(user)
    result = engine.query(logical_sql, user=user)
    columns = [str(c) for c in result.df.columns]
    key_column = _column(columns, key, "key") if key else columns[0]
    email_column = _column(columns, email, "email") if email else _guess(columns, ("email",))
    phone_column = (
        _column(columns, phone, "phone") if phone else _guess(columns, ("mobile", "phone", "sms"))
    )
    members = _members(result.df, columns, key_column, email_column, phone_column)
    if hub is not None:
        hub_column = (
            _column(columns, hub_key, "hub key")
            if hub_key
            else _guess(columns, ("customer number",)) or key_column
        )
        members = _golden(members, Path(hub), hub_column, email_column, phone_column)
    content_hash = _content_hash(members)
    now = now_utc()
    subject_area = _subject_area(logical_sql)

    def save(conn: Connection) -> int:
        version = conn.execute(
            select(func.coalesce(func.max(_l.version), 0)).where(_l.name == name)
        ).scalar_one()
        list_id = conn.execute(
            insert(campaign_list)
            .values(
                name=name,
                version=version + 1,
                logical_sql=logical_sql,
                subject_area=subject_area,
                model_hash=engine.model.hash,
                row_count=len(members),
                content_hash=content_hash,
                key_column=key_column,
                email_column=email_column,
                phone_column=phone_column,
                field_names=json.dumps(columns),
                created_by=session.user,
                created_at=now,
            )
            .returning(_l.id)
        ).scalar_one()
        if members:
            conn.execute(
                insert(campaign_list_member),
                [
                    {
                        "list_id": list_id,
                        "member_key": m.key,
                        "position": i,
                        "email": m.email,
                        "phone": m.phone,
                        "fields": json.dumps(m.fields, ensure_ascii=False),
                    }
                    for i, m in enumerate(members)
                ],
            )
        merged = [m for m in members if m.merged_into]
        if merged:
            conn.execute(
                insert(campaign_list_merged),
                [
                    {"list_id": list_id, "member_key": m.key, "merged_into": m.merged_into}
                    for m in merged
                ],
            )
        return list_id

    return get_list(store, list_id=store.write(save))


def get_list(
    store: Store,
    name: str | None = None,
    version: int | None = None,
    *,
    list_id: int | None = None,
    seen_by: Viewer | None = None,
) -> CampaignList:
    """A frozen list by name (its newest version unless `version` says which) or by id.

    With `seen_by`, another user's list is not found, exactly as a missing one (and only
    the viewer's own names are suggested): whether it exists is not theirs to learn.
    """

    def find(conn: Connection):
        query = select(campaign_list)
        if list_id is not None:
            query = query.where(_l.id == list_id)
        else:
            query = query.where(_l.name == name)
            query = query.where(_l.version == version) if version else query
            query = query.order_by(_l.version.desc()).limit(1)
        if seen_by is not None and not seen_by.administrator:
            query = query.where(_l.created_by == seen_by.name)
        row = conn.execute(query).one_or_none()
        if row is None:
            names_query = select(_l.name).distinct()
            if seen_by is not None and not seen_by.administrator:
                names_query = names_query.where(_l.created_by == seen_by.name)
            names = conn.execute(names_query).scalars().all()
            what = f"id {list_id}" if list_id is not None else repr(name)
            what += f" version {version}" if version else ""
            hint = did_you_mean(name or "", names) or "create it with `strata campaign list-create`"
            raise ListError(f"no campaign list {what}\n  hint: {hint}")
        return row

    row = store.read(find)
    values = dict(row._mapping)
    return CampaignList(**{**values, "field_names": tuple(json.loads(values["field_names"]))})


def list_versions(store: Store, seen_by: Viewer | None = None) -> list[CampaignList]:
    """Every frozen list `seen_by` may open (None: all), every version, newest first within
    a name."""
    ids = store.read(
        lambda c: c.execute(select(_l.id).order_by(_l.name, _l.version.desc())).scalars().all()
    )
    return visible((get_list(store, list_id=i) for i in ids), seen_by)


def list_members(store: Store, frozen: CampaignList) -> tuple[Member, ...]:
    """The members of a frozen list, in the order they were frozen."""
    query = (
        select(_m.member_key, _m.email, _m.phone, _m.fields, _g.merged_into)
        .outerjoin(
            campaign_list_merged, (_g.list_id == _m.list_id) & (_g.member_key == _m.member_key)
        )
        .where(_m.list_id == frozen.id)
    )
    rows = store.read(lambda c: c.execute(query.order_by(_m.position)).all())
    return tuple(
        Member(r.member_key, r.email, r.phone, json.loads(r.fields), r.merged_into) for r in rows
    )


def _golden(members, hub: Path, hub_column, email_column, phone_column) -> list[Member]:
    from campaigns.golden import collapse_merged
    from customers.golden_contacts import golden_contacts
    from customers.hub import read_hub

    opened = read_hub(hub)
    if opened is None:  # no hub yet: nobody was merged
        return members
    keys = [str(m.fields[hub_column]) for m in members if m.fields.get(hub_column) is not None]
    with opened:
        contacts = golden_contacts(opened, keys)
    return collapse_merged(members, hub_column, contacts, email_column, phone_column)


def _column(columns: Sequence[str], name: str, role: str) -> str:
    if name in columns:
        return name
    hint = did_you_mean(name, columns) or f"the analysis returns {', '.join(columns)}"
    raise ListError(f"the {role} column {name!r} is not in the analysis' result\n  hint: {hint}")


def _guess(columns: Sequence[str], words: tuple[str, ...]) -> str | None:
    for word in words:
        for column in columns:
            if word in column.casefold().replace("-", ""):
                return column
    return None


def _members(df, columns, key_column, email_column, phone_column) -> list[Member]:
    members, seen = [], {}
    for values in df.itertuples(index=False, name=None):
        fields = {c: _plain(v) for c, v in zip(columns, values, strict=True)}
        key = fields[key_column]
        if key is None:
            raise ListError(
                f"a row has no value in the key column {key_column!r}\n"
                "  hint: filter those rows out, e.g. WHERE ... IS NOT NULL"
            )
        key = str(key)
        if key in seen:
            raise ListError(
                f"member {key!r} appears in more than one row of the analysis\n"
                f"  hint: {key_column!r} must identify one row; remove columns that vary per "
                "member (a service, a month) or pick another key"
            )
        seen[key] = True
        members.append(
            Member(
                key,
                _text(fields.get(email_column)) if email_column else None,
                _text(fields.get(phone_column)) if phone_column else None,
                fields,
            )
        )
    # Sorted by key so that the same answer freezes to the same content hash, whatever
    # order the database returned it in.
    return sorted(members, key=lambda m: (len(m.key), m.key))


def _content_hash(members: Sequence[Member]) -> str:
    digest = hashlib.sha256()
    for m in members:
        # merged_into only when set: lists frozen without a hub keep the hash they had.
        item = [m.key, m.email, m.phone, m.fields, *([m.merged_into] if m.merged_into else [])]
        digest.update(json.dumps(item, sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """A value JSON can hold: dates as ISO text, NaN and NA as None, numpy scalars as Python."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _subject_area(logical_sql: str) -> str | None:
    from engine.parse import parse

    try:
        return parse(logical_sql).subject_area
    except Exception:  # the engine already accepted it; provenance only, never fatal
        return None


def freeze_analysis(
    engine: Engine,
    store: Store,
    name: str,
    analysis: str,
    user: str,
    folder: str = "my",
    **columns: str | None,
) -> CampaignList:
    """Freeze the saved analysis `analysis` (in `user`'s My Folder, or Shared) as list `name`.

    >>> from store import open_store
    >>> with open_store("sqlite://") as store:
    ...     freeze_analysis(None, store, "L", "Missing", "alice")
    Traceback (most recent call last):
    store.analyses.AnalysisNotFound: no analysis named 'Missing' in alice's My Folder
    """
    from store.analyses import get_analysis

    saved = get_analysis(store, user, analysis, folder)
    return freeze_list(engine, store, name, saved.logical_sql, user, **columns)
