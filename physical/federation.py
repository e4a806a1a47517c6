"""Read the tables a federated query needs from their own databases, as Arrow.

A federated query runs on one DuckDB database; the tables it reads from another database
(the app store's campaign ledger, say) are fetched first, only the columns the query uses,
all of one database's tables in one consistent snapshot, and typed as the model declares
them. The DuckDB backend then registers them under the names the query's SQL reads.
Data moves one way: from the other databases into the DuckDB connection, for one query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from physical.types import arrow_type
from semantic.errors import StrataError


@dataclass(frozen=True)
class Fetch:
    """Columns of one table of another database that a federated query reads."""

    database: str  # the model database the table lives in
    dialect: str  # that database's dialect, to write the fetch's SELECT in
    table: str  # its name in that database, and the name the federated SQL reads it by
    schema: str | None
    columns: tuple[tuple[str, str], ...]  # (column, SQL type as the model declares it)

    @property
    def sql(self) -> str:
        """The SELECT that reads the columns, in the table's own dialect.

        >>> Fetch("store", "sqlite", "ledger", None, (("id", "integer"),)).sql
        'SELECT "id" FROM "ledger"'
        """
        select = exp.Select(
            expressions=[exp.column(name, quoted=True) for name, _ in self.columns],
            from_=exp.From(
                this=exp.Table(
                    this=exp.to_identifier(self.table, quoted=True),
                    db=exp.to_identifier(self.schema, quoted=True) if self.schema else None,
                )
            ),
        )
        return select.sql(dialect=self.dialect)


def fetch_tables(fetches: tuple[Fetch, ...], backend_of: Callable) -> dict[str, pa.Table]:
    """Run `fetches`, each database's in one snapshot; name -> Arrow table, model-typed.

    `backend_of(database)` gives the open backend of a model database. A backend with a
    `snapshot(sqls)` method reads its tables in one transaction (SQLite: one read of the WAL),
    so a ledger and its responses never come from two moments; others run one SELECT each.

    >>> import sqlite3, tempfile, pathlib
    >>> from physical.backend import SQLiteBackend
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.db"
    >>> with sqlite3.connect(path) as c:
    ...     _ = c.execute("CREATE TABLE ledger (id INTEGER, member_key TEXT, note TEXT)")
    ...     _ = c.execute("INSERT INTO ledger VALUES (1, '7', 'x')")
    >>> f = Fetch("store", "sqlite", "ledger", None, (("id", "integer"), ("member_key", "varchar")))
    >>> fetch_tables((f,), lambda db: SQLiteBackend(db, {"path": str(path)}))["ledger"].to_pylist()
    [{'id': 1, 'member_key': '7'}]
    """
    found: dict[str, pa.Table] = {}
    by_database: dict[str, list[Fetch]] = {}
    for fetch in fetches:
        by_database.setdefault(fetch.database, []).append(fetch)
    for database, group in by_database.items():
        backend = backend_of(database)
        sqls = tuple(f.sql for f in group)
        snapshot = getattr(backend, "snapshot", None)
        tables = snapshot(sqls) if snapshot else tuple(backend.run(s) for s in sqls)
        for fetch, table in zip(group, tables, strict=True):
            found[fetch.table] = _typed(fetch, table)
    return found


def _typed(fetch: Fetch, table: pa.Table) -> pa.Table:
    # A SQLite column is typed by its values (and NULL-only columns by none at all): the query
    # must see the types the model declares, whatever the rows hold today.
    arrays = []
    for (name, sql_type), column in zip(fetch.columns, table.columns, strict=True):
        target = arrow_type(sql_type) or pa.string()
        try:
            arrays.append(column.cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise StrataError(
                f"database '{fetch.database}': column '{fetch.table}.{name}' holds values that "
                f"are not {sql_type} as the model declares ({e})"
            ) from None
    return pa.table(arrays, names=[name for name, _ in fetch.columns])
