"""The first rows of a file as a mapping would stage them, without writing anything.

>>> import tempfile, pathlib
>>> from customers.mapping import parse_mapping
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.csv").write_text("Name;Tel\\n amra ;061 111 222\\n")
>>> m = parse_mapping({"name": "m", "fields": {"first_name": {"column": "Name",
...     "transforms": ["trim", "title"]}, "phone": {"column": "Tel", "transforms": ["phone"]}}})
>>> preview(d / "a.csv", m)[["row_number", "first_name", "phone", "reasons"]].to_dict("records")
[{'row_number': 1, 'first_name': 'Amra', 'phone': '+38761111222', 'reasons': []}]
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from customers.importer import _chunks, _header
from customers.mapping import Mapping
from customers.sniff import sniff
from customers.stage import stage_sql


def preview(
    path: Path | str,
    mapping: Mapping,
    rows: int = 10,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> pd.DataFrame:
    """The first `rows` rows mapped, with each row's reasons (an empty list: accepted)."""
    path = Path(path)
    fmt = sniff(path, encoding or mapping.encoding, delimiter or mapping.delimiter)
    header = _header(path, fmt, mapping)
    # _header refused a file without rows, so there is a first chunk.
    chunk = next(_chunks(path, fmt, len(header), skip=0, size=rows))
    con = duckdb.connect()
    try:
        con.register("chunk", chunk)
        df = con.sql(f"SELECT * EXCLUDE (raw) FROM ({stage_sql(mapping, header)}) ORDER BY _row")
        df = df.df().rename(columns={"_row": "row_number", "_line": "line"})
    finally:
        con.close()
    df["reasons"] = df["reasons"].map(list)
    return df
