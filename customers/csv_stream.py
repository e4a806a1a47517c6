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
[[{'_row': 1, '_line': 2, 'c0': '1', 'c1': 'Amra\\nH.', '_shape': None},
  {'_row': 2, '_line': 5, 'c0': '2', 'c1': None,
   '_shape': 'the row has 1 fields, the header has 2'},
  {'_row': 3, '_line': 6, 'c0': '3', 'c1': 'Ivo',
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
    select: str | None = None,
    quoted: bool = True,
    memory_limit: str = "48MB",
) -> Iterator[pa.Table]:
    """Chunks of at most `size` rows after the first `skip` rows of a UTF-8 file with a
    one-line header of `width` columns; `blank_lines` are the file's empty lines (1-based).

    `select` is SQL over `chunk` (the text columns c0.., the reason `_shape`, and `_breaks` and
    `_blank`, which it must give first, unchanged): the reader runs it in the same pass as it
    parses, and a chunk holds its columns after `_row` and `_line`. By default, the fields.
    `quoted=False` says the file holds no quote character, so no field holds a line break."""
    con = duckdb.connect(config={"threads": 1, "memory_limit": memory_limit})
    con.execute("SET enable_progress_bar = false")  # the import reports its own progress
    try:
        reader = con.sql(_query(width, select, quoted), params=_params(path, delimiter, width))
        reader = reader.to_arrow_reader(size)
        blanks = np.asarray(sorted(blank_lines), dtype=np.int64)
        # A blank line j (1-based, in order) has blank_j - j non-blank lines before it.
        blanks_before = blanks - np.arange(1, len(blanks) + 1)
        ordinal, row, breaks_before = 0, 0, 0
        for batch in reader:
            n = batch.num_rows
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
            names = batch.schema.names[2:]
            if keep.all():
                columns = {name: batch.column(name) for name in names}
            else:
                mask = pa.array(keep)
                columns = {name: pc.filter(batch.column(name), mask) for name in names}
            yield pa.table(
                {
                    "_row": pa.array(numbers[keep], pa.int64()),
                    "_line": pa.array(lines[keep], pa.int64()),
                }
                | columns
            )
    finally:
        con.close()


def _query(width: int, select: str | None, quoted: bool) -> str:
    names = [f"c{i}" for i in range(width + EXTRA)]
    # Only a missing field is NULL, and only at the end of a row: a row of the header's shape
    # has its last field and not the next; the others are counted.
    every = " + ".join(f"({n} IS NOT NULL)::INT" for n in names)
    fields = (
        f"CASE WHEN c{width - 1} IS NOT NULL AND c{width} IS NULL THEN {width} ELSE {every} END"
    )
    # Line breaks inside quoted fields, counted only where a field has one (a memchr), and
    # only in a file that has a quote at all.
    breaks = " + ".join(
        f"CASE WHEN CONTAINS({n}, chr(10)) THEN STRLEN({n}) - STRLEN(REPLACE({n}, chr(10), ''))"
        " ELSE 0 END"
        for n in names[:width]
    )
    breaks = breaks if quoted else "0"
    # A line of spaces only is one short field: not a row either (the import's rule).
    blank = "c1 IS NULL AND TRIM(c0) = ''" if width > 1 else "TRIM(c0) = ''"
    # The reason for a row of the wrong shape; past the columns read, "at least".
    shape = (
        f"CASE WHEN _fields = {width} THEN NULL"
        f" WHEN _fields = {width + EXTRA} THEN"
        f" 'the row has at least {width + EXTRA} fields, the header has {width}'"
        f" ELSE 'the row has ' || _fields || ' fields, the header has {width}' END"
    )
    source = (
        f"SELECT {', '.join(names[:width])}, {breaks} AS _breaks,"
        f" COALESCE({blank}, FALSE) AS _blank, {shape} AS _shape"
        f" FROM (SELECT *, {fields} AS _fields FROM read_csv($path, delim = $delim,"
        " header = true, quote = '\"', escape = '\"', auto_detect = false,"
        " columns = $columns, null_padding = true, nullstr = $nullstr,"
        " strict_mode = false, parallel = false, buffer_size = 8388608))"
    )
    select = select or f"SELECT _breaks, _blank, {', '.join(names[:width])}, _shape FROM chunk"
    return f"WITH chunk AS ({source}) {select}"


def _params(path: Path, delimiter: str, width: int) -> dict:
    return {
        "path": str(path),
        "delim": delimiter,
        "columns": {f"c{i}": "VARCHAR" for i in range(width + EXTRA)},
        "nullstr": _NO_NULL,
    }
