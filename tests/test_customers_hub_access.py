"""Who holds the hub file, and for how long. DuckDB lets a process write a file only when no
other process has it open, even read-only. So the import page lists batches read-only, for the
read only, and an import waits out such a short read instead of failing. Real processes: the
`strata` CLI and small Python processes that hold the file as an import or a reader would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from customers import open_hub
from customers.hub import HubBusy, read_hub
from tests.conftest import ROOT
from tests.test_customers_pages import (  # noqa: F401 (folder: the pages' fixture)
    HAND_CSV,
    _hand_hub,
    act,
    folder,
    frame,
    page,
    texts,
)

# $STRATA_DATA of each test: the demo warehouse, its own hub and app store (as the pages').
uses_folder = pytest.mark.usefixtures("folder")


def _data() -> Path:
    return Path(os.environ["STRATA_DATA"])


MAPPING_YAML = """name: dq
source: crm
fields:
  source_key: id
  first_name: first
  area: area
"""


def _holder(path, read_only: bool) -> subprocess.Popen:
    """A process that opens the hub (as an import, or as a reader) and keeps it open until
    its stdin closes."""
    script = (
        "import sys, duckdb\n"
        f"con = duckdb.connect({str(path)!r}, read_only={read_only})\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "open"
    return process


def _release(process: subprocess.Popen) -> None:
    process.stdin.close()
    process.wait(timeout=30)


@uses_folder
def test_the_batch_list_shows_while_another_process_reads_the_hub():
    data = _data()
    # Before, the page opened the hub read-write: another reader (a second app server, a
    # report) made every page view fail on DuckDB's lock.
    _hand_hub(data)
    reader = _holder(data / "customers.duckdb", read_only=True)
    try:
        at = page("customers_import")
        assert frame(at, "batch", "status", "read")[["read", "accepted"]].values.tolist() == [
            [5, 5]
        ]
    finally:
        _release(reader)


@uses_folder
def test_an_import_in_another_process_waits_out_a_listing_and_runs():
    data = _data()
    _hand_hub(data)
    (data / "more.csv").write_text(HAND_CSV.replace("k", "m"), encoding="utf-8")
    (data / "m.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    listing = read_hub(data / "customers.duckdb")  # what the page holds while it lists
    command = [sys.executable, "-m", "cli", "customers", "import", str(data / "more.csv")]
    command += ["--mapping-file", str(data / "m.yaml"), "--hub", str(data / "customers.duckdb")]
    importer = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3)  # the importer started, and waits for the file (it cannot write yet)
        assert importer.poll() is None
        assert listing.con.sql("SELECT COUNT(*) FROM customer_record").fetchall() == [(5,)]
    finally:
        listing.close()
    out, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err
    assert "5 read = 5 accepted + 0 rejected" in out
    with read_hub(data / "customers.duckdb") as hub:
        assert hub.con.sql("SELECT COUNT(*) FROM customer_record").fetchall() == [(10,)]


@uses_folder
def test_the_page_says_the_hub_is_busy_while_an_import_holds_it():
    data = _data()
    _hand_hub(data)
    writer = _holder(data / "customers.duckdb", read_only=False)
    try:
        at = page("customers_import")  # no exception: page() asserts it
        assert any("The batches cannot be listed now" in i for i in texts(at.info))
    finally:
        _release(writer)
    act(at)
    assert not any("cannot be listed" in i for i in texts(at.info))
    frame(at, "batch", "status", "read")


def test_a_writer_gives_up_with_a_clear_error_when_the_hub_stays_busy(tmp_path):
    open_hub(tmp_path / "hub.duckdb").close()
    writer = _holder(tmp_path / "hub.duckdb", read_only=False)
    try:
        with pytest.raises(HubBusy, match="the customer hub is in use by another process"):
            open_hub(tmp_path / "hub.duckdb", wait_s=0.5)
    finally:
        _release(writer)


@uses_folder
def test_an_import_in_another_process_runs_after_a_look_at_data_quality():
    # The engine reads the hub for "Data Quality"; if it kept that connection between page
    # views, no other process could write the hub while the app server runs.
    data = _data()
    _hand_hub(data)
    quality = page("customers_quality")
    assert {m.label: m.value for m in quality.metric}["# Records"] == "5"
    (data / "more.csv").write_text(HAND_CSV.replace("k", "m"), encoding="utf-8")
    (data / "m.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    command = [sys.executable, "-m", "cli", "customers", "import", str(data / "more.csv")]
    command += ["--mapping-file", str(data / "m.yaml"), "--hub", str(data / "customers.duckdb")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    act(quality)
    assert {m.label: m.value for m in quality.metric}["# Records"] == "10"
