"""Fixtures that put the test models on PostgreSQL and Spark, real engines started here.

PostgreSQL: the throwaway cluster of store_fixtures.py, one database per model. Spark: one
local session for the whole test run (starting it costs seconds, notes/engines.md), reading
Parquet files that DuckDB wrote from the same data.
"""

from __future__ import annotations

import importlib.util
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from engine import Engine
from physical.load import load_into
from physical.retarget import retarget
from tests.store_fixtures import pg_server  # noqa: F401  (fixture)

_names = itertools.count(1)


def pg_database(server_url: str, prefix: str) -> str:
    """A new empty database on the test cluster; its plain postgresql:// URL."""
    name = f"{prefix}_{next(_names)}"
    base = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """The test run's SparkSession (local[2]), or a skip naming what is missing."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("Spark: pyspark is not installed (pip install -e '.[test]')")
    if shutil.which("java") is None:
        pytest.skip("Spark: no java on PATH (Spark 4 needs Java 17 or 21)")
    from physical.spark import session

    spark = session("local[2]", tmp=str(tmp_path_factory.mktemp("spark")))
    yield spark
    spark.stop()


def on_engine(
    engine: str, source: Path, model: Path, database: str, folder: Path, request
) -> Iterator[Engine]:
    """`model` (whose `database` reads the DuckDB file `source`) retargeted to `engine`."""
    if engine == "postgres":
        url = pg_database(request.getfixturevalue("pg_server"), folder.name)
        load_into(source, url)
        connection = {"url": url}
    else:
        request.getfixturevalue("spark")
        load_into(source, "spark", folder / "parquet")
        connection = {"master": "local[2]", "parquet": str(folder / "parquet")}
    opened = Engine.open(retarget(model, folder / "model", database, engine, connection))
    yield opened
    opened.close()
