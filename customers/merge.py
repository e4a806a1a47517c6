"""Merge entities into one golden record, and undo a merge; every change is an audit row.

Entity ids are stable: a record starts as its own entity (the entity id is its record id), and
a merge keeps the id of the entity that holds the oldest record (earliest `customer_since`,
then the smallest record id), so ids that campaigns and reports saw survive later runs. Golden
values are stored for entities of two or more records; a single record is its own golden
record (the `golden_record` view shows both).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from customers.attributes import ATTRIBUTE_NAMES
from customers.errors import CustomerError
from customers.hub import Hub
from customers.survivorship import GoldenValue, Member, Policy, golden_record

DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class MergeResult:
    event_id: int
    entity_id: int
    record_ids: tuple[int, ...]
    golden: tuple[GoldenValue, ...]


def merge(
    hub: Hub,
    record_ids: Sequence[int],
    user: str,
    policy: Policy = DEFAULT_POLICY,
    note: str | None = None,
) -> MergeResult:
    """Merge the entities of `record_ids` (with all their members) into one."""
    con = hub.con
    con.execute("BEGIN TRANSACTION")
    try:
        result = _merge(hub, tuple(record_ids), user, policy, note)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def unmerge(hub: Hub, event_id: int, user: str, policy: Policy = DEFAULT_POLICY) -> int:
    """Undo merge `event_id`: its records return to the entities they had before it.

    Returns the id of the audit row that records the unmerge.
    """
    con = hub.con
    con.execute("BEGIN TRANSACTION")
    try:
        result = _unmerge(hub, event_id, user, policy)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _merge(hub, record_ids, user, policy, note) -> MergeResult:
    con = hub.con
    if len(set(record_ids)) < 2:
        raise CustomerError("a merge needs at least two records")
    known = con.execute(
        "SELECT record_id FROM customer_record WHERE record_id IN (SELECT UNNEST($ids))",
        {"ids": list(record_ids)},
    ).fetchall()
    unknown = sorted(set(record_ids) - {r[0] for r in known})
    if unknown:
        raise CustomerError(f"no customer record(s) {', '.join(map(str, unknown))}")
    held = con.execute(
        "SELECT record_id FROM customer_record WHERE record_id IN (SELECT UNNEST($ids))"
        " AND record_id NOT IN (SELECT record_id FROM entity_member) ORDER BY record_id",
        {"ids": list(record_ids)},
    ).fetchall()
    if held:
        raise CustomerError(
            f"record(s) {', '.join(str(r[0]) for r in held)} are held for review",
            "resolve them first: strata customers resolve ID --same | --distinct",
        )
    members = con.execute(
        "SELECT m.record_id, m.entity_id FROM entity_member m"
        " WHERE m.entity_id IN (SELECT entity_id FROM entity_member"
        "                       WHERE record_id IN (SELECT UNNEST($ids)))"
        " ORDER BY m.record_id",
        {"ids": list(record_ids)},
    ).fetchall()
    entities = {entity for _, entity in members}
    if len(entities) < 2:
        raise CustomerError(f"records {', '.join(map(str, record_ids))} are one entity already")
    [(survivor,)] = con.execute(
        "SELECT m.entity_id FROM entity_member m JOIN customer_record r USING (record_id)"
        " WHERE m.entity_id IN (SELECT UNNEST($e))"
        " ORDER BY r.customer_since NULLS LAST, r.record_id LIMIT 1",
        {"e": sorted(entities)},
    ).fetchall()
    all_records = [record for record, _ in members]
    previous = {str(record): entity for record, entity in members}
    con.execute(
        "UPDATE entity_member SET entity_id = $s WHERE record_id IN (SELECT UNNEST($r))",
        {"s": survivor, "r": all_records},
    )
    con.execute(
        "DELETE FROM golden_value WHERE entity_id IN (SELECT UNNEST($e))",
        {"e": sorted(entities)},
    )
    golden = _write_golden(hub, survivor, policy)
    event_id = _audit(hub, "merge", survivor, all_records, previous, user, note)
    return MergeResult(event_id, survivor, tuple(all_records), golden)


def _unmerge(hub, event_id, user, policy) -> int:
    con = hub.con
    found = con.execute(
        "SELECT kind, record_ids, previous, undone_by FROM merge_event WHERE event_id = $e",
        {"e": event_id},
    ).fetchall()
    if not found or found[0][0] != "merge":
        raise CustomerError(f"no merge with event id {event_id}", "`strata customers history`")
    _, record_ids, previous, undone_by = found[0]
    if undone_by is not None:
        raise CustomerError(f"merge {event_id} was undone already (event {undone_by})")
    later = con.execute(
        "SELECT event_id FROM merge_event WHERE kind = 'merge' AND undone_by IS NULL"
        " AND event_id > $e AND len(list_intersect(record_ids, $r)) > 0 ORDER BY event_id",
        {"e": event_id, "r": record_ids},
    ).fetchall()
    if later:
        raise CustomerError(
            f"merge {event_id} was followed by merge {later[-1][0]} of some of its records",
            f"unmerge {later[-1][0]} first",
        )
    restored = {int(record): entity for record, entity in json.loads(previous).items()}
    [(current,)] = con.execute(
        "SELECT entity_id FROM entity_member WHERE record_id = $r", {"r": record_ids[0]}
    ).fetchall()
    for entity in sorted(set(restored.values())):
        records = [r for r, e in restored.items() if e == entity]
        con.execute(
            "UPDATE entity_member SET entity_id = $e WHERE record_id IN (SELECT UNNEST($r))",
            {"e": entity, "r": records},
        )
    con.execute("DELETE FROM golden_value WHERE entity_id = $e", {"e": current})
    for entity in sorted(set(restored.values())):
        _write_golden(hub, entity, policy)
    undo_id = _audit(hub, "unmerge", current, record_ids, {}, user, f"undoes merge {event_id}")
    con.execute(
        "UPDATE merge_event SET undone_by = $u WHERE event_id = $e",
        {"u": undo_id, "e": event_id},
    )
    return undo_id


def _write_golden(hub: Hub, entity_id: int, policy: Policy) -> tuple[GoldenValue, ...]:
    con = hub.con
    values = ", ".join(f"CAST(r.{a} AS VARCHAR)" for a in ATTRIBUTE_NAMES)
    rows = con.execute(
        f"SELECT r.record_id, r.source, {values}"
        " FROM customer_record r JOIN entity_member m USING (record_id)"
        " WHERE m.entity_id = $e ORDER BY r.record_id",
        {"e": entity_id},
    ).fetchall()
    if len(rows) < 2:
        return ()  # a single record is its own golden record
    members = tuple(
        Member(row[0], row[1], row[0], dict(zip(ATTRIBUTE_NAMES, row[2:], strict=True)))
        for row in rows
    )
    golden = golden_record(members, policy)
    con.executemany(
        "INSERT INTO golden_value VALUES (?, ?, ?, ?, ?)",
        [(entity_id, g.attribute, g.value, g.record_id, g.rule) for g in golden],
    )
    return golden


def _audit(hub, kind, entity_id, record_ids, previous, user, note) -> int:
    [(event_id,)] = hub.con.execute(
        "SELECT COALESCE(MAX(event_id), 0) + 1 FROM merge_event"
    ).fetchall()
    hub.con.execute(
        "INSERT INTO merge_event VALUES ($id, $t, $k, $e, $r, $p, NULL, $u, $n)",
        {
            "id": event_id,
            "t": datetime.now(UTC),
            "k": kind,
            "e": entity_id,
            "r": list(record_ids),
            "p": json.dumps(previous, sort_keys=True),
            "u": user,
            "n": note,
        },
    )
    return event_id
