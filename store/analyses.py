"""Saved analyses: a user's My Folder and the Shared folder, as in the OBIEE catalog.

A name is unique within its folder: each user's My Folder is a folder of its own, and Shared is
one folder for everyone. Saving under a name that exists replaces that analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, Row, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from semantic.errors import StrataError, did_you_mean
from store.connect import Store
from store.dialect import upsert_insert
from store.schema import MY_FOLDER, SHARED_FOLDER, now_utc, saved_analysis

_t = saved_analysis.c


class Folder(StrEnum):
    MY = "my"
    SHARED = "shared"


@dataclass(frozen=True)
class SavedAnalysis:
    """One saved analysis. In Shared, `owner` is who saved it first."""

    id: int
    folder: Folder
    owner: str
    name: str
    subject_area: str
    logical_sql: str
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    kind: str = "analysis"  # or "filter": a named filter
    spec: str | None = None  # the builder's definition (JSON), None for Logical SQL only


class AnalysisNotFound(StrataError):
    """No analysis of that name in that folder; the hint names the closest one.

    >>> print(AnalysisNotFound("alice", Folder.MY, "Revnue", ["Revenue", "Churn"]))
    no analysis named 'Revnue' in alice's My Folder
      hint: did you mean 'Revenue'?
    """

    def __init__(self, owner: str, folder: Folder, name: str, names: list[str]):
        self.owner, self.folder, self.name = owner, folder, name
        hint = did_you_mean(name, names)
        super().__init__(
            f"no analysis named {name!r} in {_label(owner, folder)}"
            + (f"\n  hint: {hint}" if hint else "")
        )


class AnalysisExists(StrataError):
    """A rename would give two analyses of one folder the same name.

    >>> print(AnalysisExists("alice", Folder.SHARED, "Revenue"))
    an analysis named 'Revenue' already exists in Shared
      hint: pick another name, or delete or rename the other analysis first
    """

    def __init__(self, owner: str, folder: Folder, name: str, kind: str = "analysis"):
        self.owner, self.folder, self.name = owner, folder, name
        what = "a saved filter" if kind == "filter" else "an analysis"
        super().__init__(
            f"{what} named {name!r} already exists in {_label(owner, folder)}\n"
            "  hint: pick another name, or delete or rename the other analysis first"
        )


class NotYours(StrataError):
    """Only the owner of a shared item, or an administrator, may replace, rename or delete it.

    >>> print(NotYours("bob", "Churn", "alice"))
    'Churn' in Shared belongs to alice; bob may open it but not change it
      hint: save a copy under another name, or ask alice or an administrator
    """

    def __init__(self, who: str, name: str, owner: str):
        super().__init__(
            f"{name!r} in Shared belongs to {owner}; {who} may open it but not change it\n"
            f"  hint: save a copy under another name, or ask {owner} or an administrator"
        )


def _guard(conn: Connection, who: str, folder: Folder, name: str, administrator: bool) -> None:
    if folder is not Folder.SHARED or administrator:
        return
    owner = conn.execute(select(_t.owner).where(SHARED_FOLDER, _t.name == name)).scalar()
    if owner is not None and owner != who:
        raise NotYours(who, name, owner)


def save_analysis(
    store: Store,
    owner: str,
    name: str,
    logical_sql: str,
    subject_area: str,
    folder: Folder | str = Folder.MY,
    spec: str | None = None,
    kind: str = "analysis",
    administrator: bool = False,
) -> SavedAnalysis:
    """Save an analysis under `name`, replacing the one of that name in the same folder.

    A named filter (`kind="filter"`) shares its folder's names with analyses; saving one over an
    analysis of the same name (or the reverse) is refused rather than replacing it.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     first = save_analysis(store, "alice", "Revenue", "SELECT 1", "Retail")
    ...     again = save_analysis(store, "alice", "Revenue", "SELECT 2", "Retail")
    ...     again.id == first.id, again.logical_sql
    (True, 'SELECT 2')
    """
    folder, name = _folder(folder), _name(name)
    now = now_utc()

    def upsert(conn: Connection) -> Row:
        _guard(conn, owner, folder, name, administrator)
        other = conn.execute(
            select(_t.kind).where(_in(owner, folder), _t.name == name, _t.kind != kind)
        ).first()
        if other is not None:
            raise AnalysisExists(owner, folder, name, other.kind)
        stmt = upsert_insert(conn, saved_analysis).values(
            folder=folder.value,
            owner=owner,
            name=name,
            subject_area=subject_area,
            logical_sql=logical_sql,
            created_at=now,
            updated_at=now,
            kind=kind,
            spec=spec,
        )
        # The conflict target is the folder's partial unique index; both backends need its
        # WHERE restated to pick it. owner and created_at keep their first values.
        key = [_t.owner, _t.name] if folder is Folder.MY else [_t.name]
        stmt = stmt.on_conflict_do_update(
            index_elements=key,
            index_where=MY_FOLDER if folder is Folder.MY else SHARED_FOLDER,
            set_={
                "subject_area": stmt.excluded.subject_area,
                "logical_sql": stmt.excluded.logical_sql,
                "updated_at": stmt.excluded.updated_at,
                "spec": stmt.excluded.spec,
            },
        )
        return conn.execute(stmt.returning(*saved_analysis.c)).one()

    return _analysis(store.write(upsert))


def get_analysis(
    store: Store, owner: str, name: str, folder: Folder | str = Folder.MY
) -> SavedAnalysis:
    """The analysis `name` in `owner`'s My Folder, or in Shared.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     _ = save_analysis(store, "bob", "Churn", "SELECT 3", "Retail", folder="shared")
    ...     get_analysis(store, "alice", "Churn", folder="shared").owner
    'bob'
    """
    folder = _folder(folder)

    def find(conn: Connection) -> Row:
        row = conn.execute(
            select(saved_analysis).where(_in(owner, folder), _t.name == name)
        ).one_or_none()
        if row is None:
            raise AnalysisNotFound(owner, folder, name, _names(conn, owner, folder))
        return row

    return _analysis(store.read(find))


def list_analyses(store: Store, owner: str) -> list[SavedAnalysis]:
    """What `owner` sees in the catalog: their My Folder, then Shared, each by name.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     for who, name, folder in [("alice", "b", "my"), ("alice", "A", "my"),
    ...                               ("bob", "c", "my"), ("bob", "d", "shared")]:
    ...         _ = save_analysis(store, who, name, "SELECT 1", "Retail", folder=folder)
    ...     [(a.folder.value, a.name) for a in list_analyses(store, "alice")]
    [('my', 'A'), ('my', 'b'), ('shared', 'd')]
    """
    query = select(saved_analysis).where(or_(_in(owner, Folder.MY), _in(owner, Folder.SHARED)))
    analyses = [_analysis(row) for row in store.read(lambda conn: conn.execute(query).all())]
    # Sorted here, not in SQL: SQLite and PostgreSQL collate text differently.
    return sorted(analyses, key=lambda a: (a.folder is not Folder.MY, a.name.casefold(), a.name))


def all_analyses(store: Store) -> list[SavedAnalysis]:
    """Every saved analysis of every user (for a model change's impact, not for the catalog)."""
    rows = store.read(lambda conn: conn.execute(select(saved_analysis)).all())
    return sorted((_analysis(r) for r in rows), key=lambda a: (a.owner, a.folder, a.name))


def rename_analysis(
    store: Store,
    owner: str,
    name: str,
    new_name: str,
    folder: Folder | str = Folder.MY,
    administrator: bool = False,
) -> SavedAnalysis:
    """Give an analysis a new name within its folder; the name must be free there.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     _ = save_analysis(store, "alice", "Draft", "SELECT 1", "Retail")
    ...     rename_analysis(store, "alice", "Draft", "Revenue").name
    'Revenue'
    """
    folder, new_name = _folder(folder), _name(new_name)

    def rename(conn: Connection) -> Row:
        _guard(conn, owner, folder, name, administrator)
        stmt = (
            update(saved_analysis)
            .where(_in(owner, folder), _t.name == name)
            .values(name=new_name, updated_at=now_utc())
            .returning(*saved_analysis.c)
        )
        row = conn.execute(stmt).one_or_none()
        if row is None:
            raise AnalysisNotFound(owner, folder, name, _names(conn, owner, folder))
        return row

    try:
        return _analysis(store.write(rename))
    except IntegrityError as error:
        raise AnalysisExists(owner, folder, new_name) from error


def delete_analysis(
    store: Store,
    owner: str,
    name: str,
    folder: Folder | str = Folder.MY,
    administrator: bool = False,
) -> None:
    """Delete an analysis.

    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     _ = save_analysis(store, "alice", "Old", "SELECT 1", "Retail")
    ...     delete_analysis(store, "alice", "Old")
    ...     list_analyses(store, "alice")
    []
    """
    folder = _folder(folder)

    def remove(conn: Connection) -> None:
        _guard(conn, owner, folder, name, administrator)
        result = conn.execute(delete(saved_analysis).where(_in(owner, folder), _t.name == name))
        if result.rowcount == 0:
            raise AnalysisNotFound(owner, folder, name, _names(conn, owner, folder))

    store.write(remove)


def mark_run(
    store: Store,
    owner: str,
    name: str,
    folder: Folder | str = Folder.MY,
    at: datetime | None = None,
) -> None:
    """Record that an analysis was run (now, unless `at` says when).

    >>> from datetime import UTC, datetime
    >>> from store.connect import open_store
    >>> with open_store("sqlite://") as store:
    ...     _ = save_analysis(store, "alice", "Revenue", "SELECT 1", "Retail")
    ...     mark_run(store, "alice", "Revenue", at=datetime(2026, 3, 1, tzinfo=UTC))
    ...     get_analysis(store, "alice", "Revenue").last_run_at.isoformat()
    '2026-03-01T00:00:00+00:00'
    """
    folder, when = _folder(folder), at or now_utc()

    def touch(conn: Connection) -> None:
        stmt = update(saved_analysis).where(_in(owner, folder), _t.name == name)
        if conn.execute(stmt.values(last_run_at=when)).rowcount == 0:
            raise AnalysisNotFound(owner, folder, name, _names(conn, owner, folder))

    store.write(touch)


def _in(owner: str, folder: Folder) -> ColumnElement[bool]:
    # Shared is one folder for everyone: the owner does not narrow it.
    return MY_FOLDER & (_t.owner == owner) if folder is Folder.MY else SHARED_FOLDER


def _names(conn: Connection, owner: str, folder: Folder) -> list[str]:
    return list(conn.execute(select(_t.name).where(_in(owner, folder))).scalars())


def _label(owner: str, folder: Folder) -> str:
    return f"{owner}'s My Folder" if folder is Folder.MY else "Shared"


def _folder(value: Folder | str) -> Folder:
    try:
        return Folder(value)
    except ValueError:
        raise StrataError(
            f"unknown folder {value!r}\n  hint: a folder is 'my' (your own) or 'shared'"
        ) from None


def _name(name: str) -> str:
    if not name.strip():
        raise StrataError("an analysis needs a name\n  hint: give it one, e.g. 'Revenue by Region'")
    return name


def _analysis(row: Row) -> SavedAnalysis:
    values = dict(row._mapping)
    return SavedAnalysis(**{**values, "folder": Folder(values["folder"])})
