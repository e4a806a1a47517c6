"""Copy a DuckDB warehouse into another engine: PostgreSQL tables, or Parquet files for Spark.

DuckDB writes each table once (CSV streamed into PostgreSQL's COPY, then VACUUM ANALYZE,
or Parquet); the target gets the same column types (through sqlglot) and primary keys, so
the same model runs on it unchanged apart from its connection.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

from semantic.errors import StrataError


@dataclass(frozen=True)
class Loaded:
    target: str  # where the tables went (a URL without password, or a folder)
    tables: tuple[tuple[str, int], ...]  # (table, rows)


def load_into(source: Path, target: str, folder: Path | None = None) -> Loaded:
    """Copy every table of the DuckDB file `source` to `target`.

    `target` is a ``postgresql://`` URL (tables are replaced), or ``spark``: Parquet files
    ``<table>.parquet`` in `folder`, which a Spark database's `parquet` setting reads.

    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> with duckdb.connect(str(tmp / "w.duckdb")) as con:
    ...     _ = con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)")
    >>> load_into(tmp / "w.duckdb", "spark", tmp / "parquet").tables
    (('t', 1),)
    """
    if not Path(source).is_file():
        raise StrataError(f"no DuckDB warehouse at {source}")
    with duckdb.connect(str(source), read_only=True) as con:
        con.execute("SET enable_progress_bar = false")
        tables = tuple(
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name"
            ).fetchall()
        )
        if target == "spark":
            if folder is None:
                raise StrataError("loading for Spark needs a folder for the Parquet files")
            return _to_parquet(con, tables, Path(folder))
        if target.startswith(("postgres://", "postgresql://")):
            return _to_postgres(con, tables, target)
    raise StrataError(f"unknown target '{target}'; use postgresql://… or spark")


def _to_parquet(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], folder: Path) -> Loaded:
    folder.mkdir(parents=True, exist_ok=True)
    counts = []
    for table in tables:
        path = folder / f"{table}.parquet"
        con.execute(f"COPY {_quote(table)} TO {_path(path)} (FORMAT parquet)")
        counts.append((table, _count(con, table)))
    return Loaded(str(folder), tuple(counts))


def _to_postgres(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], url: str) -> Loaded:
    import psycopg

    from physical.postgres import _connect_error, _where

    try:
        pg = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=False)
    except psycopg.OperationalError as e:
        raise StrataError(_connect_error("target", _where({"url": url}), e)) from None
    counts = []
    with pg, tempfile.TemporaryDirectory() as tmp:
        for table in tables:
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
            keys = _primary_key(con, table)
            pg.execute(f"DROP TABLE IF EXISTS {_quote(table)} CASCADE")
            pg.execute(_create_table(table, columns, keys))
            csv = Path(tmp) / f"{table}.csv"
            con.execute(f"COPY {_quote(table)} TO {_path(csv)} (FORMAT csv, HEADER false)")
            names = ", ".join(_quote(c) for c, _ in columns)
            with (
                pg.cursor() as cursor,
                cursor.copy(f"COPY {_quote(table)} ({names}) FROM STDIN (FORMAT csv)") as copy,
                csv.open("rb") as f,
            ):
                while block := f.read(1 << 20):
                    copy.write(block)
            counts.append((table, _count(con, table)))
        pg.commit()
        # A bulk load leaves no planner statistics and no visibility map: the first
        # queries would plan blind and set hint bits while autovacuum catches up.
        pg.autocommit = True
        for table in tables:
            pg.execute(f"VACUUM (ANALYZE) {_quote(table)}")
    return Loaded(_where({"url": url}), tuple(counts))


def _create_table(table: str, columns: list[tuple[str, str]], keys: tuple[str, ...]) -> str:
    """DDL for PostgreSQL from DuckDB's column types, translated by sqlglot.

    >>> _create_table("t", [("id", "INTEGER"), ("v", "DECIMAL(10,2)")], ("id",))
    'CREATE TABLE "t" ("id" INT, "v" DECIMAL(10, 2), PRIMARY KEY ("id"))'
    """
    parts = [
        f"{_quote(name)} {exp.DataType.build(kind, dialect='duckdb').sql('postgres')}"
        for name, kind in columns
    ]
    if keys:
        parts.append(f"PRIMARY KEY ({', '.join(_quote(k) for k in keys)})")
    return f"CREATE TABLE {_quote(table)} ({', '.join(parts)})"


def _primary_key(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, ...]:
    found = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchall()
    return tuple(found[0][0]) if found else ()


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {_quote(table)}").fetchall()[0][0]


def _quote(name: str) -> str:
    # Names come from the DuckDB catalog, not from users; quoted for reserved words (date).
    return exp.to_identifier(name, quoted=True).sql("postgres")


def _path(path: Path) -> str:
    return exp.Literal.string(str(path)).sql("duckdb")
