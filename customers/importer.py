"""Import a CSV file through a mapping: stream it in chunks into staging, promote accepted rows.

The file is read twice, in a bounded amount of memory: once in Python to check (and if need
be transcode to UTF-8) its encoding before anything is written, once by DuckDB's CSV reader
(`customers.csv_stream`), which runs the mapping's SQL (validate and clean) in the same pass, in
a thread of its own, while this thread writes the pieces it hands over. Each chunk is one
DuckDB transaction that writes its staging rows, its customer records and the batch's
counters together; a process killed mid-import leaves whole chunks only, and the
next run of the same file and mapping resumes after the last committed row.

>>> import tempfile, pathlib
>>> from customers.hub import open_hub
>>> from customers.mapping import parse_mapping
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.csv").write_text("Name,Mail\\nAmra,amra@x.ba\\n,bad@\\n")
>>> m = parse_mapping({"name": "m", "fields": {
...     "first_name": {"column": "Name", "required": True},
...     "email": {"column": "Mail", "transforms": ["email"]}}})
>>> with open_hub(d / "hub.duckdb") as hub:
...     r = import_csv(hub, d / "a.csv", m)
>>> r.rows_read, r.accepted, r.rejected
(2, 1, 1)
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from customers.csv_stream import stream_csv
from customers.dedupe import normalised_records_sql
from customers.entry_check import LIKELY, EntryChecker, EntryMatch
from customers.errors import ImportError_
from customers.hub import Hub, import_lock
from customers.mapping import Mapping, mapping_json
from customers.sniff import CsvFormat, sniff
from customers.stage import stage_sql

# One of DuckDB's row groups: a commit of whole row groups writes them to the file once,
# where smaller chunks went through the write-ahead log first (a third of the import's CPU).
# One rather than two: the last commit, which nothing overlaps, compresses half as much.
ROW_GROUP = 122_880
CHUNK_ROWS = ROW_GROUP
# ... and at most about this many bytes of CSV, so that wide rows keep memory bounded too.
CHUNK_BYTES = 64 << 20
CHECKPOINT_CHUNKS = 16
# The reader hands cleaned rows over in thirds of a row group, and a chunk commits whole: its
# pieces append to one row group of the transaction. A whole row group per piece kept the
# writer waiting ~1 s for the first (DuckDB's streaming result comes in 10 MiB units, ~80,000
# rows here, so it took two) and left it a whole chunk to write after the reader's end.
HANDOVER_ROWS = ROW_GROUP // 3
AHEAD_ROWS = 4 * ROW_GROUP
PREFETCH_BYTES = 64 << 20
IMPORT_MEMORY = "256MB"  # DuckDB's own memory during an import (buffers spill to disk beyond)
_BLOCK = 1 << 22


@dataclass(frozen=True)
class ImportResult:
    batch_id: str
    file: str
    encoding: str
    delimiter: str
    rows_read: int
    accepted: int
    rejected: int
    resumed_from: int  # rows already committed by an earlier, interrupted run
    held_for_review: int = 0  # accepted rows that likely duplicate a customer: not yet one


def import_csv(
    hub: Hub,
    path: Path | str,
    mapping: Mapping,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
    checker: EntryChecker | None = None,
    likely: float = LIKELY,
) -> ImportResult:
    """Import `path` through `mapping`; resumes an interrupted batch of the same file.

    With a `checker` (`customers.entry_check.entry_checker`), each accepted row is first
    scored against the registry; one that likely duplicates an existing customer (match
    probability >= `likely`) is held for review instead of becoming a new customer.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f"{path}: no such file")
    fmt = sniff(path, encoding or mapping.encoding, delimiter or mapping.delimiter)
    with import_lock(hub.path), tempfile.TemporaryDirectory(prefix="strata-import-") as folder:
        utf8, blank_lines, quoted = _checked_utf8(path, fmt.encoding, Path(folder))
        header = _header(path, fmt, mapping)
        batch_id, done = _batch(hub, path, mapping, fmt, header)
        # The reader cleans as it parses, in its own thread: this thread only writes.
        sql = stage_sql(mapping, header, carry=("_breaks", "_blank"))
        resumed_from = done
        per_row = _bytes_per_row(utf8)
        rows = _rows_per_chunk(per_row, chunk_rows)
        piece = _piece_rows(rows)
        batches = stream_csv(
            utf8,
            fmt.delimiter,
            len(header),
            blank_lines=blank_lines,
            skip=done,
            size=piece,
            select=sql,
            quoted=quoted,
        )
        with _import_settings(hub):
            pending = _prefetched(batches, depth=_pieces_ahead(piece, per_row))
            number = 0
            while added := _commit_chunk(
                hub, batch_id, mapping.source, pending, rows, checker, likely
            ):
                done += added
                number += 1
                if number % CHECKPOINT_CHUNKS == 0:
                    # A hub made before the records lost their primary keys still has their
                    # index, which stays in memory whatever the limit until a checkpoint
                    # writes it out (15 MB a million rows). Without it, this costs ~nothing.
                    hub.con.execute("CHECKPOINT")
                if progress:
                    progress(done)
        hub.con.execute(
            "UPDATE import_batch SET status = 'done', finished_at = $t WHERE batch_id = $b",
            {"t": datetime.now(UTC), "b": batch_id},
        )
        # fetchall, never fetchone: DuckDB 2.0 refuses the next statement while a result is
        # pending.
        [(read, accepted, rejected, held)] = hub.con.execute(
            "SELECT rows_read, accepted, rejected, held_for_review FROM import_batch"
            " WHERE batch_id = $b",
            {"b": batch_id},
        ).fetchall()
    return ImportResult(
        batch_id,
        str(path),
        fmt.encoding,
        fmt.delimiter,
        read,
        accepted,
        rejected,
        resumed_from,
        held,
    )


@contextmanager
def _import_settings(hub: Hub) -> Iterator[None]:
    # DuckDB's default limit is 80 % of the machine's memory, and it keeps what it read and
    # wrote cached up to it: a 2 GB import held 7 GB. A chunk needs far less.
    # One thread writes: the reader has a core of its own, and DuckDB's parallel insert cost
    # more CPU than it saved (median of 6 imports in turn: 6.7 CPU s and 4.6 s of wall against
    # 7.3 and 5.0). The hub's other work (duplicate detection) gets both back afterwards.
    before = _setting(hub, "memory_limit")
    threads = _setting(hub, "threads")
    hub.con.execute("RESET memory_limit")
    default = _setting(hub, "memory_limit") == before
    hub.con.execute(f"SET memory_limit = '{IMPORT_MEMORY}'")
    hub.con.execute("SET threads = 1")
    try:
        yield
    finally:
        hub.con.execute(f"SET threads = {int(threads)}")
        if default:
            hub.con.execute("RESET memory_limit")
        else:
            hub.con.execute(f"SET memory_limit = '{_within(before)}'")


def _setting(hub: Hub, name: str) -> str:
    return hub.con.execute("SELECT current_setting($n)", {"n": name}).fetchall()[0][0]


def _within(shown: str) -> str:
    """A limit DuckDB shows as `shown` (cut to one decimal), to set it back within 0.05 of
    its unit; it then shows the same again, so repeated imports do not shrink it.

    >>> _within("2.7 GiB"), _within("512.0 MiB")
    ('2.75 GiB', '512.05 MiB')
    """
    number, unit = shown.split()
    return f"{float(number) + 0.05:g} {unit}"


def _checked_utf8(path: Path, encoding: str, folder: Path) -> tuple[Path, tuple[int, ...], bool]:
    # Decode the whole file once before anything is written: a wrong encoding found in the
    # last chunk would otherwise leave the first chunks imported. Streams in 4 MiB blocks.
    # DuckDB reads UTF-8 only: another encoding is transcoded into `folder` in the same pass.
    # The same pass notes the empty lines, which DuckDB skips without a word: a row's line
    # number counts them, and whether the file has a quote at all (else no field holds a line
    # break, and the reader need not count them).
    utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    target = path if utf8 else folder / "utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)()
    blanks: list[int] = []
    lines, offset, tail, quoted = 1, 0, b"", False
    with open(path, "rb") as f, nullcontext() if utf8 else open(target, "wb") as out:
        while block := f.read(_BLOCK):
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as e:
                at = offset + e.start
                line = lines + block[: e.start].count(b"\n")
                raise ImportError_(
                    f"{path}:{line}: byte 0x{block[e.start]:02x} at offset {at} is not "
                    f"valid {encoding}; nothing was imported",
                    "give the file's encoding with --encoding (e.g. cp1250, latin-1, utf-16)",
                ) from None
            data = block if utf8 else text.encode("utf-8")
            if out is not None:
                out.write(data)
            quoted = quoted or b'"' in data
            joined = tail + data  # a blank line may straddle two blocks
            start = lines - tail.count(b"\n")
            # One numpy pass over the newlines, even for a block without blank lines: the
            # byte searches for "\n\n" and "\n\r\n" that skipped it took three times as long.
            lines = _blank_lines(joined, start, blanks, len(tail))
            tail = joined[-2:]
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportError_(
                f"{path}: the file ends in the middle of a {encoding} character",
                "the file may be truncated; export it again",
            ) from None
    return target, tuple(blanks), quoted


def _bytes_per_row(path: Path) -> float:
    # The average line length of the first MiB.
    with open(path, "rb") as f:
        sample = f.read(1 << 20)
    return len(sample) / max(sample.count(b"\n"), 1)


def _rows_per_chunk(per_row: float, chunk_rows: int) -> int:
    """Rows per chunk for rows of `per_row` bytes, in whole row groups where the bytes allow
    one: a partial row group is written twice (log, then file).

    >>> _rows_per_chunk(93.0, CHUNK_ROWS) == CHUNK_ROWS, _rows_per_chunk(2048.0, CHUNK_ROWS)
    (True, 32768)
    """
    rows = max(1, min(chunk_rows, int(CHUNK_BYTES / per_row)))
    return rows // ROW_GROUP * ROW_GROUP if rows >= ROW_GROUP else rows


def _piece_rows(rows: int) -> int:
    """Rows per hand-over piece for chunks of `rows`: equal parts of at most HANDOVER_ROWS,
    since a chunk commits after whole pieces and would otherwise run over `rows`.

    >>> _piece_rows(CHUNK_ROWS), _piece_rows(100_000), _piece_rows(5)
    (40960, 33334, 5)
    """
    parts = -(-rows // HANDOVER_ROWS)
    return -(-rows // parts)


def _pieces_ahead(piece: int, per_row: float) -> int:
    """How many pieces of `piece` rows of `per_row` bytes the reader cleans ahead.

    The reader goes on while a chunk commits, so the writer finds work after it. Half a
    million rows' worth (then four row groups) took 4.95 s against 5.30 with two (median of 8
    imports each, in turn). Wide rows get fewer pieces, within PREFETCH_BYTES of CSV but never
    under two (a piece is at most a chunk's CHUNK_BYTES); small pieces no more than full ones.

    >>> _pieces_ahead(40_960, 93.0), _pieces_ahead(1, 93.0), _pieces_ahead(32_768, 2048.0)
    (12, 12, 2)
    """
    fits = PREFETCH_BYTES // max(1, int(piece * per_row))
    return max(2, min(AHEAD_ROWS // max(piece, HANDOVER_ROWS), fits))


def _blank_lines(data: bytes, line: int, blanks: list[int], seen: int) -> int:
    """Append to `blanks` the empty lines that start in `data` after its first `seen` bytes
    (`data` starts on line `line`); return the line `data` ends on.

    >>> found = []
    >>> _blank_lines(b"a\\n\\nb\\r\\n\\r\\n\\n", 1, found, 0), found
    (6, [2, 4, 5])
    """
    # With numpy over the newlines' positions: a search per pattern in Python took as long
    # as the decoding.
    text = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(text == 10)
    gap = np.diff(newlines)
    after = newlines[:-1] + 1
    blank = (gap == 1) | ((gap == 2) & (text[np.minimum(after, len(text) - 1)] == 13))
    # The k-th newline (from 0) ends line `line + k`: an empty line after it is `line + k + 1`,
    # unless both its newlines lie in the part of the previous block that was seen already.
    at = np.flatnonzero(blank & (newlines[1:] + 1 > seen))
    blanks.extend((line + at + 1).tolist())
    return line + len(newlines)


def _header(path: Path, fmt: CsvFormat, mapping: Mapping) -> tuple[str, ...]:
    with open(path, encoding=fmt.encoding, newline="") as f:
        reader = csv.reader(f, delimiter=fmt.delimiter)
        header = next(reader, None)
        first_row = next((r for r in reader if any(v.strip() for v in r)), None)
    header = tuple(h.strip() for h in header or ())
    if not any(header):
        raise ImportError_(f"{path}: the file is empty", "export the file again with a header row")
    if first_row is None:
        raise ImportError_(f"{path}: the file has a header but no rows; nothing was imported")
    missing = [c for c in mapping.columns() if c not in header]
    if missing:
        hints = [
            f"'{c}'" + (f" (did you mean '{close[0]}'?)" if close else "")
            for c in missing
            for close in [difflib.get_close_matches(c, header, n=1)]
        ]
        raise ImportError_(
            f"{path}: missing required column(s) {', '.join(hints)} for mapping "
            f"'{mapping.name}'; the file has {', '.join(repr(h) for h in header)}; nothing "
            "was imported",
            f"check the delimiter (detected {fmt.delimiter!r}; --delimiter overrides it) "
            "or fix the mapping",
        )
    return header


def _batch(
    hub: Hub, path: Path, mapping: Mapping, fmt: CsvFormat, header: tuple[str, ...]
) -> tuple[str, int]:
    stat = path.stat()
    spec = mapping_json(mapping)
    # The same file (path, size, modification time) through the same mapping is the same batch:
    # running the import again after a crash continues it, after success it is a no-op.
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{spec}|{fmt}"
    batch_id = "b" + hashlib.sha256(key.encode()).hexdigest()[:12]
    rows = hub.con.execute(
        "SELECT rows_read FROM import_batch WHERE batch_id = $b", {"b": batch_id}
    ).fetchall()
    if rows:
        return batch_id, rows[0][0]
    hub.con.execute(
        "INSERT INTO import_batch (batch_id, file, file_size, file_mtime_ns, mapping_name,"
        " mapping_json, source, encoding, delimiter, header, status, started_at) VALUES"
        " ($b, $file, $size, $mtime, $name, $spec, $source, $enc, $delim, $header, 'running', $t)",
        {
            "b": batch_id,
            "file": str(path.resolve()),
            "size": stat.st_size,
            "mtime": stat.st_mtime_ns,
            "name": mapping.name,
            "spec": spec,
            "source": mapping.source,
            "enc": fmt.encoding,
            "delim": fmt.delimiter,
            "header": list(header),
            "t": datetime.now(UTC),
        },
    )
    return batch_id, 0


def _chunks(path: Path, fmt: CsvFormat, width: int, skip: int, size: int) -> Iterator[pa.Table]:
    # Rows are kept as the reader gives them and turned into columns once per chunk by
    # zip(*rows), in C: a per-field Python loop took most of the import's time.
    with open(path, encoding=fmt.encoding, newline="") as f:
        reader = csv.reader(f, delimiter=fmt.delimiter)
        next(reader)
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        lines: list[int] = []
        shapes: dict[int, str] = {}
        row_number, line = 0, reader.line_num + 1
        for fields in reader:
            start, line = line, reader.line_num + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line is not a row
            row_number += 1
            if row_number <= skip:
                continue
            if len(fields) != width:
                shapes[len(rows)] = f"the row has {len(fields)} fields, the header has {width}"
                fields = (fields + [None] * width)[:width]
            rows.append(fields)
            numbers.append(row_number)
            lines.append(start)
            if len(rows) == size:
                yield _table(rows, numbers, lines, shapes, width)
                rows, numbers, lines, shapes = [], [], [], {}
        if rows:
            yield _table(rows, numbers, lines, shapes, width)


def _prefetched(chunks: Iterator[pa.Table], depth: int = 1) -> Iterator[pa.Table]:
    # Parse the next chunks in a thread while DuckDB validates and commits this one: DuckDB
    # releases the GIL, so reading and validating overlap on two cores.
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for chunk in chunks:
                buffer.put(chunk)
        except BaseException as e:  # handed to the consumer, raised there
            buffer.put(e)
        buffer.put(done)

    thread = threading.Thread(target=produce, daemon=True, name="csv-reader")
    thread.start()
    while (item := buffer.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def _table(rows, numbers, lines, shapes: dict[int, str], width: int) -> pa.Table:
    columns = zip(*rows, strict=True) if rows else [()] * width
    data = {f"c{i}": pa.array(c, pa.string()) for i, c in enumerate(columns)}
    shape = [None] * len(rows)
    for index, reason in shapes.items():
        shape[index] = reason
    data |= {
        "_row": pa.array(numbers, pa.int64()),
        "_line": pa.array(lines, pa.int64()),
        "_shape": pa.array(shape, pa.string()),
    }
    return pa.table(data)


def _commit_chunk(
    hub: Hub,
    batch_id: str,
    source: str,
    batches: Iterator[pa.Table],
    rows: int,
    checker: EntryChecker | None,
    likely: float,
) -> int:
    """Commit the next pieces of cleaned rows, `rows` or more (fewer at the end of the file),
    as one transaction; return how many rows, 0 when none are left."""
    batch = next(batches, None)
    if batch is None:
        return 0
    con = hub.con
    con.execute("BEGIN TRANSACTION")
    try:
        # A record's id is its row's place after every id taken before: no window function
        # (a sort of the whole chunk) numbers them, and a chunk redone after a crash gets the
        # same ids (the maximum is read inside its transaction). A rejected row leaves its id
        # unused.
        [(top,)] = con.execute("SELECT COALESCE(MAX(record_id), 0) FROM customer_record").fetchall()
        first = batch["_row"][0].as_py()
        values = {"b": batch_id, "base": top - first + 1, "source": source, "t": datetime.now(UTC)}
        done = bad = 0
        while batch is not None:
            _write(con, batch, values, entities=checker is None)
            done += batch.num_rows
            bad += pc.sum(pc.not_equal(pc.list_value_length(batch["reasons"]), 0)).as_py() or 0
            last = batch["_row"][-1].as_py()
            batch = next(batches, None) if done < rows else None
        held = 0
        if checker is not None:
            held = _hold_likely_duplicates(hub, batch_id, first, last, checker, likely)
            con.execute(_NEW_ENTITIES_CHECKED, {"b": batch_id, "lo": first, "hi": last})
        con.execute(_COUNT, {"b": batch_id, "n": done, "bad": bad, "held": held})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return done


def _write(con, batch: pa.Table, values: dict, entities: bool) -> None:
    # Staging keeps each row's outcome, the records table the accepted rows' values:
    # nothing is written twice.
    con.register("staged", batch)
    try:
        con.execute(_STAGE, {"b": values["b"]})
        con.execute(_PROMOTE, values)
        if entities:
            con.execute(_NEW_ENTITIES, {"base": values["base"]})
    finally:
        con.unregister("staged")


def _hold_likely_duplicates(hub, batch_id, first, last, checker, likely) -> int:
    where = "WHERE batch_id = $b AND row_number BETWEEN $lo AND $hi"
    params = {"b": batch_id, "lo": first, "hi": last}
    new = hub.con.sql(normalised_records_sql(where), params=params).to_arrow_table()
    best: dict[int, EntryMatch] = {}
    for match in checker.check(new, likely):
        best.setdefault(match.new_id, match)  # matches come best first
    if best:
        hub.con.executemany(
            "INSERT INTO held_record VALUES (?, ?, ?, MAP(?, ?), 'pending')",
            [
                (
                    m.new_id,
                    m.record_id,
                    m.match_probability,
                    [name for name, _ in m.field_weights],
                    [weight for _, weight in m.field_weights],
                )
                for m in best.values()
            ],
        )
    return len(best)


_ATTRS = (
    "source_key, first_name, last_name, date_of_birth, email, phone, street, house_number,"
    " postal_code, city, area, customer_since"
)
# The cleaned rows keep their raw values only when they are rejected.
_STAGE = "INSERT INTO staging SELECT $b, _row, _line, reasons, raw FROM staged"
_PROMOTE = f"""
INSERT INTO customer_record
SELECT $base + s._row, $b, s._row, $source,
       {", ".join("s." + a for a in _ATTRS.split(", "))},
       CASE WHEN s.email IS NOT NULL THEN NOT COALESCE(s.email_invalid, FALSE) END,
       CASE WHEN s.phone IS NOT NULL THEN NOT COALESCE(s.phone_invalid, FALSE) END,
       $t
FROM staged s
WHERE LEN(s.reasons) = 0
"""
# A new record is its own entity until a merge says otherwise; its id is the record's. A
# record held for review becomes a customer only when a steward resolves it.
_NEW_ENTITIES = (
    "INSERT INTO entity_member SELECT $base + _row, $base + _row FROM staged WHERE LEN(reasons) = 0"
)
_NEW_ENTITIES_CHECKED = """
INSERT INTO entity_member
SELECT record_id, record_id FROM customer_record
WHERE batch_id = $b AND row_number BETWEEN $lo AND $hi
  AND record_id NOT IN (SELECT record_id FROM held_record)
"""
_COUNT = """
UPDATE import_batch SET
  rows_read = rows_read + $n, accepted = accepted + $n - $bad, rejected = rejected + $bad,
  held_for_review = held_for_review + $held
WHERE batch_id = $b
"""
