"""The Python API that the UI, the CLI and the tests share."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from engine.compile import compile_request
from physical.backend import Backend, connect
from semantic.load import load_model
from semantic.model import Model


@dataclass(frozen=True)
class Result:
    df: pd.DataFrame  # columns named as selected
    sql: str  # the physical SQL that ran
    logical_sql: str
    timings: tuple[tuple[str, float], ...]  # (stage, ms): parse ... execute, convert

    @property
    def rows(self) -> int:
        return len(self.df)

    def timing(self, stage: str) -> float:
        return dict(self.timings)[stage]


class Engine:
    """A loaded, checked model and lazily opened connections to its databases.

    >>> eng = Engine.open("models/demo")
    >>> print(eng.explain('SELECT "Customer"."Customer Type" FROM "Campaigns"', pretty=True))
    SELECT
      "f0"."d0" AS "Customer Type"
    FROM (
      SELECT
        "customer"."customer_type" AS "d0"
      FROM "customer" AS "customer"
      GROUP BY
        "customer"."customer_type"
    ) AS "f0"
    """

    def __init__(self, model: Model):
        self.model = model
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path = "models/demo") -> Engine:
        return cls(load_model(path))

    def explain(
        self,
        logical_sql: str,
        dialect: str | None = None,
        user: str | None = None,
        pretty: bool = False,
    ) -> str:
        """The physical SQL for `logical_sql`, without running it."""
        query = compile_request(logical_sql, self.model, dialect, user).query
        return query.pretty if pretty else query.sql

    def query(self, logical_sql: str, user: str | None = None) -> Result:
        compiled = compile_request(logical_sql, self.model, None, user)
        backend = self._backend(compiled.query.database)
        t0 = time.perf_counter()
        table = backend.run(compiled.query.sql)
        t1 = time.perf_counter()
        df = _frame(table, compiled.query.columns)
        t2 = time.perf_counter()
        timings = (*compiled.timings, ("execute", (t1 - t0) * 1000), ("convert", (t2 - t1) * 1000))
        return Result(df, compiled.query.sql, logical_sql, timings)

    def close(self) -> None:
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._backends.clear()

    def _backend(self, database: str) -> Backend:
        with self._lock:
            if database not in self._backends:
                self._backends[database] = connect(self.model.database(database))
            return self._backends[database]


def _frame(table: pa.Table, columns: tuple[str, ...]) -> pd.DataFrame:
    # Decimals would arrive as Python Decimal objects; analysts and charts want floats.
    fields = [
        pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema
    ]
    df = table.cast(pa.schema(fields)).to_pandas()
    df.columns = list(columns)
    return df
