"""Read-only questions the Streamlit pages ask of the hub: batches, the latest blocking
coverage, the audit history, an entity's members and golden values, records by source key.

The CLI answers the same questions with its own SQL; these return frames and dataclasses so
that the pages never write SQL.

>>> import tempfile, pathlib
>>> from customers.hub import open_hub
>>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
...     len(batches(hub)), len(history(hub)), latest_coverage(hub)
(0, 0, ())
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from customers.attributes import ATTRIBUTE_NAMES
from customers.dedupe import RuleCoverage
from customers.hub import Hub
from customers.survivorship import GoldenValue


def batches(hub: Hub) -> pd.DataFrame:
    """Every import batch with its counts, the newest first."""
    return hub.con.sql(
        "SELECT batch_id AS batch, status, rows_read AS read, accepted, rejected,"
        " held_for_review AS held, mapping_name AS mapping, source, encoding, delimiter, file,"
        " started_at, finished_at FROM import_batch ORDER BY started_at DESC"
    ).df()


def latest_coverage(hub: Hub) -> tuple[RuleCoverage, ...]:
    """The blocking-rule coverage of the newest match run (empty when none was counted)."""
    found = hub.con.execute(
        "SELECT coverage FROM match_run ORDER BY run_id DESC LIMIT 1"
    ).fetchall()
    return tuple(RuleCoverage(**c) for c in json.loads(found[0][0])) if found else ()


def history(hub: Hub, record_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Merges and unmerges, newest first; only those touching `record_ids` when given."""
    where = "" if record_ids is None else "WHERE len(list_intersect(record_ids, $r)) > 0"
    params = {} if record_ids is None else {"r": [int(r) for r in record_ids]}
    return hub.con.execute(
        "SELECT event_id AS event, happened_at, kind, entity_id AS entity, record_ids AS records,"
        f" user_name AS user, undone_by, note FROM merge_event {where} ORDER BY event_id DESC",
        params,
    ).df()


def entity_of(hub: Hub, record_ids: Sequence[int]) -> dict[int, int]:
    """record id -> the entity it belongs to (a held record belongs to none yet)."""
    return dict(
        hub.con.execute(
            "SELECT record_id, entity_id FROM entity_member WHERE record_id IN (SELECT UNNEST($r))",
            {"r": [int(r) for r in record_ids]},
        ).fetchall()
    )


def members(hub: Hub, entity_id: int) -> tuple[int, ...]:
    """The records of an entity, by record id."""
    rows = hub.con.execute(
        "SELECT record_id FROM entity_member WHERE entity_id = $e ORDER BY record_id",
        {"e": int(entity_id)},
    ).fetchall()
    return tuple(r for (r,) in rows)


def golden(hub: Hub, entity_id: int) -> tuple[GoldenValue, ...]:
    """The entity's golden values with provenance (record and rule); a single record is its
    own golden record, so its values come from it with the rule "single record"."""
    stored = hub.con.execute(
        "SELECT attribute, value, record_id, rule FROM golden_value WHERE entity_id = $e",
        {"e": int(entity_id)},
    ).fetchall()
    if stored:
        return tuple(GoldenValue(*row) for row in stored)
    record = members(hub, entity_id)
    if len(record) != 1:
        return ()
    values = hub.con.execute(
        "SELECT "
        + ", ".join(f"CAST({a} AS VARCHAR)" for a in ATTRIBUTE_NAMES)
        + " FROM customer_record WHERE record_id = $r",
        {"r": record[0]},
    ).fetchall()[0]
    return tuple(
        GoldenValue(a, v, record[0], "single record")
        for a, v in zip(ATTRIBUTE_NAMES, values, strict=True)
    )


def records_with_keys(hub: Hub, keys: Sequence[str]) -> tuple[int, ...]:
    """Records whose source key is one of `keys` (how a warehouse customer finds its hub
    records: an export of the warehouse carries the customer number as the source key)."""
    rows = hub.con.execute(
        "SELECT record_id FROM customer_record WHERE source_key IN (SELECT UNNEST($k))"
        " ORDER BY record_id",
        {"k": [str(k) for k in keys]},
    ).fetchall()
    return tuple(r for (r,) in rows)
