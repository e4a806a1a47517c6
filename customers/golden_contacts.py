"""The hub's answer to "who is this customer, really?" for a list of source keys: the entity
each key's record belongs to, whether that record is the entity's survivor, and the golden
record's e-mail and phone (what a campaign should contact the person at).

A warehouse customer finds its hub record by source key: an export of the warehouse carries
the customer's key as `source_key` (see `customers.lookup.records_with_keys`). A key imported
more than once has several records; its oldest (lowest record id) speaks for it. A record
held for review belongs to no entity yet, so its key is not answered.

>>> import tempfile, pathlib
>>> from customers.hub import open_hub
>>> with open_hub(pathlib.Path(tempfile.mkdtemp()) / "h.duckdb") as hub:
...     golden_contacts(hub, ["EP-1"])
{}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from customers.hub import Hub


@dataclass(frozen=True)
class GoldenContact:
    key: str  # the source key asked about
    record_id: int  # its oldest hub record
    entity_id: int  # the entity that record belongs to (the surviving record's id)
    records: int  # records in the entity: more than one means duplicates were merged
    email: str | None  # the golden record's
    phone: str | None

    @property
    def survivor(self) -> bool:
        """This key's record is the one whose id the entity kept when it was merged."""
        return self.record_id == self.entity_id


def golden_contacts(hub: Hub, keys: Sequence[str]) -> dict[str, GoldenContact]:
    """source key -> its entity and golden contact data, for the keys the hub knows."""
    rows = hub.con.execute(
        "WITH asked AS (SELECT DISTINCT UNNEST($k) AS key),"
        " oldest AS (SELECT r.source_key AS key, MIN(r.record_id) AS record_id"
        "            FROM customer_record r JOIN asked a ON a.key = r.source_key"
        "            GROUP BY r.source_key)"
        " SELECT o.key, o.record_id, m.entity_id, g.records, g.email, g.phone"
        " FROM oldest o JOIN entity_member m USING (record_id)"
        " JOIN golden_record g USING (entity_id) ORDER BY o.key",
        {"k": [str(k) for k in keys]},
    ).fetchall()
    return {row[0]: GoldenContact(*row) for row in rows}
