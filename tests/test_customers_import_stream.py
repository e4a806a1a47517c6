"""The import streams the file through DuckDB: row numbers and lines stay exact whatever the
file's shape, and memory stays flat however long the file is."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from customers import import_csv, open_hub, parse_mapping
from tests.conftest import ROOT

MAPPING = parse_mapping(
    {
        "name": "m",
        "fields": {
            "source_key": "Id",
            "first_name": {"column": "Name", "transforms": ["trim", "title"], "required": True},
            "email": {"column": "Mail", "transforms": ["email"]},
        },
    }
)


@pytest.fixture
def hub(tmp_path):
    with open_hub(tmp_path / "hub.duckdb") as h:
        yield h


def test_lines_count_blank_lines_and_line_breaks_inside_quotes_in_any_encoding(hub, tmp_path):
    text = (
        "Id;Name;Mail\r\n"  # line 1
        '1;"Ana\r\nMarija";a@x.ba\r\n'  # row 1, lines 2-3: a quoted line break
        "\r\n"  # line 4: blank, not a row
        "2;;b@x.ba\r\n"  # row 2, line 5: rejected, the name is required
        "   \r\n"  # line 6: spaces only, not a row
        "3;Đuro;c@x.ba;x;y;z;v;w\r\n"  # row 3, line 7: eight fields
        "4;Šefik\r\n"  # row 4, line 8: two fields
    )
    path = tmp_path / "c.csv"
    path.write_bytes(text.encode("cp1250"))
    result = import_csv(hub, path, MAPPING)
    assert (result.encoding, result.rows_read, result.accepted, result.rejected) == (
        "cp1250",
        4,
        1,
        3,
    )
    staged = hub.con.execute(
        "SELECT row_number, line, reasons FROM staging ORDER BY row_number"
    ).fetchall()
    assert staged == [
        (1, 2, []),
        (2, 5, ["first_name (Name) is required but empty"]),
        (3, 7, ["the row has at least 7 fields, the header has 3"]),
        (4, 8, ["the row has 2 fields, the header has 3"]),
    ]
    assert hub.con.execute("SELECT first_name FROM customer_record").fetchall() == [
        ("Ana\r\nmarija",)
    ]


# Imports FILE into HUB in chunks of 40,000 rows and prints the process's resident memory
# (MB) after each committed chunk.
_IMPORT = """
import json, sys
from customers import import_csv, open_hub, parse_mapping
from tests.test_customers_import_stream import MAPPING
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
seen = []
with open_hub(sys.argv[2]) as hub:
    import_csv(hub, sys.argv[1], MAPPING, chunk_rows=40_000, progress=lambda n: seen.append(rss()))
print(json.dumps(seen))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_memory_stays_flat_while_a_200_mb_file_streams_through(tmp_path):
    path = tmp_path / "big.csv"
    # 480,000 rows of about 430 bytes: 12 chunks or more. A note column nobody maps makes it wide.
    duckdb.sql(
        "COPY (SELECT i AS Id, 'name ' || i AS Name, 'p' || i || '@mail.ba' AS Mail,"
        f" repeat('x', 390) AS Note FROM range(480000) t(i)) TO '{path}'"
    )
    assert path.stat().st_size > 200e6
    child = subprocess.run(
        [sys.executable, "-c", _IMPORT, str(path), str(tmp_path / "hub.duckdb")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout.splitlines()[-1])
    assert len(seen) >= 12
    # Reading the file whole, or keeping what was read, would add 100 MB in the second half
    # (half the file); streaming settles after the first chunks and stays there.
    first, second = seen[: len(seen) // 2], seen[len(seen) // 2 :]
    assert max(second) < max(first) + 50, seen


def test_the_import_bounds_duckdbs_memory_and_threads_and_gives_the_hub_them_back(hub, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Id,Name,Mail\n1,Amra,a@x.ba\n")

    def limit():
        return hub.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    def threads():
        return hub.con.execute("SELECT current_setting('threads')").fetchall()[0][0]

    hub.con.execute("SET threads = 3")
    default, during = limit(), []
    import_csv(hub, path, MAPPING, progress=lambda n: during.append((limit(), threads())))
    assert during == [("244.1 MiB", 1)]  # 256 MB and one writing thread while committing
    assert (limit(), threads()) == (default, 3)
    hub.con.execute("SET memory_limit = '3GB'")  # shown as 2.7 GiB: 2.79 GiB
    for _ in range(2):  # a second import of the same file is a no-op batch, with the limit set
        import_csv(hub, path, MAPPING)
        assert limit() == "2.7 GiB"
