"""Records held at import because they likely duplicate a customer: list and resolve them.

Resolving "same" merges the record into its candidate's entity (an ordinary merge, with its
audit row, so it can be undone); "distinct" makes it a customer of its own and remembers the
pair, so clustering never joins them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from customers.errors import CustomerError
from customers.hub import Hub
from customers.merge import DEFAULT_POLICY, MergeResult, _merge
from customers.review import mark_distinct
from customers.survivorship import Policy


@dataclass(frozen=True)
class HeldRecord:
    record_id: int
    candidate_record_id: int
    candidate_entity_id: int
    match_probability: float
    field_weights: tuple[tuple[str, float], ...]


def held_records(hub: Hub) -> tuple[HeldRecord, ...]:
    """Records waiting for a steward, the least certain first.

    >>> import tempfile, pathlib
    >>> from customers.hub import open_hub
    >>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
    ...     held_records(hub)
    ()
    """
    rows = hub.con.sql(
        "SELECT h.record_id, h.candidate_record_id, m.entity_id, h.match_probability,"
        " map_entries(h.field_weights) FROM held_record h"
        " JOIN entity_member m ON m.record_id = h.candidate_record_id"
        " WHERE h.status = 'pending' ORDER BY h.match_probability, h.record_id"
    ).fetchall()
    return tuple(
        HeldRecord(r, c, e, p, tuple((f["key"], f["value"]) for f in fields or ()))
        for r, c, e, p, fields in rows
    )


def resolve_held(
    hub: Hub, record_id: int, same: bool, user: str, policy: Policy = DEFAULT_POLICY
) -> MergeResult | None:
    """Resolve a held record: merge it into its candidate's entity, or make it a customer."""
    con = hub.con
    found = con.execute(
        "SELECT candidate_record_id FROM held_record WHERE record_id = $r AND status = 'pending'",
        {"r": record_id},
    ).fetchall()
    if not found:
        raise CustomerError(f"record {record_id} is not held for review")
    candidate = found[0][0]
    con.execute("BEGIN TRANSACTION")
    try:
        # First a customer of its own, so that a merge (and its unmerge) treat it like any other.
        con.execute("INSERT INTO entity_member VALUES ($r, $r)", {"r": record_id})
        con.execute(
            "UPDATE held_record SET status = $s WHERE record_id = $r",
            {"s": "merged" if same else "distinct", "r": record_id},
        )
        result = None
        if same:
            result = _merge(hub, (record_id, candidate), user, policy, "held at import")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if not same:
        mark_distinct(hub, [(record_id, candidate)], user)
    return result
