"""The demo warehouse: deterministic, atomic, and carrying the quirks other tests rely on."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from physical import demo
from physical.demo import build_demo

CUSTOMERS = 2_000

# The schema is a contract: the YAML model names these tables and columns.
SCHEMA = {
    "meta": ["key", "value"],
    "area": ["area_id", "name"],
    "municipality": ["municipality_id", "area_id", "name", "postal_code"],
    "tariff_group": ["tariff_group_id", "name", "customer_type"],
    "customer": [
        "customer_id",
        "customer_number",
        "name",
        "customer_type",
        "tariff_group_id",
        "status",
        "customer_since",
        "municipality_id",
    ],
    "contact": ["customer_id", "email", "mobile_phone", "email_consent", "sms_consent"],
    "address": ["customer_id", "street", "house_number", "postal_code", "city"],
    "e_service": ["service_id", "code", "name"],
    "staff": ["user_name", "area_id"],
    "subscription": ["subscription_id", "customer_id", "service_id", "start_date", "end_date"],
    "calendar": ["date", "year", "quarter", "month", "month_name", "year_month", "day"],
    "invoice": [
        "invoice_id",
        "customer_id",
        "period",
        "issue_date",
        "due_date",
        "kwh",
        "billed_amount",
        "paid_amount",
        "payment_channel",
        "paid_date",
    ],
    "agg_invoice_month": [
        "period",
        "area_id",
        "tariff_group_id",
        "billed_amount",
        "paid_amount",
        "kwh",
        "invoices",
    ],
    "receivable_month": ["month_end", "area_id", "tariff_group_id", "open_balance"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> demo.DemoBuild:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo.duckdb", customers=CUSTOMERS)


@pytest.fixture(scope="module")
def con(built):
    with duckdb.connect(str(built.path), read_only=True) as connection:
        yield connection


def one(con, sql: str):
    return con.execute(sql).fetchall()[0][0]


def fingerprint(path: Path) -> dict[str, str]:
    """One md5 per table over its rows in a fixed order."""
    with duckdb.connect(str(path), read_only=True) as c:
        return {
            table: one(
                c,
                f"SELECT md5(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR))"
                f" FROM {table} AS t",
            )
            for table in SCHEMA
        }


def test_tables_and_columns_match_the_contract(con):
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " ORDER BY table_name, ordinal_position"
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    assert found == SCHEMA


def test_meta_records_customers_seed_and_generator_version_only(con):
    assert dict(con.execute("SELECT key, value FROM meta").fetchall()) == {
        "customers": str(CUSTOMERS),
        "seed": "42",
        "generator_version": demo.GENERATOR_VERSION,
    }


def test_same_seed_gives_identical_data(built, tmp_path):
    again = build_demo(tmp_path / "again.duckdb", customers=CUSTOMERS, seed=42)
    assert fingerprint(again.path) == fingerprint(built.path)


def test_different_seed_gives_different_data(built, tmp_path):
    other = fingerprint(build_demo(tmp_path / "other.duckdb", customers=CUSTOMERS, seed=7).path)
    original = fingerprint(built.path)
    # The fixed reference tables stay; everything drawn from the seed changes.
    assert other["area"] == original["area"]
    for table in ("customer", "contact", "address", "subscription", "invoice"):
        assert other[table] != original[table], table


def test_second_call_reuses_the_file_without_touching_it(built):
    before = built.path.stat().st_mtime_ns
    again = build_demo(built.path, customers=CUSTOMERS, seed=42)
    assert again.rebuilt is False
    assert built.path.stat().st_mtime_ns == before


def test_other_parameters_rebuild_the_file(tmp_path):
    path = tmp_path / "demo.duckdb"
    build_demo(path, customers=100)
    rebuilt = build_demo(path, customers=120)
    with duckdb.connect(str(path), read_only=True) as c:
        assert (rebuilt.rebuilt, one(c, "SELECT count(*) FROM customer")) == (True, 120)


def test_failure_mid_build_leaves_nothing_at_path(tmp_path, monkeypatch):
    # The extra statement fails after the temp file holds customers and invoices.
    failing = (*demo._STATEMENTS, "SELECT error('disk on fire')")
    monkeypatch.setattr(demo, "_STATEMENTS", failing)
    path = tmp_path / "sub" / "demo.duckdb"
    with pytest.raises(duckdb.Error, match="disk on fire"):
        build_demo(path, customers=100)
    assert not path.exists()
    assert list(path.parent.iterdir()) == []  # no temp file, WAL or spill directory


def test_five_areas_by_name(con):
    rows = con.execute("SELECT area_id, name FROM area ORDER BY area_id").fetchall()
    assert rows == [(1, "Sarajevo"), (2, "Zenica"), (3, "Tuzla"), (4, "Mostar"), (5, "Bihać")]


def test_sarajevo_has_the_most_customers(con):
    biggest = """
        SELECT a.name FROM customer c JOIN municipality m USING (municipality_id)
        JOIN area a USING (area_id) GROUP BY a.name ORDER BY count(*) DESC LIMIT 1"""
    assert one(con, biggest) == "Sarajevo"


def test_every_customer_has_exactly_one_contact_and_one_address(con):
    counts = con.execute("""
        SELECT count(*),
               count(*) FILTER (WHERE (SELECT count(*) FROM contact t
                                       WHERE t.customer_id = c.customer_id) = 1),
               count(*) FILTER (WHERE (SELECT count(*) FROM address a
                                       WHERE a.customer_id = c.customer_id) = 1)
        FROM customer c""").fetchall()[0]
    assert counts == (CUSTOMERS, CUSTOMERS, CUSTOMERS)
    assert one(con, "SELECT count(*) FROM contact") == CUSTOMERS
    assert one(con, "SELECT count(*) FROM address") == CUSTOMERS


def test_email_quirks_exist(con):
    missing, malformed, shared = con.execute("""
        SELECT count(*) FILTER (WHERE email IS NULL),
               count(*) FILTER (WHERE email NOT LIKE '%@%' OR email LIKE '%..%'
                                   OR email LIKE '% '),
               (SELECT count(*) FROM (SELECT email FROM contact WHERE email IS NOT NULL
                                      GROUP BY email HAVING count(*) >= 2))
        FROM contact""").fetchall()[0]
    assert missing > 0 and malformed > 0 and shared > 0


def test_wellformed_emails_are_lowercase_ascii(con):
    offenders = r"""
        SELECT count(*) FROM contact
        WHERE email LIKE '%@%' AND email NOT LIKE '%..%' AND email NOT LIKE '% '
          AND NOT regexp_full_match(email, '[a-z0-9._]+@[a-z0-9-]+(\.[a-z0-9-]+)+')"""
    assert one(con, offenders) == 0


def test_some_customers_have_no_municipality(con):
    assert one(con, "SELECT count(*) FROM customer WHERE municipality_id IS NULL") > 0


def test_customers_without_municipality_have_no_postal_code_or_city(con):
    offenders = """
        SELECT count(*) FROM customer JOIN address USING (customer_id)
        WHERE municipality_id IS NULL AND (postal_code IS NOT NULL OR city IS NOT NULL)"""
    assert one(con, offenders) == 0


def test_invoices_fall_only_in_the_24_reference_periods(con):
    periods = [
        r[0].isoformat()
        for r in con.execute("SELECT DISTINCT period FROM invoice ORDER BY 1").fetchall()
    ]
    expected = [f"{2024 + (10 + i) // 12}-{(10 + i) % 12 + 1:02d}-01" for i in range(24)]
    assert periods == expected  # 2024-11-01 .. 2026-10-01


def test_every_invoice_is_billed_to_a_customer_in_the_table(con):
    # models/demo/physical.yaml declares `assume_integrity` on invoice -> customer on this.
    offenders = """
        SELECT count(*) FROM invoice i
        WHERE i.customer_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM customer c WHERE c.customer_id = i.customer_id)"""
    assert one(con, offenders) == 0


def test_no_invoice_before_the_month_the_customer_joined(con):
    offenders = """
        SELECT count(*) FROM invoice i JOIN customer c USING (customer_id)
        WHERE i.period < date_trunc('month', c.customer_since)"""
    assert one(con, offenders) == 0


def test_subscriptions_never_start_before_customer_since(con):
    offenders = """
        SELECT count(*) FROM subscription s JOIN customer c USING (customer_id)
        WHERE s.start_date < c.customer_since"""
    assert one(con, offenders) == 0


def test_paid_amount_never_exceeds_billed_amount(con):
    assert one(con, "SELECT count(*) FROM invoice WHERE paid_amount > billed_amount") == 0


def test_the_monthly_aggregate_holds_the_invoice_totals_by_month_area_and_tariff(con):
    # Grouped again from the invoices here: any difference is a wrong aggregate.
    differences = one(
        con,
        """SELECT count(*) FROM (
             SELECT i.period, m.area_id, c.tariff_group_id, SUM(i.billed_amount) AS b,
                    SUM(i.paid_amount) AS p, SUM(i.kwh) AS k, COUNT(*) AS n
             FROM invoice i JOIN customer c USING (customer_id)
             LEFT JOIN municipality m USING (municipality_id)
             GROUP BY ALL
             EXCEPT
             SELECT period, area_id, tariff_group_id, billed_amount, paid_amount, kwh, invoices
             FROM agg_invoice_month)""",
    )
    assert differences == 0
    assert one(con, "SELECT SUM(invoices) FROM agg_invoice_month") == one(
        con, "SELECT count(*) FROM invoice"
    )
