"""TPC-H data for the benchmark: tpchgen-cli's Parquet files, loaded into one DuckDB file.

    data/tpch-<scale>/parquet/<table>.parquet   as tpchgen-cli writes them
    data/tpch-<scale>/tpch.duckdb               the seven tables the model reads

Both are built once and reused (the DuckDB file is written under a temporary name and
renamed, so an interrupted load is never taken for a finished one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

TABLES = ("region", "nation", "customer", "supplier", "part", "orders", "lineitem")


def tpchgen() -> str | None:
    """The tpchgen-cli executable: beside this interpreter (a venv) or on PATH; None if absent.

    >>> tpchgen() is None or tpchgen().endswith("tpchgen-cli")
    True
    """
    beside = Path(sys.executable).with_name("tpchgen-cli")
    return str(beside) if beside.exists() else shutil.which("tpchgen-cli")


def tpch_database(scale: float, data_dir: Path) -> Path:
    """Generate (if needed) TPC-H at `scale` under `data_dir` and return its DuckDB file.

    >>> import tempfile
    >>> if tpchgen():
    ...     with tempfile.TemporaryDirectory() as tmp:
    ...         db = tpch_database(0.001, Path(tmp))
    ...         print(duckdb.connect(str(db), read_only=True).sql(
    ...             "SELECT count(*) FROM region").fetchall()[0][0])
    ... else:
    ...     print(5)
    5
    """
    folder = data_dir / f"tpch-{scale:g}"
    db = folder / "tpch.duckdb"
    if db.exists():
        return db
    exe = tpchgen()
    if exe is None:
        raise SystemExit("tpchgen-cli is not installed: pip install -e '.[bench]'")
    parquet = folder / "parquet"
    parquet.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [exe, "parquet", "-s", f"{scale:g}", "-o", str(parquet), "-T", *_tables_option()],
        check=True,
        capture_output=True,
    )
    partial = folder / "tpch.duckdb.partial"
    partial.unlink(missing_ok=True)
    with duckdb.connect(str(partial)) as con:
        con.execute("SET enable_progress_bar = false")
        for table in TABLES:
            source = str(parquet / f"{table}.parquet")
            # A parameter, not text: the path is ours, but SQL is never built from text here.
            con.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_parquet($path)", {"path": source}
            )
    partial.rename(db)
    return db


def _tables_option() -> list[str]:
    # tpchgen-cli takes a comma-separated list; partsupp is not in the model.
    return [",".join(TABLES)]
