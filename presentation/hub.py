"""What the customer pages share: the hub, opened for one script run, and who may steward it.

The engine reads the hub file read-only for the "Data Quality" subject area; DuckDB refuses a
writer in the same process while that connection is open, so the engine lets go of it first
(and reopens it, seeing the new version, at its next request).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from customers.hub import Hub, default_hub_path, open_hub
from customers.quality import SUBJECT_AREA
from engine import Engine
from physical.settings import expand
from semantic.errors import StrataError


@contextmanager
def opened(eng: Engine) -> Iterator[Hub]:
    """The hub ($STRATA_DATA/customers.duckdb) open for this run, closed after it."""
    path = default_hub_path()
    release(eng)
    hub = open_hub(path)
    try:
        yield hub
    finally:
        hub.close()


def release(eng: Engine) -> None:
    """Make the engine let go of the hub file (it reopens it at its next request).

    Held between requests, the engine's read-only connection would keep every other process
    from writing the hub: an import from the CLI would wait and then fail.
    """
    path = default_hub_path()
    for database in eng.model.databases:
        settings = dict(database.connection)
        if database.dialect == "duckdb" and _same(settings.get("path"), path):
            eng.release(database.name)


def _same(setting: str | None, path: Path) -> bool:
    if not setting:
        return False
    try:
        return Path(expand(setting)).resolve() == path.resolve()
    except StrataError:  # an unset variable: not the hub
        return False


def may_steward(eng: Engine, user: str | None) -> bool:
    """Only users who may see the "Data Quality" subject area work on the hub: it has no row
    filter by area, so the model's permission on that area is the hub's permission too."""
    if SUBJECT_AREA in eng.subject_areas(user):
        return True
    st.info(
        f"Acting as **{eng.session(user).user}**, who may not see the "
        f'"{SUBJECT_AREA}" subject area: the customer hub is for data stewards.'
    )
    return False
