"""Fixtures that start real components: DuckDB files built from SQL, the demo warehouse."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from engine import Engine
from tests.engines_fixtures import pg_server, spark  # noqa: F401  (fixtures: PostgreSQL, Spark)

ROOT = Path(__file__).resolve().parent.parent
# The app store and the result cache live under $STRATA_DATA: never the developer's data/.
os.environ["STRATA_DATA"] = tempfile.mkdtemp(prefix="strata-test-")
os.environ.pop("STRATA_STORE_URL", None)
TINY = ROOT / "tests" / "models" / "tiny"
TOPN = ROOT / "tests" / "models" / "topn"
DEMO_CUSTOMERS = 3_000


def model_db(tmp_path_factory, model: Path, env: str) -> Path:
    """A fresh DuckDB file loaded with `model`/data.sql, its path in `$env` for the model."""
    path = tmp_path_factory.mktemp(model.name) / f"{model.name}.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute((model / "data.sql").read_text())
    os.environ[env] = str(path)
    return path


def opened(model: Path) -> Iterator[Engine]:
    """An engine on `model` for a fixture's lifetime, closed after it."""
    engine = Engine.open(model)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory) -> Path:
    return model_db(tmp_path_factory, TINY, "TINY_DB")


@pytest.fixture(scope="session")
def tiny(tiny_db) -> Engine:
    yield from opened(TINY)


@pytest.fixture(scope="session")
def topn_db(tmp_path_factory) -> Path:
    """tests/models/topn's DuckDB file: top-N rankings with a tie (tests/test_topn.py)."""
    return model_db(tmp_path_factory, TOPN, "TOPN_DB")


@pytest.fixture(scope="session")
def topn(topn_db) -> Engine:
    yield from opened(TOPN)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    from physical.demo import build_demo

    folder = tmp_path_factory.mktemp("demo")
    os.environ["STRATA_DATA"] = str(folder)
    return build_demo(folder / "demo.duckdb", customers=DEMO_CUSTOMERS, seed=7).path


@pytest.fixture(scope="session")
def demo(demo_db) -> Engine:
    engine = Engine.open(ROOT / "models" / "demo")
    yield engine
    engine.close()


def strata(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the `strata` command as a user would, from the repository root; `env` adds to
    the environment (e.g. STRATA_DATA=...)."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def hand(db: Path, sql: str) -> pd.DataFrame:
    """Run hand-written SQL on the same file the engine reads."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).df()


def rows(df: pd.DataFrame, ordered: bool = False) -> list[tuple]:
    """Rows as comparable tuples: numbers rounded, NULL/NaN as None, unordered rows sorted."""

    def norm(v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, (Decimal, float)):
            return round(float(v), 6)
        if hasattr(v, "item"):
            return norm(v.item())
        if isinstance(v, pd.Timestamp):
            return v.date() if v == v.normalize() else v.to_pydatetime()
        return v

    out = [tuple(norm(v) for v in row) for row in df.itertuples(index=False, name=None)]
    return out if ordered else sorted(out, key=lambda r: [(x is None, str(x)) for x in r])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under STRATA_NO_SKIPS=1 (set by .ci/run) a skip is a failure: CI installs every
    component, so a test that skips there has silently stopped testing anything."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("STRATA_NO_SKIPS") == "1"
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {report.longrepr}"
