"""Stream a CSV file's rows as Arrow chunks, parsed by DuckDB, with row numbers and lines.

DuckDB's reader parses the file in C++ and hands over chunks of raw text columns c0..cN; the
whole file is never in memory. Each row gets its number (blank lines are not rows), the
physical line it starts on (counting blank lines and line breaks inside quoted fields), and
`_shape`, a reason when its field count differs from the header's. The file must be UTF-8:
`customers.importer` transcodes other encodings first, and finds the blank lines, whose
positions DuckDB does not report, in that same pass.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
>>> _ = p.write_text('Id,Name\\n1,"Amra\\nH."\\n\\n2\\n3,Ivo,x\\n')
>>> chunks = stream_csv(p, ",", 2, blank_lines=(4,))
>>> [c.to_pylist() for c in chunks]  # doctest: +NORMALIZE_WHITESPACE
[[{'c0': '1', 'c1': 'Amra\\nH.', '_row': 1, '_line': 2, '_shape': None},
  {'c0': '2', 'c1': None, '_row': 2, '_line': 5,
   '_shape': 'the row has 1 fields, the header has 2'},
  {'c0': '3', 'c1': 'Ivo', '_row': 3, '_line': 6,
   '_shape': 'the row has 3 fields, the header has 2'}]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXTRA = 4  # columns read past the header's, to count the fields of a row that has too many
# A null string no CSV holds: every field, empty or not, is text, and only the columns a
# short row lacks are NULL, which is how a missing field differs from an empty one.
_NO_NULL = "\x00\x01"


def stream_csv(
    path: Path,
    delimiter: str,
    width: int,
    *,
    blank_lines: Sequence[int] = (),
    skip: int = 0,
    size: int = 50_000,
    memory_limit: str = "48MB",
) -> Iterator[pa.Table]:
    """Chunks of at most `size` rows after the first `skip` rows of a UTF-8 file with a
    one-line header of `width` columns; `blank_lines` are the file's empty lines (1-based)."""
    con = duckdb.connect(config={"threads": 1, "memory_limit": memory_limit})
    con.execute("SET enable_progress_bar = false")  # the import reports its own progress
    try:
        names = [f"c{i}" for i in range(width + EXTRA)]
        present = " + ".join(f"({n} IS NOT NULL)::INT" for n in names)
        # Line breaks inside quoted fields, counted only where a field has one (a memchr).
        breaks = " + ".join(
            f"CASE WHEN CONTAINS({n}, chr(10)) THEN STRLEN({n}) - STRLEN(REPLACE({n}, chr(10), ''))"
            " ELSE 0 END"
            for n in names[:width]
        )
        # A line of spaces only is one short field: not a row either (the import's rule).
        blank = "c1 IS NULL AND TRIM(c0) = ''" if width > 1 else "TRIM(c0) = ''"
        query = (
            f"SELECT {', '.join(names[:width])}, {present} AS _fields, {breaks} AS _breaks,"
            f" COALESCE({blank}, FALSE) AS _blank FROM read_csv($path, delim = $delim,"
            " header = true, quote = '\"', escape = '\"', auto_detect = false,"
            " columns = $columns, null_padding = true, nullstr = $nullstr,"
            " strict_mode = false, parallel = false, buffer_size = 8388608)"
        )
        params = {
            "path": str(path),
            "delim": delimiter,
            "columns": {n: "VARCHAR" for n in names},
            "nullstr": _NO_NULL,
        }
        reader = con.sql(query, params=params).to_arrow_reader(size)
        blanks = np.asarray(sorted(blank_lines), dtype=np.int64)
        # A blank line j (1-based, in order) has blank_j - j non-blank lines before it.
        blanks_before = blanks - np.arange(1, len(blanks) + 1)
        ordinal, row, breaks_before = 0, 0, 0
        for batch in reader:
            n = batch.num_rows
            fields = batch.column("_fields").to_numpy(zero_copy_only=False)
            breaks = batch.column("_breaks").to_numpy(zero_copy_only=False)
            is_blank = batch.column("_blank").to_numpy(zero_copy_only=False)
            # Line among the non-blank lines: the header is line 1, a row's quoted line
            # breaks push the rows after it down.
            dense = 2 + ordinal + np.arange(n) + breaks_before + np.cumsum(breaks) - breaks
            lines = dense + np.searchsorted(blanks_before, dense, side="left")
            numbers = row + np.cumsum(~is_blank)
            ordinal += n
            breaks_before += int(breaks.sum())
            row = int(numbers[-1]) if n else row
            keep = ~is_blank & (numbers > skip)
            if not keep.any():
                continue
            # A reason for the few rows of the wrong shape only: most chunks have none.
            shape = np.full(n, None, dtype=object)
            for i in np.flatnonzero(fields != width):
                shape[i] = (
                    f"the row has at least {width + EXTRA} fields, the header has {width}"
                    if fields[i] == width + EXTRA
                    else f"the row has {fields[i]} fields, the header has {width}"
                )
            if keep.all():
                columns = {n: batch.column(n) for n in names[:width]}
            else:
                mask = pa.array(keep)
                columns = {n: pc.filter(batch.column(n), mask) for n in names[:width]}
            yield pa.table(
                columns
                | {
                    "_row": pa.array(numbers[keep], pa.int64()),
                    "_line": pa.array(lines[keep], pa.int64()),
                    "_shape": pa.array(shape[keep], pa.string()),
                }
            )
    finally:
        con.close()
