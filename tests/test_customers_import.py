"""CSV import: every row is accepted or rejected with its number and reasons, counts add up,
values are cleaned as the mapping says, bad files are refused whole, a killed import resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest
from sqlglot import exp

from customers import (
    ImportError_,
    MappingError,
    export_rejects,
    get_mapping,
    import_csv,
    list_mappings,
    open_hub,
    parse_mapping,
    save_mapping,
    sniff,
)
from customers.mapping import FieldMap
from customers.stage import stacked_sql
from customers.transforms import field_sql
from store import open_store
from tests.conftest import ROOT

CRM = parse_mapping(
    {
        "name": "crm",
        "source": "old crm",
        "fields": {
            "source_key": "Id",
            "first_name": {"column": "Ime", "transforms": ["trim", "title"], "required": True},
            "last_name": {"column": "Prezime", "transforms": ["trim", "upper"]},
            "email": {"column": "E-mail", "transforms": ["email"]},
            "phone": {"column": "Mobitel", "transforms": ["phone:387"], "on_error": "null"},
            "date_of_birth": {"column": "Rođen", "transforms": ["date:%d.%m.%Y"]},
        },
    }
)
HEADER = "Id;Ime;Prezime;E-mail;Mobitel;Rođen"
# One row of each kind; the comment says what the import must do with it.
ROWS = [
    "1; amra ;hodžić;AMRA@Mail.ba ;061 111-222;01.02.1980",  # accepted, every transform applied
    "2;mirza;;;;",  # accepted: only the first name is required
    "3;;Begić;b@mail.ba;;",  # rejected: first name empty
    "4;Lejla;Kovač;lejla@;;",  # rejected: e-mail syntax
    "5;Emir;Hasić;;12;",  # accepted: a bad phone becomes empty (on_error: null)
    "6;Nina;Dizdar;;;31.02.1990",  # rejected: no such date
    "7;Ivo;Jurić;ivo@mail.ba",  # rejected: 4 fields, the header has 6
    "",  # a blank line is not a row
    "8;Ana;Marić;;;;extra",  # rejected: 7 fields
    "9;;;x@;;99.99.9999",  # rejected: three reasons
]


def _write(path, lines, encoding="utf-8"):
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def hub(tmp_path):
    with open_hub(tmp_path / "hub.duckdb") as h:
        yield h


def _staged(hub, batch):
    return {
        r[0]: (r[1], r[2])
        for r in hub.con.execute(
            "SELECT row_number, line, reasons FROM staging WHERE batch_id = $b", {"b": batch}
        ).fetchall()
    }


def test_every_row_read_is_accepted_or_rejected_with_its_number_and_reasons(hub, tmp_path):
    result = import_csv(hub, _write(tmp_path / "c.csv", [HEADER, *ROWS]), CRM)
    # 9 data rows (the blank line is skipped): rows 1, 2, 5 pass; 3, 4, 6, 7, 8, 9 fail.
    assert (result.rows_read, result.accepted, result.rejected) == (9, 3, 6)
    staged = _staged(hub, result.batch_id)
    assert sorted(staged) == list(range(1, 10))
    assert {n for n, (_, reasons) in staged.items() if not reasons} == {1, 2, 5}
    assert staged[3][1] == ["first_name (Ime) is required but empty"]
    assert staged[4][1] == ["email (E-mail): 'lejla@' is not a valid email"]
    assert staged[6][1] == ["date_of_birth (Rođen): '31.02.1990' is not a date as %d.%m.%Y"]
    assert staged[7][1] == ["the row has 4 fields, the header has 6"]
    assert staged[8] == (10, ["the row has 7 fields, the header has 6"])  # after the blank line
    assert len(staged[9][1]) == 3
    records = hub.con.execute("SELECT count(*) FROM customer_record").fetchall()[0][0]
    assert records == result.accepted


def test_transforms_trim_case_dates_e164_and_email(hub, tmp_path):
    result = import_csv(hub, _write(tmp_path / "c.csv", [HEADER, *ROWS[:2], ROWS[4]]), CRM)
    got = hub.con.execute(
        "SELECT source_key, first_name, last_name, email, phone, CAST(date_of_birth AS VARCHAR),"
        " email_valid, source FROM customer_record WHERE batch_id = $b ORDER BY row_number",
        {"b": result.batch_id},
    ).fetchall()
    assert got == [
        ("1", "Amra", "HODŽIĆ", "amra@mail.ba", "+38761111222", "1980-02-01", True, "old crm"),
        ("2", "Mirza", None, None, None, None, None, "old crm"),
        ("5", "Emir", "HASIĆ", None, None, None, None, "old crm"),
    ]


def _cleaned(template: list[str], values: list[str | None]) -> list[str | None]:
    # One field's SQL over the given raw values, in DuckDB, as the import runs it.
    field = field_sql(FieldMap("first_name", "c0", tuple(template)), exp.column("c0"), "f")
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT UNNEST($v) AS c0", {"v": values})
    return [r[0] for r in con.sql(stacked_sql([field], "t", [field.value])).fetchall()]


def test_title_case_capitalises_each_space_separated_word_of_any_script():
    # Words are split at spaces only: a hyphen or an apostrophe does not start a word.
    names = ["jean-luc", "o'neil", "ana marija de la cruz", "ŠAĆIR ĐULIĆ", "šaćir", "MIRZA",
             "abdul  karim", "ǆemal"]  # fmt: skip
    assert _cleaned(["trim", "title"], names) == [
        "Jean-luc", "O'neil", "Ana Marija De La Cruz", "Šaćir Đulić", "Šaćir", "Mirza",
        "Abdul  Karim", "Ǆemal",
    ]  # fmt: skip


def test_trim_removes_unicode_spaces_at_either_end_and_empties_to_null():
    # A tab is not a space to TRIM; a no-break space (U+00A0) and U+3000 are.
    values = [" amra ", "\u00a0amra\u3000", "amra", "  ", "", None, "\tamra", " Đulić "]
    assert _cleaned(["trim"], values) == [
        "amra",
        "amra",
        "amra",
        None,
        None,
        None,
        "\tamra",
        "Đulić",
    ]


def test_rejects_export_as_csv_with_reasons_and_original_values(hub, tmp_path):
    result = import_csv(hub, _write(tmp_path / "c.csv", [HEADER, *ROWS]), CRM)
    out = tmp_path / "rejects.csv"
    assert export_rejects(hub, result.batch_id, out) == 6
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row_number,line,reasons,Id,Ime,Prezime,E-mail,Mobitel,Rođen"
    assert lines[1] == "3,4,first_name (Ime) is required but empty,3,,Begić,b@mail.ba,,"
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "4", "6", "7", "8", "9"]


def test_encoding_and_delimiter_are_detected(tmp_path):
    cp1250 = _write(tmp_path / "a.csv", [HEADER, ROWS[0]], "cp1250")
    assert (sniff(cp1250).encoding, sniff(cp1250).delimiter) == ("cp1250", ";")
    bom = tmp_path / "b.csv"
    bom.write_bytes(b"\xef\xbb\xbfId,Ime\n1,Amra\n")
    assert (sniff(bom).encoding, sniff(bom).delimiter) == ("utf-8-sig", ",")
    tabs = _write(tmp_path / "t.csv", ["Id\tIme", "1\tAmra"])
    assert sniff(tabs).delimiter == "\t"


def test_a_cp1250_file_imports_with_its_letters(hub, tmp_path):
    result = import_csv(hub, _write(tmp_path / "c.csv", [HEADER, ROWS[0]], "cp1250"), CRM)
    assert result.encoding == "cp1250"
    assert hub.con.execute("SELECT last_name FROM customer_record").fetchall() == [("HODŽIĆ",)]


def test_a_wrong_encoding_is_refused_with_line_and_nothing_is_imported(hub, tmp_path):
    path = _write(tmp_path / "c.csv", [HEADER, *ROWS[:2]], "cp1250")
    with pytest.raises(ImportError_, match=r"c.csv:1: byte 0xf0 .* not valid utf-8") as e:
        import_csv(hub, path, CRM, encoding="utf-8")
    assert "--encoding" in str(e.value)
    assert hub.con.execute("SELECT count(*) FROM import_batch").fetchall()[0] == (0,)


def test_missing_mapped_columns_are_named_with_a_suggestion(hub, tmp_path):
    path = _write(tmp_path / "c.csv", ["Id;Ime;Prezime;Email;Mobitel", "1;a;b;c;d"])
    with pytest.raises(
        ImportError_,
        match=r"missing required column\(s\) 'E-mail' \(did you mean 'Email'\?\), 'Rođen'",
    ):
        import_csv(hub, path, CRM)
    assert hub.con.execute("SELECT count(*) FROM staging").fetchall()[0] == (0,)


def test_an_empty_file_and_a_header_without_rows_are_refused(hub, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ImportError_, match="the file is empty"):
        import_csv(hub, tmp_path / "empty.csv", CRM)
    with pytest.raises(ImportError_, match="a header but no rows"):
        import_csv(hub, _write(tmp_path / "h.csv", [HEADER, ""]), CRM)


def test_per_person_values_are_stored_with_zstd_and_names_with_a_dictionary(hub, tmp_path):
    # A dictionary finds nothing to share in values that are one per person, and cost twice
    # zstd's CPU to write them (docs/decisions.md, "Import speed, fifth round").
    import_csv(hub, _write(tmp_path / "c.csv", [HEADER, *ROWS]), CRM)
    hub.con.execute("CHECKPOINT")
    stored = dict(
        hub.con.execute(
            "SELECT column_name, compression FROM pragma_storage_info('customer_record')"
            " WHERE segment_type = 'VARCHAR'"
        ).fetchall()
    )
    assert {stored[c] for c in ("source_key", "email", "phone")} == {"ZSTD"}
    assert stored["first_name"] == "DICT_FSST"


def test_importing_the_same_file_again_adds_nothing(hub, tmp_path):
    path = _write(tmp_path / "c.csv", [HEADER, *ROWS])
    first = import_csv(hub, path, CRM)
    again = import_csv(hub, path, CRM)
    assert again.batch_id == first.batch_id and again.resumed_from == 9
    assert hub.con.execute("SELECT count(*) FROM customer_record").fetchall()[0] == (3,)


def test_mapping_problems_are_reported_together_with_suggestions():
    with pytest.raises(MappingError) as e:
        parse_mapping(
            {
                "name": "x",
                "fields": {"frist_name": "A", "email": {"column": "E", "transforms": ["emial"]}},
            }
        )
    text = str(e.value)
    assert "2 problem(s)" in text
    assert "'frist_name' is not a customer attribute; did you mean 'first_name'?" in text
    assert "unknown transform 'emial'; did you mean 'email'?" in text


def test_mappings_are_saved_by_name_replaced_and_listed(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'app.db'}") as store:
        save_mapping(store, CRM, user="alice")
        changed = parse_mapping({"name": "crm", "fields": {"first_name": "Name"}})
        save_mapping(store, changed, user="bob")
        assert [m.name for m in list_mappings(store)] == ["crm"]
        assert get_mapping(store, "crm") == changed
        with pytest.raises(MappingError, match="no saved mapping 'cmr'; did you mean 'crm'"):
            get_mapping(store, "cmr")


def test_an_import_killed_mid_file_resumes_without_duplicates_or_gaps(tmp_path):
    n = 60_000
    lines = [HEADER] + [
        f"{i};Ime{i};Prezime{i};p{i}@mail.ba;061{i % 1000:03d}{i % 997:03d};01.01.1980"
        if i % 10
        else f"{i};;;;;"  # every tenth row lacks the required first name
        for i in range(1, n + 1)
    ]
    path = _write(tmp_path / "big.csv", lines)
    mapping = tmp_path / "m.json"
    import json

    from customers.mapping import to_spec

    mapping.write_text(json.dumps(to_spec(CRM)))
    hub_path = tmp_path / "hub.duckdb"
    command = [sys.executable, "-m", "cli", "customers", "import", str(path), "--mapping-file"]
    command += [str(mapping), "--hub", str(hub_path), "--chunk-rows", "2000"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    # Kill it once a few chunks are committed: the process dies between or inside a chunk.
    for line in process.stdout:
        if "rows committed" in line and int(line.split()[0]) >= 6000:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    with open_hub(hub_path) as h:
        done = h.con.execute("SELECT rows_read FROM import_batch").fetchall()[0][0]
    assert 6000 <= done < n  # it really stopped in the middle
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed after row {done}" in rerun.stdout
    with open_hub(hub_path) as h:
        rows = h.con.execute(
            "SELECT count(*), count(DISTINCT row_number), min(row_number), max(row_number)"
            " FROM staging"
        ).fetchall()[0]
        counts = h.con.sql("SELECT rows_read, accepted, rejected FROM import_batch").fetchall()[0]
        records = h.con.execute(
            "SELECT count(*), count(DISTINCT row_number), count(DISTINCT record_id)"
            " FROM customer_record"
        ).fetchall()[0]
    assert rows == (n, n, 1, n)
    assert counts == (n, n - n // 10, n // 10)
    assert records == (n - n // 10,) * 3


def test_two_imports_at_once_in_one_process_take_distinct_record_ids(tmp_path):
    # Two app sessions share the hub file through one DuckDB instance; record ids are taken
    # after the largest committed one, so the imports must take turns.
    files = [
        _write(tmp_path / f"{k}.csv", [HEADER, *(f"{k}{i};Ime{i};;;;" for i in range(40))])
        for k in (1, 2)
    ]
    hubs = [open_hub(tmp_path / "hub.duckdb") for _ in files]
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda h, f: import_csv(h, f, CRM, chunk_rows=1), hubs, files))
        ids = hubs[0].con.execute("SELECT record_id FROM customer_record").fetchall()
    finally:
        for h in hubs:
            h.close()
    assert [r.accepted for r in results] == [40, 40]
    assert len(ids) == len(set(ids)) == 80
