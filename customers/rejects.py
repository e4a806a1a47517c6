"""Export an import batch's rejected rows as CSV: row number, line, reasons, original values.

>>> import tempfile, pathlib
>>> from customers.hub import open_hub
>>> from customers.importer import import_csv
>>> from customers.mapping import parse_mapping
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.csv").write_text("Id,Name\\n1,Amra\\n2,\\n")
>>> m = parse_mapping({"name": "m", "fields": {"first_name": {"column": "Name", "required": True}}})
>>> with open_hub(d / "hub.duckdb") as hub:
...     r = import_csv(hub, d / "a.csv", m)
...     export_rejects(hub, r.batch_id, d / "rejects.csv")
1
>>> print((d / "rejects.csv").read_text().strip())
row_number,line,reasons,Id,Name
2,3,first_name (Name) is required but empty,2,
"""

from __future__ import annotations

import csv
from pathlib import Path

from customers.errors import CustomerError
from customers.hub import Hub


def export_rejects(hub: Hub, batch_id: str, out: Path | str) -> int:
    """Write the batch's rejected rows to `out` (UTF-8 CSV); return how many."""
    found = hub.con.execute(
        "SELECT header FROM import_batch WHERE batch_id = $b", {"b": batch_id}
    ).fetchall()
    if not found:
        hint = "`strata customers batches` lists them"
        raise CustomerError(f"no import batch '{batch_id}'", hint)
    cursor = hub.con.execute(
        "SELECT row_number, line, ARRAY_TO_STRING(reasons, '; '), raw FROM staging"
        " WHERE batch_id = $b AND LEN(reasons) > 0 ORDER BY row_number",
        {"b": batch_id},
    )
    count = 0
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row_number", "line", "reasons", *found[0][0]])
        while rows := cursor.fetchmany(10_000):
            for row_number, line, reasons, raw in rows:
                writer.writerow([row_number, line, reasons, *raw])
            count += len(rows)
    return count
