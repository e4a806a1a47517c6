"""PostgreSQL through psycopg 3: physical SQL in, Arrow out.

Settings (the model's `connection:`, every value may read the environment): `url`
(``postgresql://user@host:port/db``), or `host`, `port`, `dbname`, `user`; `password`
only as ``${VAR}`` (`strata check` refuses a literal one; libpq also reads PGPASSWORD);
`sslmode`, `connect_timeout` (seconds, default 10) and `schema` (the search path).
"""

from __future__ import annotations

import re
import threading
from typing import ClassVar

import pyarrow as pa

from physical.backend import QueryError, register
from semantic.errors import StrataError

_KEYWORDS = ("host", "port", "dbname", "user", "password", "sslmode", "connect_timeout")


def conninfo(settings: dict[str, str]) -> str:
    """The libpq connection string for `settings`; the URL first, keywords override it.

    >>> conninfo({"url": "postgresql://bi@db:5432/warehouse", "password": "s3cret"})
    'postgresql://bi@db:5432/warehouse?password=s3cret&connect_timeout=10'
    >>> _where({"url": "postgresql://bi:s3cret@db:5432/warehouse"})
    'db:5432/warehouse'
    >>> conninfo({"host": "127.0.0.1", "dbname": "bi"})
    'host=127.0.0.1 dbname=bi connect_timeout=10'
    """
    from psycopg.conninfo import make_conninfo

    keywords = {k: settings[k] for k in _KEYWORDS if settings.get(k)}
    keywords.setdefault("connect_timeout", "10")
    url = settings.get("url", "").replace("postgresql+psycopg://", "postgresql://")
    if url:
        # make_conninfo would turn a URL into keywords; keep the URL the user wrote.
        joiner = "&" if "?" in url else "?"
        return url + joiner + "&".join(f"{k}={v}" for k, v in keywords.items())
    return make_conninfo(**keywords)


def _where(settings: dict[str, str]) -> str:
    """The server a connection goes to, for error messages (never the password)."""
    url = settings.get("url", "")
    if url:
        return re.sub(r"^[\w+]+://([^@/]*@)?", "", url)  # no scheme, user or password
    host, port = settings.get("host", "localhost"), settings.get("port", "5432")
    return f"{host}:{port}/{settings.get('dbname', '')}"


@register
class PostgresBackend:
    """One connection per thread, autocommit, session time zone UTC.

    UTC because `date_trunc` of a DATE returns a timestamp with time zone in the session's
    zone (notes/engines.md section 2); results are then typed by the model anyway.
    """

    dialect: ClassVar[str] = "postgres"

    def __init__(self, name: str, settings: dict[str, str]):
        self._name = name
        self._conninfo = conninfo(settings)
        self._where = _where(settings)
        self._schema = settings.get("schema")
        self._local = threading.local()
        self._connections: list = []
        self._connection()  # fail now, with a clear message, rather than at the first query

    def _connection(self):
        import psycopg

        connection = getattr(self._local, "connection", None)
        if connection is not None and not connection.closed:
            return connection
        try:
            connection = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.OperationalError as e:
            raise StrataError(_connect_error(self._name, self._where, e)) from None
        connection.execute("SET TIME ZONE 'UTC'")
        if self._schema:
            connection.execute("SELECT set_config('search_path', %s, false)", (self._schema,))
        self._local.connection = connection
        self._connections.append(connection)
        return connection

    def run(self, sql: str) -> pa.Table:
        import psycopg

        try:
            with self._connection().cursor() as cursor:
                cursor.execute(sql)
                names = [d.name for d in cursor.description]
                oids = [d.type_code for d in cursor.description]
                data = cursor.fetchall()
        except psycopg.Error as e:
            raise QueryError(_query_error(self._name, e)) from None
        columns = list(zip(*data, strict=True)) if data else [() for _ in names]
        # Types as the driver gives them (Decimal, date, datetime): the engine retypes the
        # table from the model, so every engine's answer has the same types. A column of
        # NULLs only (or no rows) gets the type PostgreSQL declared for it.
        arrays = []
        for values, oid in zip(columns, oids, strict=True):
            array = pa.array(list(values))
            if pa.types.is_null(array.type) and oid in _DECLARED:
                array = pa.nulls(len(array), _DECLARED[oid])
            arrays.append(array)
        return pa.table(arrays, names=_unique(names) if names else [])

    def rows(self, sql: str, params: dict) -> list[tuple]:
        """Modeler's SQL with `$name` parameters, bound by the driver (never pasted in)."""
        import psycopg

        sql = re.sub(r"\$(\w+)", r"%(\1)s", sql.replace("%", "%%"))
        try:
            with self._connection().cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except psycopg.Error as e:
            raise QueryError(_query_error(self._name, e)) from None

    def version(self) -> str | None:
        return None  # other writers change a server's tables at any time: never cache

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()


# PostgreSQL type OIDs (pg_type.oid, fixed for built-in types) and their Arrow types.
_DECLARED = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),  # numeric
    25: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def _unique(names: list[str]) -> list[str]:
    # Arrow accepts duplicate names; pandas would then return a frame per name.
    return [f"{n}_{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def _connect_error(name: str, where: str, error: Exception) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines()] or [type(error).__name__]
    text = lines[0].removeprefix("connection failed: ")
    lowered = str(error).lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = "check the user and the password variable the model's connection names"
    elif "does not exist" in lowered and "database" in lowered:
        hint = "check dbname (or the URL's path): the database does not exist on that server"
    elif "connection refused" in lowered or "timeout" in lowered or "could not" in lowered:
        hint = "check that the server is running and host and port are right"
    else:
        hint = "check the connection settings"
    return f"database '{name}': cannot connect to PostgreSQL at {where}: {text}\n  hint: {hint}"


def _query_error(name: str, error: Exception) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    hint = ""
    if getattr(error, "sqlstate", None) == "42P01":  # undefined_table
        hint = (
            "\n  hint: the model names a table this database does not have; "
            "load it (strata demo --target …) or fix the physical layer"
        )
    return f"database '{name}' refused the query: {first}{hint}"
