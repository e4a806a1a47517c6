"""The "Data Quality" subject area: every measure equals a hand count on a hub small enough
to check by eye, and the same numbers come from hand-written SQL on the same file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customers import import_csv, open_hub, parse_mapping
from customers.merge import merge
from engine import Engine
from tests.conftest import ROOT, hand, rows

MAPPING = parse_mapping(
    {
        "name": "dq",
        "source": "crm",
        "fields": {
            "first_name": "first",
            "email": {"column": "email", "transforms": ["email"], "on_error": "keep"},
            "phone": {"column": "phone", "transforms": ["phone"]},
            "area": "area",
            "customer_since": "since",
        },
    }
)
# record: area, e-mail, phone, since
#  1 Zenica   ok       yes 2024-01
#  2 Zenica   missing  no  2024-01
#  3 Tuzla    invalid  yes 2024-02
#  4 Tuzla    ok       no  2024-02
#  5 (none)   missing  no  2024-03
# Entities after merging 1+2 and 3+4+5: {1, 2}, {3, 4, 5} -> 5 records, 2 entities.
CSV = """first,email,phone,area,since
Amra,amra@mail.ba,061 111 222,Zenica,2024-01-05
Amra,,,Zenica,2024-01-20
Mirza,mirza@,062 333 444,Tuzla,2024-02-01
Mirza,mirza@mail.ba,,Tuzla,2024-02-11
Mirza,,,,2024-03-03
"""


@pytest.fixture(scope="module")
def quality(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dq")
    (folder / "c.csv").write_text(CSV, encoding="utf-8")
    with open_hub(folder / "customers.duckdb") as hub:
        import_csv(hub, folder / "c.csv", MAPPING)
        merge(hub, [1, 2], user="steward")
        merge(hub, [3, 4, 5], user="steward")
        now = datetime.now(UTC)
        hub.con.execute("INSERT INTO match_run VALUES (1, $t, 5, 4, '{}', '[]')", {"t": now})
        hub.con.execute("INSERT INTO match_run VALUES (2, $t, 5, 4, '{}', '[]')", {"t": now})
        # Run 1 is old and must not count; run 2 has one pair in each severity band.
        hub.con.execute(
            "INSERT INTO match_pair VALUES (1, 1, 2, 0.999, 9, NULL),"
            " (2, 1, 2, 0.995, 8, NULL), (2, 3, 4, 0.95, 4, NULL),"
            " (2, 3, 5, 0.6, 1, NULL), (2, 4, 5, 0.4, -1, NULL)"
        )
    return folder


@pytest.fixture
def engine(quality, monkeypatch):
    monkeypatch.setenv("STRATA_DATA", str(quality))
    eng = Engine.open(ROOT / "models" / "demo")
    yield eng
    eng.close()


def _query(engine, columns):
    return rows(engine.query(f'SELECT {columns} FROM "Data Quality"', user="admin").df)


def test_duplicate_rate_is_records_per_entity(engine, quality):
    got = _query(engine, '"Facts"."# Records", "Facts"."# Entities", "Facts"."Duplicate Rate"')
    assert got == [(5, 2, 2.5)]
    by_hand = hand(
        quality / "customers.duckdb",
        "SELECT COUNT(*), COUNT(DISTINCT m.entity_id), COUNT(*) / COUNT(DISTINCT m.entity_id)"
        " FROM customer_record r JOIN entity_member m USING (record_id)",
    )
    assert rows(by_hand) == got


def test_cluster_size_distribution(engine):
    got = _query(engine, '"Entity"."Records per Entity", "Facts"."# Entities"')
    assert got == [(2, 1), (3, 1)]


def test_completeness_by_distribution_area(engine):
    got = _query(
        engine,
        '"Record"."Distribution Area", "Facts"."# Records", "Facts"."# Missing E-mail",'
        ' "Facts"."# Invalid E-mail", "Facts"."# Missing Phone", "Facts"."% Missing Phone"',
    )
    assert got == [
        ("(unknown)", 1, 1, 0, 1, 100.0),
        ("Tuzla", 2, 0, 1, 1, 50.0),
        ("Zenica", 2, 1, 0, 1, 50.0),
    ]


def test_duplicates_by_severity_count_the_newest_run_only(engine):
    got = _query(engine, '"Pair"."Severity", "Facts"."# Candidate Pairs"')
    assert got == [("certain", 1), ("possible", 1), ("probable", 1), ("unlikely", 1)]


def test_duplicate_records_by_import_batch_and_growth_by_month(engine):
    assert _query(engine, '"Batch"."Mapping", "Facts"."# Duplicate Records"') == [("dq", 5)]
    got = _query(engine, '"Record"."Customer Since Month", "Facts"."# Records"')
    assert got == [("2024-01", 2), ("2024-02", 2), ("2024-03", 1)]


def test_area_offices_do_not_see_data_quality(engine):
    from engine.errors import LogicalSQLError

    with pytest.raises(LogicalSQLError, match="not found or not permitted"):
        engine.query('SELECT "Facts"."# Records" FROM "Data Quality"', user="zenica.office")


def test_the_quality_report_asks_the_subject_area(engine):
    from customers.quality import quality_report

    report = quality_report(engine, user="admin")
    assert rows(report.table("summary")) == [(5, 2, 2.5, 5)]
    assert rows(report.table("cluster sizes")) == [(2, 1), (3, 1)]
