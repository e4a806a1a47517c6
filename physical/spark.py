"""Spark SQL through pyspark: physical SQL in, Arrow out.

Settings (the model's `connection:`, every value may read the environment):
`master` (default ``local[*]``, or ``spark://host:7077``), or `remote` for Spark Connect
(``sc://host:15002``); `parquet`, a folder holding ``<table>.parquet`` for each table of the
database, registered as temporary views when the backend opens (what `strata demo --target
spark` writes); `database`, a catalog database to read tables from instead.

One SparkContext serves a process: starting one costs seconds (notes/engines.md), and
pyspark keeps a single active context per process anyway. A backend reading a parquet folder
works in its own session of that context, so two databases' views of one name never meet.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from physical.backend import QueryError, register
from semantic.errors import StrataError

_lock = threading.Lock()


def session(master: str = "local[*]", remote: str | None = None, tmp: str | None = None):
    """The process's SparkSession, started on first use with settings for one machine.

    UI and progress bar off (no port, no noise), 2 shuffle partitions (the default 200 is
    for clusters), UTC, and the driver on loopback: this machine's hostname resolves to
    127.0.0.1, which otherwise makes Spark bind another address and warn.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise StrataError(
            "Spark needs pyspark: pip install -e '.[spark]' (and Java 17 or 21 on PATH)"
        ) from None
    # PySpark 4 logs a multi-kilobyte JSON trace for every failed query, even at ERROR.
    logging.getLogger("SQLQueryContextLogger").disabled = True
    with _lock:
        if remote:
            return SparkSession.builder.remote(remote).getOrCreate()
        builder = (
            SparkSession.builder.master(master)
            .appName("strata")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
        )
        if tmp:
            builder = builder.config("spark.local.dir", tmp).config(
                "spark.sql.warehouse.dir", f"{tmp}/warehouse"
            )
        try:
            spark = builder.getOrCreate()
        except Exception as e:  # Java missing or too old: py4j raises plain exceptions
            raise StrataError(
                f"cannot start Spark ({master}): {str(e).strip().splitlines()[0]}\n"
                "  hint: Spark 4 needs Java 17 or 21 on PATH (java -version)"
            ) from None
        spark.sparkContext.setLogLevel("ERROR")
        return spark


@register
class SparkBackend:
    dialect: ClassVar[str] = "spark"

    def __init__(self, name: str, settings: dict[str, str], tables: tuple[str, ...] = ()):
        self._name = name
        shared = session(settings.get("master", "local[*]"), settings.get("remote"))
        # Temporary views belong to a session: when this backend registers its own (a
        # parquet folder), a session of its own keeps them apart from another database's
        # views of the same name. Spark Connect sessions cannot fork, and are per client.
        own = settings.get("parquet") and not settings.get("remote")
        self._spark = shared.newSession() if own else shared
        if folder := settings.get("parquet"):
            self._register_parquet(Path(folder), tables)
        if database := settings.get("database"):
            try:
                self._spark.catalog.setCurrentDatabase(database)
            except Exception as e:
                raise StrataError(
                    f"database '{name}': Spark has no database '{database}': {_first(e)}"
                ) from None

    def _register_parquet(self, folder: Path, tables: tuple[str, ...]) -> None:
        if not folder.is_dir():
            raise StrataError(
                f"database '{self._name}': Parquet folder {folder} does not exist\n"
                "  hint: strata demo --target spark writes it"
            )
        files = {p.stem: p for p in folder.glob("*.parquet")}
        for table in tables or tuple(files):
            if table not in files:
                continue  # named at query time as a missing table, with the hint there
            frame = self._spark.read.parquet(str(files[table]))
            frame.createOrReplaceTempView(table)

    def run(self, sql: str) -> pa.Table:
        try:
            return self._spark.sql(sql).toArrow()
        except Exception as e:  # AnalysisException and friends share no useful base class
            raise QueryError(_query_error(self._name, e)) from None

    def rows(self, sql: str, params: dict) -> list[tuple]:
        """Modeler's SQL with `$name` parameters, bound by Spark as `:name` (never pasted)."""
        import re

        sql = re.sub(r"\$(\w+)", r":\1", sql)
        try:
            return [tuple(r) for r in self._spark.sql(sql, args=params).collect()]
        except Exception as e:
            raise QueryError(_query_error(self._name, e)) from None

    def version(self) -> str | None:
        return None  # files and catalogs change under us: never cache

    def close(self) -> None:
        pass  # the session is the process's, shared by every backend and test


def _first(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _query_error(name: str, error: Exception) -> str:
    first = _first(error)
    hint = ""
    if "TABLE_OR_VIEW_NOT_FOUND" in first:
        hint = (
            "\n  hint: the model names a table Spark does not have; "
            "check the connection's parquet folder or database"
        )
    return f"database '{name}' refused the query: {first}{hint}"
