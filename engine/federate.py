"""Which tables of other databases a compiled query reads, and which of their columns.

Oracle BI's server joins across databases by reading each side from its own database. Strata
does it one way: a query whose tables span databases runs on the DuckDB database that the
others are federated into (a physical join with `to_database`), and the tables of the other
databases are fetched first (physical/federation.py) and registered on the DuckDB connection
under the names the SQL reads. This module only decides what to fetch; it touches no data.
"""

from __future__ import annotations

from sqlglot import exp

from physical.federation import Fetch
from semantic.model import Model


def federate(tree: exp.Select, database: str, model: Model) -> tuple[Fetch, ...]:
    """The fetches `tree` needs to run on `database`: one per table of another database,
    with just the columns the query reads. Those tables lose their schema in `tree` (in
    place), since they are read by their bare name on the DuckDB connection.

    >>> from sqlglot import parse_one
    >>> from semantic import load_model
    >>> m = load_model("tests/models/federated")
    >>> tree = parse_one('SELECT COUNT(ledger.id) FROM ledger AS ledger LEFT JOIN customer '
    ...     'AS customer ON customer.customer_id = ledger.member_key GROUP BY customer.kind')
    >>> [(f.database, f.table, f.columns) for f in federate(tree, "warehouse", m)]
    [('store', 'ledger', (('id', 'integer'), ('member_key', 'varchar')))]
    """
    used: dict[str, set[str]] = {}
    for column in tree.find_all(exp.Column):
        if column.table:
            used.setdefault(column.table, set()).add(column.name)
    handles = {t.name: t for t in model.tables}
    found: dict[tuple[str, str | None, str], dict[str, str]] = {}
    for node in tree.find_all(exp.Table):
        handle = node.alias_or_name
        table = handles.get(handle)
        if table is None or table.database == database:
            continue
        physical = next(
            (
                t
                for t in model.tables
                if t.database == table.database
                and t.table == node.name
                and (t.schema or None) == (node.db or None)
            ),
            table,
        )
        node.set("db", None)
        types = dict(physical.columns)
        # A query that reads no column of the table (COUNT(*)) still needs its rows.
        names = used.get(handle) or set(physical.primary_key[:1] or physical.column_names()[:1])
        columns = found.setdefault((table.database, physical.schema, physical.table), {})
        for name in physical.column_names():
            if name in names:
                columns[name] = types[name]
    dialects = {d.name: d.dialect for d in model.databases}
    return tuple(
        Fetch(db, dialects[db], name, schema, tuple(columns.items()))
        for (db, schema, name), columns in found.items()
    )


def fetch_notes(fetches: tuple[Fetch, ...], database: str) -> str:
    """SQL comment lines saying which tables a federated query reads from which database
    ("" for a query of one database), printed by `strata explain` above the SQL.

    >>> print(fetch_notes((Fetch("store", "sqlite", "ledger", None, (("id", "integer"),)),),
    ...     "warehouse"), end="")
    -- federated: runs on 'warehouse' after reading these tables into it
    --   from 'store' (sqlite): ledger (id)
    """
    if not fetches:
        return ""
    lines = [f"-- federated: runs on '{database}' after reading these tables into it"]
    for fetch in fetches:
        columns = ", ".join(name for name, _ in fetch.columns)
        lines.append(f"--   from '{fetch.database}' ({fetch.dialect}): {fetch.table} ({columns})")
    return "\n".join(lines) + "\n"
