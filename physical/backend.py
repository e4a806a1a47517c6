"""Backends run physical SQL and return Arrow tables; each dialect registers one."""

from __future__ import annotations

import importlib
import re
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Protocol

import duckdb
import pyarrow as pa

from physical.settings import expand
from semantic.errors import StrataError
from semantic.model import Database


class Backend(Protocol):
    dialect: ClassVar[str]

    def run(self, sql: str) -> pa.Table: ...

    def rows(self, sql: str, params: dict) -> list[tuple]: ...

    def version(self) -> str | None:
        """Changes whenever the data may have changed; None: results must not be cached."""
        ...

    def close(self) -> None: ...


class QueryError(StrataError):
    """The database could not open or run a query that the engine compiled."""


BACKENDS: dict[str, type] = {}
_MODULES = {"postgres": "physical.postgres", "spark": "physical.spark"}


def register(cls: type) -> type:
    BACKENDS[cls.dialect] = cls
    return cls


def connect(database: Database) -> Backend:
    """Open the backend for a model's database.

    >>> from semantic.errors import SourceSpan
    >>> b = connect(Database("w", "duckdb", (("path", ":memory:"),), SourceSpan("p.yaml", 1, 1)))
    >>> b.run("SELECT 1 AS x").to_pylist()
    [{'x': 1}]
    """
    if database.dialect in _MODULES and database.dialect not in BACKENDS:
        # Server engines register on import: pyspark and psycopg load only when used.
        importlib.import_module(_MODULES[database.dialect])
    if database.dialect not in BACKENDS:
        raise StrataError(
            f"database '{database.name}' uses dialect '{database.dialect}', which has no backend "
            f"here; available: {', '.join(sorted(BACKENDS))}"
        )
    settings = {key: expand(value) for key, value in database.connection}
    return BACKENDS[database.dialect](database.name, settings)


@register
class DuckDBBackend:
    dialect: ClassVar[str] = "duckdb"

    def __init__(self, name: str, settings: dict[str, str]):
        path = settings.get("path", ":memory:")
        self._path = None if path == ":memory:" else Path(path)
        if path != ":memory:" and not Path(path).exists():
            hint = " (run `strata demo` to build it)" if Path(path).name == "demo.duckdb" else ""
            raise StrataError(f"database '{name}': file {path} does not exist{hint}")
        read_only = settings.get("read_only", "true").lower() != "false" and path != ":memory:"
        try:
            self._connection = duckdb.connect(path, read_only=read_only)
        except duckdb.Error as e:
            raise QueryError(f"database '{name}': cannot open {path}: {e}") from e
        # The file as this connection reads it. No process can write it while we hold it
        # open; a rebuild replaces it (a new inode), which this connection never sees.
        stat = self._path.stat() if self._path else None
        self._version = (
            f"{self._path.resolve()}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
            if stat
            else None
        )
        # One cursor per thread: a DuckDB connection must not be shared by concurrent threads
        # (Streamlit serves each session on its own thread).
        self._local = threading.local()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._connection.cursor()
        return cursor

    def run(self, sql: str, tables: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Run `sql`; `tables` (a federated query's fetched tables) are readable by their
        names for this query only.

        >>> b = DuckDBBackend("w", {})
        >>> b.run("SELECT COUNT(n) AS c FROM t", {"t": pa.table({"n": [1, 2]})}).to_pylist()
        [{'c': 2}]
        """
        cursor = self._cursor()
        try:
            # The cursor is this thread's own, so another thread's query never sees them.
            for name, table in (tables or {}).items():
                cursor.register(name, table)
            return cursor.sql(sql).to_arrow_table()
        except duckdb.Error as e:
            # The request compiled but the data refused it (a failed CAST, say): the user
            # needs DuckDB's reason, not a traceback.
            raise QueryError(f"the database refused the query: {str(e).splitlines()[0]}") from e
        finally:
            for name in tables or {}:
                cursor.unregister(name)

    def version(self) -> str | None:
        return self._version

    def rows(self, sql: str, params: dict) -> list[tuple]:
        """Run SQL written by the modeler with values bound as parameters ($name)."""
        try:
            return self._cursor().execute(sql, params).fetchall()
        except duckdb.Error as e:
            raise QueryError(f"the database refused the query: {str(e).splitlines()[0]}") from e

    def close(self) -> None:
        self._connection.close()


@register
class SQLiteBackend:
    """Read-only SQLite: the app store's query log answers the Usage subject area."""

    dialect: ClassVar[str] = "sqlite"

    def __init__(self, name: str, settings: dict[str, str]):
        self._path = Path(settings.get("path", ""))
        if not self._path.exists():
            raise StrataError(f"database '{name}': file {self._path} does not exist yet")
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            uri = f"file:{self._path.resolve()}?mode=ro"
            connection = self._local.connection = sqlite3.connect(uri, uri=True, timeout=10)
        return connection

    def run(self, sql: str) -> pa.Table:
        try:
            cursor = self._connection().execute(sql)
        except sqlite3.Error as e:
            raise QueryError(f"the database refused the query: {e}") from e
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({n: pa.array(list(c)) for n, c in zip(names, columns, strict=True)})

    def snapshot(self, sqls: tuple[str, ...]) -> tuple[pa.Table, ...]:
        """Run `sqls` in one read transaction: in WAL mode they all see the same commit, so
        a ledger and its responses are never read at two moments of a running campaign."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            return tuple(self.run(sql) for sql in sqls)
        finally:
            connection.execute("ROLLBACK")  # read only: nothing to keep

    def rows(self, sql: str, params: dict) -> list[tuple]:
        sql = re.sub(r"\$(\w+)", r":\1", sql)  # $user, as DuckDB writes it, is :user here
        return self._connection().execute(sql, params).fetchall()

    def version(self) -> str | None:
        return None  # other processes write the store while we read it: never cache

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
