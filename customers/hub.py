"""The customer hub: one DuckDB file with staging, records, entities and their history.

It is a file of its own (default `$STRATA_DATA/customers.duckdb`), not the warehouse: an
import writes while the app reads the warehouse, and DuckDB lets one process write a file only
when no other has it open. The "Data Quality" subject area reads it read-only.

>>> import tempfile, pathlib
>>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "hub.duckdb") as hub:
...     hub.con.sql("SELECT count(*) FROM customer_record").fetchall()
[(0,)]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import duckdb

from customers.attributes import ATTRIBUTES, Kind
from customers.errors import CustomerError
from physical.settings import data_folder

DEFAULT_FILE = "customers.duckdb"
# DuckDB lets one process write a file only when no other process has it open, even read-only.
# A page that lists batches holds its read-only connection for milliseconds; a writer that
# meets it waits this long (backing off) rather than failing the import.
LOCK_WAIT_S = 30.0


# Values that are one per person: DuckDB's default for text, a dictionary with FSST, finds
# nothing to share in them and took twice zstd's CPU to write (0.55 against 0.26 s a million
# e-mails, one thread). zstd makes a million records' file 49 MB instead of 41, and reads them
# as fast (distinct counts, LIKE, equality).
_ZSTD = frozenset({"source_key", "email", "phone"})


def _columns() -> str:
    return ", ".join(
        f"{a.name} DATE"
        if a.kind is Kind.DATE
        else f"{a.name} VARCHAR" + (" USING COMPRESSION zstd" if a.name in _ZSTD else "")
        for a in ATTRIBUTES.values()
    )


# `customer_record` and `entity_member` have no primary key: record ids are handed out by the
# import alone (one more than the largest, under `import_lock`; DuckDB's file lock keeps other
# processes out), and the two indexes cost a CPU second per million imported rows, a sixth of
# the import, and memory that only a checkpoint frees.
_DDL = f"""
CREATE TABLE IF NOT EXISTS import_batch (
    batch_id VARCHAR PRIMARY KEY, file VARCHAR NOT NULL, file_size BIGINT, file_mtime_ns BIGINT,
    mapping_name VARCHAR, mapping_json VARCHAR NOT NULL, source VARCHAR NOT NULL,
    encoding VARCHAR NOT NULL, delimiter VARCHAR NOT NULL, header VARCHAR[] NOT NULL,
    status VARCHAR NOT NULL, rows_read BIGINT NOT NULL DEFAULT 0,
    accepted BIGINT NOT NULL DEFAULT 0, rejected BIGINT NOT NULL DEFAULT 0,
    held_for_review BIGINT NOT NULL DEFAULT 0,
    started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS staging (
    batch_id VARCHAR NOT NULL, row_number BIGINT NOT NULL, line BIGINT NOT NULL,
    reasons VARCHAR[] NOT NULL, raw VARCHAR[]
);
CREATE TABLE IF NOT EXISTS customer_record (
    record_id BIGINT NOT NULL, batch_id VARCHAR NOT NULL, row_number BIGINT NOT NULL,
    source VARCHAR NOT NULL, {_columns()}, email_valid BOOLEAN, phone_valid BOOLEAN,
    imported_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS entity_member (
    record_id BIGINT NOT NULL, entity_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS golden_value (
    entity_id BIGINT NOT NULL, attribute VARCHAR NOT NULL, value VARCHAR,
    record_id BIGINT, rule VARCHAR NOT NULL,
    PRIMARY KEY (entity_id, attribute)
);
CREATE TABLE IF NOT EXISTS merge_event (
    event_id BIGINT PRIMARY KEY, happened_at TIMESTAMPTZ NOT NULL, kind VARCHAR NOT NULL,
    entity_id BIGINT NOT NULL, record_ids BIGINT[] NOT NULL, previous VARCHAR NOT NULL,
    undone_by BIGINT, user_name VARCHAR NOT NULL, note VARCHAR
);
CREATE TABLE IF NOT EXISTS match_run (
    run_id BIGINT PRIMARY KEY, ran_at TIMESTAMPTZ NOT NULL, records BIGINT NOT NULL,
    pairs BIGINT NOT NULL, model_json VARCHAR NOT NULL, coverage VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS match_pair (
    run_id BIGINT NOT NULL, record_id_l BIGINT NOT NULL, record_id_r BIGINT NOT NULL,
    match_probability DOUBLE NOT NULL, match_weight DOUBLE NOT NULL,
    field_weights DOUBLE[]
);
CREATE TABLE IF NOT EXISTS review_decision (
    record_id_l BIGINT NOT NULL, record_id_r BIGINT NOT NULL, decision VARCHAR NOT NULL,
    happened_at TIMESTAMPTZ NOT NULL, user_name VARCHAR NOT NULL,
    PRIMARY KEY (record_id_l, record_id_r)
);
CREATE TABLE IF NOT EXISTS held_record (
    record_id BIGINT PRIMARY KEY, candidate_record_id BIGINT NOT NULL,
    match_probability DOUBLE NOT NULL, field_weights MAP(VARCHAR, DOUBLE),
    status VARCHAR NOT NULL
);
"""


def _golden_view() -> str:
    def pick(a) -> str:
        value = f"MAX(g.value) FILTER (g.attribute = '{a.name}')"
        return (
            f"CAST({value} AS DATE) AS {a.name}" if a.kind is Kind.DATE else f"{value} AS {a.name}"
        )

    names = ", ".join(f"r.{a}" for a in ATTRIBUTES)
    return f"""
CREATE OR REPLACE VIEW golden_record AS
WITH sizes AS (SELECT entity_id, COUNT(*) AS records FROM entity_member GROUP BY entity_id)
SELECT m.entity_id, 1 AS records, {names}
FROM entity_member m JOIN sizes s USING (entity_id) JOIN customer_record r USING (record_id)
WHERE s.records = 1
UNION ALL
SELECT g.entity_id, s.records, {", ".join(pick(a) for a in ATTRIBUTES.values())}
FROM golden_value g JOIN sizes s USING (entity_id)
GROUP BY g.entity_id, s.records
"""


# Views the "Data Quality" subject area (models/demo/data_quality.yaml) reads as tables.
_QUALITY_VIEWS = """
CREATE OR REPLACE VIEW entity_size AS
SELECT entity_id, COUNT(*) AS records FROM entity_member GROUP BY entity_id;
CREATE OR REPLACE VIEW latest_pair AS
SELECT record_id_l, record_id_r, match_probability, match_weight,
       CASE WHEN match_probability >= 0.99 THEN 'certain'
            WHEN match_probability >= 0.9 THEN 'probable'
            WHEN match_probability >= 0.5 THEN 'possible'
            ELSE 'unlikely' END AS severity
FROM match_pair WHERE run_id = (SELECT MAX(run_id) FROM match_run);
"""


def default_hub_path() -> Path:
    """Where the hub lives: $STRATA_DATA (default data/) / customers.duckdb.

    >>> default_hub_path().name
    'customers.duckdb'
    """
    return data_folder() / DEFAULT_FILE


_IMPORT_LOCKS: dict[Path, threading.Lock] = {}
_IMPORT_LOCKS_GUARD = threading.Lock()


def import_lock(path: Path) -> threading.Lock:
    """The lock an import holds on the hub file at `path`, in this process.

    Connections of one process share the file (two app sessions, say), and an import takes
    record ids after the largest committed one: two at once would take the same ids.

    >>> import_lock(Path("a.duckdb")) is import_lock(Path("./a.duckdb"))
    True
    """
    with _IMPORT_LOCKS_GUARD:
        return _IMPORT_LOCKS.setdefault(path.resolve(), threading.Lock())


class HubBusy(CustomerError):
    """Another process holds the hub file, and did not let go of it in time."""


@dataclass(frozen=True)
class Hub:
    path: Path
    con: duckdb.DuckDBPyConnection

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_hub(path: Path | str | None = None, wait_s: float = LOCK_WAIT_S) -> Hub:
    """Open (creating if needed) the hub file for writing.

    Another process's connection to the file (a page reading it, another import) is waited
    out for up to `wait_s` seconds; after that the lock error is raised.
    """
    path = Path(path) if path else default_hub_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=False, wait_s=wait_s)
    con.execute(_DDL)
    _upgrade(con)
    # One row per entity: what campaigns and the "Data Quality" subject area read.
    con.execute(_golden_view())
    con.execute(_QUALITY_VIEWS)
    return Hub(path, con)


def _upgrade(con: duckdb.DuckDBPyConnection) -> None:
    # Hubs made before the run's weights became a list in the model's comparison order kept
    # them as a MAP per pair: building and storing ten keys per pair cost more CPU than
    # Splink's scoring of a million people. A MAP's values are in that same order.
    [(kind,)] = con.execute(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'match_pair' AND column_name = 'field_weights'"
    ).fetchall()
    if kind.startswith("MAP"):
        con.execute(
            "ALTER TABLE match_pair ALTER field_weights SET DATA TYPE DOUBLE[]"
            " USING map_values(field_weights)"
        )


def read_hub(path: Path | str | None = None, wait_s: float = 2.0) -> Hub | None:
    """Open the hub read-only, or None when there is none yet.

    A read-only connection takes no writer's lock, so other readers may open the file at the
    same time; hold it only as long as a read takes, since a writer waits for it. Tables are
    as the last writer left them (a file that `open_hub` created has them all).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> read_hub(folder / "hub.duckdb") is None
    True
    >>> open_hub(folder / "hub.duckdb").close()
    >>> with read_hub(folder / "hub.duckdb") as hub:
    ...     hub.con.sql("SELECT count(*) FROM import_batch").fetchall()
    [(0,)]
    """
    path = Path(path) if path else default_hub_path()
    if not path.exists():
        return None
    return Hub(path, _connect(path, read_only=True, wait_s=wait_s))


def _connect(path: Path, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    pause = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as e:
            # Worth waiting for: a lock another process holds (IOException), or this process
            # holding the file in the other mode (another session's import, the engine).
            text = str(e)
            if "lock" not in text.lower() and "different configuration" not in text:
                raise
            if time.monotonic() + pause > deadline:
                holder = (
                    "another process: " + text.split("held in ")[-1].split(". ")[0]
                    if "held in " in text
                    else "another connection of this process"
                )
                raise HubBusy(
                    f"{path}: the customer hub is in use by {holder}",
                    "an import or duplicate run is probably under way: try again when it ends",
                ) from e
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
