"""Compile time on a wide model: 100 measures and 50 dimension attributes, one request of 80.

The model is generated (five dimensions of ten attributes, one fact of 100 sums) into a
folder with a small DuckDB file, so the same request can also be checked against hand SQL.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.compile import compile_request
from engine.session import SYSTEM
from semantic.load import load_model

DIMENSIONS, ATTRIBUTES, MEASURES, ASKED = 5, 10, 100, 80
GOAL_MS = 50.0


@dataclass(frozen=True)
class ScaleCompile:
    measures: int  # in the model
    attributes: int  # dimension attributes in the model
    asked: int  # measures in the request
    compile_ms: float  # median
    sql_chars: int


def write_wide_model(folder: Path, rows: int = 50) -> Path:
    """Write the wide model and a DuckDB file of `rows` fact rows into `folder`.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     model = load_model(write_wide_model(Path(tmp)))
    >>> sum(len(t.columns) for t in model.logical_tables)
    150
    """
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "wide.duckdb"
    db.unlink(missing_ok=True)
    with duckdb.connect(str(db)) as con:
        for d in range(DIMENSIONS):
            attrs = ", ".join(f"'v' || (i % {a + 2}) AS a{a}" for a in range(ATTRIBUTES))
            con.execute(f"CREATE TABLE d{d} AS SELECT i AS id, {attrs} FROM range(10) t(i)")
        keys = ", ".join(f"(i * {d + 3}) % 10 AS d{d}_id" for d in range(DIMENSIONS))
        sums = ", ".join(f"(i * {m + 1}) % 97 + 0.25 AS m{m}" for m in range(MEASURES))
        con.execute(f"CREATE TABLE fact AS SELECT {keys}, {sums} FROM range({rows}) t(i)")
    tables = [
        f"      - name: d{d}\n        primary_key: id\n        columns: {{id: integer, "
        + ", ".join(f"a{a}: varchar" for a in range(ATTRIBUTES))
        + "}"
        for d in range(DIMENSIONS)
    ]
    fact_columns = [f"d{d}_id: integer" for d in range(DIMENSIONS)]
    fact_columns += [f"m{m}: double" for m in range(MEASURES)]
    tables.append("      - name: fact\n        columns: {" + ", ".join(fact_columns) + "}")
    joins = [f"      - {{from: fact.d{d}_id, to: d{d}.id}}" for d in range(DIMENSIONS)]
    (folder / "physical.yaml").write_text(
        "databases:\n  - name: wide\n    dialect: duckdb\n    connection:\n"
        f"      path: {db}\n    tables:\n"
        + "\n".join(tables)
        + "\n    joins:\n"
        + "\n".join(joins)
        + "\n"
    )
    logical = []
    for d in range(DIMENSIONS):
        columns = "\n".join(
            f"      - {{name: D{d} A{a}, expr: d{d}.a{a}}}" for a in range(ATTRIBUTES)
        )
        logical.append(f"  - name: D{d}\n    kind: dimension\n    columns:\n{columns}")
    measures = "\n".join(
        f"      - {{name: M{m}, expr: fact.m{m}, aggregation: sum}}" for m in range(MEASURES)
    )
    logical.append(f"  - name: Wide\n    kind: fact\n    columns:\n{measures}")
    (folder / "business.yaml").write_text("logical_tables:\n" + "\n".join(logical) + "\n")
    folders = [
        f"      - name: D{d}\n        columns: ["
        + ", ".join(f"D{d}.D{d} A{a}" for a in range(ATTRIBUTES))
        + "]"
        for d in range(DIMENSIONS)
    ]
    folders.append(
        "      - name: Facts\n        columns: ["
        + ", ".join(f"Wide.M{m}" for m in range(MEASURES))
        + "]"
    )
    (folder / "presentation.yaml").write_text(
        "subject_areas:\n  - name: Wide\n    folders:\n" + "\n".join(folders) + "\n"
    )
    return folder


def wide_request() -> str:
    """Two attributes of two dimensions and 80 of the 100 measures.

    >>> wide_request().count('"Facts"."M')
    80
    """
    measures = ", ".join(f'"Facts"."M{m}"' for m in range(ASKED))
    return f'SELECT "D0"."D0 A1", "D3"."D3 A2", {measures} FROM "Wide"'


def wide_hand_sql() -> str:
    """What an analyst would write for `wide_request`."""
    sums = ", ".join(f"sum(f.m{m})" for m in range(ASKED))
    return (
        f"SELECT d0.a1, d3.a2, {sums} FROM fact f "
        "LEFT JOIN d0 ON d0.id = f.d0_id LEFT JOIN d3 ON d3.id = f.d3_id GROUP BY d0.a1, d3.a2"
    )


def measure_compile_scale(folder: Path, repeat: int) -> ScaleCompile:
    """Median compile time of `wide_request` on the wide model written into `folder`."""
    model = load_model(write_wide_model(folder))
    text = wide_request()
    compiled = compile_request(text, model, SYSTEM)  # untimed: first-use caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        compile_request(text, model, SYSTEM)
        times.append((time.perf_counter() - t0) * 1000)
    attributes = DIMENSIONS * ATTRIBUTES
    return ScaleCompile(
        MEASURES, attributes, ASKED, statistics.median(times), len(compiled.query.sql)
    )
