"""Named mappings in the app store: save (replacing one of the same name), get, list.

>>> from store import open_store
>>> from customers.mapping import FieldMap, Mapping
>>> with open_store("sqlite://") as store:
...     save_mapping(store, Mapping("crm", (FieldMap("email", "Mail"),)), user="alice")
...     [m.name for m in list_mappings(store)], get_mapping(store, "crm").fields[0].column
(['crm'], 'Mail')
"""

from __future__ import annotations

import difflib
import json

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from customers.errors import MappingError
from customers.mapping import Mapping, mapping_json, parse_mapping
from store import Store
from store.schema import customer_mapping, now_utc


def save_mapping(store: Store, mapping: Mapping, user: str) -> None:
    """Save `mapping` under its name; an existing mapping of that name is replaced."""

    def work(conn: Connection) -> None:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        now = now_utc()
        statement = insert(customer_mapping).values(
            name=mapping.name,
            spec=mapping_json(mapping),
            saved_by=user,
            created_at=now,
            updated_at=now,
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[customer_mapping.c.name],
                set_={"spec": statement.excluded.spec, "saved_by": user, "updated_at": now},
            )
        )

    store.write(work)


def get_mapping(store: Store, name: str) -> Mapping:
    """The mapping saved as `name`; an unknown name is an error with the closest names."""
    row = store.read(
        lambda c: c.execute(
            select(customer_mapping.c.spec).where(customer_mapping.c.name == name)
        ).first()
    )
    if row is None:
        names = [m.name for m in list_mappings(store)]
        close = difflib.get_close_matches(name, names, n=1)
        raise MappingError(
            f"no saved mapping '{name}'" + (f"; did you mean '{close[0]}'?" if close else ""),
            "`strata customers mapping list` shows the saved ones",
        )
    return parse_mapping(json.loads(row.spec))


def list_mappings(store: Store) -> tuple[Mapping, ...]:
    """Every saved mapping, by name."""
    rows = store.read(
        lambda c: c.execute(select(customer_mapping.c.spec).order_by(customer_mapping.c.name)).all()
    )
    return tuple(parse_mapping(json.loads(r.spec)) for r in rows)
