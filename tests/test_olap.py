"""Hierarchies, drill-down, level-based measures, time series and aggregate navigation,
each against hand-written SQL on tests/models/olap (5 customers, 11 invoices, a monthly
aggregate by area and tariff group built from them)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from engine import Engine, LogicalSQLError
from tests.conftest import hand, model_db, opened, rows, strata

OLAP = Path(__file__).parent / "models" / "olap"


@pytest.fixture(scope="module")
def olap_db(tmp_path_factory) -> Path:
    return model_db(tmp_path_factory, OLAP, "OLAP_DB")


@pytest.fixture(scope="module")
def olap(olap_db) -> Engine:
    yield from opened(OLAP)


@pytest.fixture(scope="module")
def detail(olap_db) -> Engine:
    """The same model with aggregate navigation off: every fact reads its detail source."""
    engine = Engine.open(OLAP)
    engine.aggregate_navigation = False
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def demo_model_engine() -> Engine:
    """The demo model without its warehouse: drilling rewrites requests, it reads no data."""
    engine = Engine.open(Path(__file__).parent.parent / "models" / "demo")
    yield engine
    engine.close()


DETAIL = """invoice i JOIN customer c USING (customer_id)
  LEFT JOIN municipality m USING (municipality_id) LEFT JOIN area a ON a.area_id = m.area_id
  LEFT JOIN tariff_group t USING (tariff_group_id) JOIN calendar k ON k.date = i.issued"""


def q(engine: Engine, logical: str, user: str | None = None) -> list[tuple]:
    return rows(engine.query(logical, user=user).df)


# ---------------------------------------------------------------- drill-down


def test_drill_adds_the_next_level_after_the_column_and_filters_to_the_member(olap, olap_db):
    request = 'SELECT "Time"."Year", "Facts"."Billed" FROM "Sales"'
    drilled = olap.drill(request, '"Time"."Year"', 2024)
    assert drilled == (
        'SELECT "Time"."Year", "Time"."Quarter", "Facts"."Billed" FROM "Sales" '
        'WHERE "Time"."Year" = 2024'
    )
    assert q(olap, drilled) == rows(
        hand(
            olap_db,
            f"SELECT k.year, k.quarter, SUM(i.billed) FROM {DETAIL} "
            "WHERE k.year = 2024 GROUP BY ALL",
        )
    )


def test_drill_keeps_existing_conditions_and_quotes_text_values_as_literals(olap):
    request = 'SELECT "Customer"."Area", "Facts"."Billed" FROM "Sales" WHERE "Time"."Year" = 2025'
    drilled = olap.drill(request, '"Customer"."Area"', "O'North")
    assert drilled.endswith('WHERE "Time"."Year" = 2025 AND "Customer"."Area" = \'O\'\'North\'')
    assert '"Customer"."Area", "Customer"."Municipality"' in drilled
    assert olap.query(drilled).rows == 0  # no such area: the value was a value, not SQL


def test_drill_into_the_null_member_filters_with_is_null(olap):
    drilled = olap.drill(
        'SELECT "Customer"."Municipality", "Facts"."Billed" FROM "Sales"',
        '"Customer"."Municipality"',
        None,
    )
    assert drilled.endswith('WHERE "Customer"."Municipality" IS NULL')
    assert q(olap, drilled) == [(None, 5, 7.0)]  # Eve, who has no municipality


def test_drill_on_a_date_value_uses_a_typed_literal(olap):
    import datetime as dt

    drilled = olap.drill(
        'SELECT "Time"."Month", "Facts"."Billed" FROM "Sales"', '"Time"."Month"', "2025-03"
    )
    day = olap.drill(drilled, '"Time"."Month"', "2025-03")  # already shows Date: no duplicate
    assert day.count('"Time"."Date"') == 1
    rows_ = q(olap, drilled)
    assert rows_ == [
        ("2025-03", dt.date(2025, 3, 5), 33.0),
        ("2025-03", dt.date(2025, 3, 31), 44.0),
    ]


def test_drill_below_the_lowest_level_is_refused_with_a_reason(olap):
    with pytest.raises(LogicalSQLError, match="lowest level"):
        olap.drill(
            'SELECT "Customer"."Customer Id", "Facts"."Billed" FROM "Sales"',
            '"Customer"."Customer Id"',
            1,
        )


def test_drill_on_a_level_description_goes_to_the_next_level_like_its_key(olap):
    drilled = olap.drill(
        'SELECT "Time"."Month Name", "Facts"."Billed" FROM "Sales"', '"Time"."Month Name"', "March"
    )
    assert drilled == (
        'SELECT "Time"."Month Name", "Time"."Date", "Facts"."Billed" FROM "Sales" '
        'WHERE "Time"."Month Name" = \'March\''
    )


def test_drill_on_a_column_that_is_no_level_is_refused(demo_model_engine):
    with pytest.raises(LogicalSQLError, match="not a level of any hierarchy"):
        demo_model_engine.drill(
            'SELECT "Payment"."Payment Channel", "Facts"."Billed Amount" FROM "Billing"',
            '"Payment"."Payment Channel"',
            "bank",
        )


def test_drill_on_a_column_not_selected_is_refused(olap):
    with pytest.raises(LogicalSQLError, match="not selected"):
        olap.drill('SELECT "Facts"."Billed" FROM "Sales"', '"Time"."Year"', 2024)


def test_levels_lists_each_level_column_and_where_it_drills(olap):
    found = {(lv.hierarchy, lv.column): lv.drills_to for lv in olap.levels("Sales")}
    assert found[("Time", '"Time"."Year"')] == '"Time"."Quarter"'
    assert found[("Time", '"Time"."Date"')] is None
    assert found[("Geography", '"Customer"."Area"')] == '"Customer"."Municipality"'
    assert found[("Tariff", '"Customer"."Tariff Group"')] == '"Customer"."Customer Id"'


# ---------------------------------------------------------------- level-based measures


def test_a_measure_at_area_level_repeats_the_area_total_on_each_municipality(olap, olap_db):
    got = q(
        olap,
        'SELECT "Customer"."Municipality", "Facts"."Billed", "Facts"."Area Billed", '
        '"Facts"."Share of Area" FROM "Sales"',
    )
    expected = hand(
        olap_db,
        f"""WITH by_m AS (SELECT a.name AS area, m.name AS mun, SUM(i.billed) AS b FROM {DETAIL}
                          GROUP BY ALL)
            SELECT mun, b, SUM(b) OVER (PARTITION BY area), b / SUM(b) OVER (PARTITION BY area)
            FROM by_m""",
    )
    assert got == rows(expected)
    # N-One 73 and N-Two 73 (Cid: 30 + 10 + 33) of North's 146; South 84; Eve's 7 has no area.
    assert ("N-One", 73.0, 146.0, 0.5) in got


def test_share_of_total_divides_by_the_grand_total_of_the_filtered_rows(olap, olap_db):
    got = q(
        olap,
        'SELECT "Customer"."Area", "Facts"."Share of Total", "Facts"."Total Billed" FROM "Sales" '
        'WHERE "Time"."Year" = 2025',
    )
    expected = hand(
        olap_db,
        f"""SELECT a.name, SUM(i.billed) / SUM(SUM(i.billed)) OVER (), SUM(SUM(i.billed)) OVER ()
            FROM {DETAIL} WHERE k.year = 2025 GROUP BY ALL""",
    )
    assert got == rows(expected)


def test_a_level_based_measure_is_null_above_its_level(olap):
    # By year only there is no area to fix "Area Billed" at.
    assert q(olap, 'SELECT "Time"."Year", "Facts"."Area Billed" FROM "Sales"') == [
        (2024, None),
        (2025, None),
    ]


def test_aggregate_by_groups_a_measure_by_exactly_the_named_columns(olap, olap_db):
    got = q(
        olap,
        'SELECT "Time"."Year", "Customer"."Area", "Facts"."# Customers", '
        'AGGREGATE("Facts"."# Customers" BY "Time"."Year") AS "Year Customers", '
        'AGGREGATE("Facts"."# Customers" BY) AS "All Customers" FROM "Sales"',
    )
    expected = hand(
        olap_db,
        f"""WITH g AS (SELECT k.year, a.name AS area, COUNT(DISTINCT i.customer_id) AS n
                       FROM {DETAIL} GROUP BY ALL),
                 y AS (SELECT k.year, COUNT(DISTINCT i.customer_id) AS n FROM {DETAIL} GROUP BY 1)
            SELECT g.year, g.area, g.n, y.n, (SELECT COUNT(DISTINCT customer_id) FROM invoice)
            FROM g JOIN y USING (year)""",
    )
    # Distinct counts are counted again at each grain, never summed: 5 customers in all.
    assert got == rows(expected)
    assert {r[4] for r in got} == {5}


def test_aggregate_by_a_level_implied_by_a_lower_selected_level_adds_no_rows(olap, olap_db):
    got = q(
        olap,
        'SELECT "Customer"."Municipality", AGGREGATE("Facts"."Billed" BY "Customer"."Area") '
        'FROM "Sales"',
    )
    expected = hand(
        olap_db,
        f"""SELECT DISTINCT m.name, SUM(SUM(i.billed)) OVER (PARTITION BY a.name)
            FROM {DETAIL} GROUP BY m.name, a.name""",
    )
    assert got == rows(expected)


def test_aggregate_by_a_column_neither_selected_nor_implied_is_refused(olap):
    with pytest.raises(LogicalSQLError, match="neither selects it nor a lower level"):
        olap.query(
            'SELECT "Time"."Year", AGGREGATE("Facts"."Billed" BY "Customer"."Area") FROM "Sales"'
        )


# ---------------------------------------------------------------- time series


MONTHLY = f"""WITH months AS (SELECT DISTINCT year_month, year FROM calendar),
  billed AS (SELECT k.year_month, SUM(i.billed) AS b FROM {DETAIL} GROUP BY 1),
  series AS (SELECT m.year_month, m.year, b.b,
                    ROW_NUMBER() OVER (ORDER BY m.year_month) AS n
             FROM months m LEFT JOIN billed b USING (year_month))"""


def test_ago_todate_and_periodrolling_at_month_grain_match_hand_written_sql(olap, olap_db):
    got = q(
        olap,
        'SELECT "Time"."Month", "Facts"."Billed", AGO("Facts"."Billed", "Time"."Month", 12), '
        'TODATE("Facts"."Billed", "Time"."Year"), PERIODROLLING("Facts"."Billed", -2, 0) '
        'FROM "Sales"',
    )
    expected = hand(
        olap_db,
        MONTHLY
        + """
        SELECT s.year_month, s.b, ago.b,
               (SELECT SUM(t.b) FROM series t WHERE t.year = s.year AND t.n <= s.n),
               (SELECT SUM(t.b) FROM series t WHERE t.n BETWEEN s.n - 2 AND s.n)
        FROM series s LEFT JOIN series ago ON ago.n = s.n - 12
        WHERE s.b IS NOT NULL""",
    )
    assert got == rows(expected)
    assert ("2025-02", 34.0, 25.0, 45.0, 85.0) in got  # 6+7+21; 2024-02: 20+5; 11+34; 40+11+34


def test_a_time_filter_picks_the_periods_shown_not_the_periods_read(olap):
    got = q(
        olap,
        'SELECT "Time"."Month", AGO("Facts"."Billed", "Time"."Year", 1) FROM "Sales" '
        'WHERE "Time"."Year" = 2025',
    )
    # 2025's months read 2024's values although the filter keeps 2025 only.
    assert got == [("2025-01", 10.0), ("2025-02", 25.0), ("2025-03", 40.0)]


def test_ago_at_a_lower_grain_than_its_level_shifts_each_day_within_the_month(olap):
    got = q(
        olap,
        'SELECT "Time"."Date", AGO("Facts"."Billed", "Time"."Month", 12) FROM "Sales" '
        'WHERE "Time"."Year" = 2025 AND "Customer"."Customer Id" = 1',
    )
    import datetime as dt

    # Ana billed 10 on 2024-01-15 and 20 on 2024-02-10; a year on, the same days.
    assert got == [(dt.date(2025, 1, 15), 10.0), (dt.date(2025, 2, 10), 20.0)]


def test_todate_counts_distinct_customers_over_the_period_not_a_sum_of_counts(olap, olap_db):
    got = q(
        olap,
        'SELECT "Time"."Month", TODATE("Facts"."# Customers", "Time"."Year") '
        'FROM "Sales" WHERE "Time"."Year" = 2025',
    )
    expected = hand(
        olap_db,
        f"""SELECT m.year_month, COUNT(DISTINCT i.customer_id)
            FROM (SELECT DISTINCT k.year_month FROM {DETAIL} WHERE k.year = 2025) m
            JOIN {DETAIL} ON k.year = 2025 AND k.year_month <= m.year_month
            GROUP BY 1""",
    )
    assert got == rows(expected)  # 2025-02: Ana, Ben, Eve = 3 (Ana twice)


# Each period's value from hand: the rows of the months the function reads, as the
# user sees them. `n` numbers the calendar's months (gaps included); `r` is one detail row.
SERIES_HAND = f"""WITH months AS (
    SELECT year_month, year, DENSE_RANK() OVER (ORDER BY year_month) AS n
    FROM (SELECT DISTINCT year_month, year FROM calendar)),
  rows_ AS (SELECT k.year_month, i.* FROM {DETAIL} {{visible}}),
  shown AS (SELECT DISTINCT r.year_month FROM rows_ r JOIN months USING (year_month) {{shown}})
SELECT s.year_month,
  (SELECT {{agg}} FROM rows_ r JOIN months rm USING (year_month)
   WHERE rm.n BETWEEN sm.n - 2 AND sm.n),
  (SELECT {{agg}} FROM rows_ r JOIN months rm USING (year_month)
   WHERE rm.year = sm.year AND rm.year_month <= sm.year_month)
FROM shown s JOIN months sm USING (year_month)"""


@pytest.mark.parametrize("user", [None, "north"])
@pytest.mark.parametrize("where", ["", 'WHERE "Time"."Year" = 2025'])
@pytest.mark.parametrize("navigation", ["aggregate", "detail"])
@pytest.mark.parametrize(
    "measure", ["Billed", "# Invoices", "Largest Bill", "Average Bill", "# Customers"]
)
def test_rolling_and_to_date_equal_hand_sql_for_every_rule(
    olap, detail, olap_db, measure, navigation, where, user
):
    engine = olap if navigation == "aggregate" else detail
    got = q(
        engine,
        f'SELECT "Time"."Month", PERIODROLLING("Facts"."{measure}", -2, 0), '
        f'TODATE("Facts"."{measure}", "Time"."Year") FROM "Sales" {where}',
        user=user,
    )
    expected = SERIES_HAND.format(
        agg=MEASURES[measure].replace("i.", "r."),
        visible="WHERE a.name = 'North'" if user else "",
        shown="WHERE year = 2025" if where else "",
    )
    assert got == rows(hand(olap_db, expected))


def test_sum_count_and_max_series_read_the_fact_once_through_monthly_totals(detail, olap_db):
    logical = (
        'SELECT "Time"."Month", "Facts"."Billed", "Facts"."# Invoices", '
        'AGO("Facts"."Billed", "Time"."Month", 12), TODATE("Facts"."# Invoices", "Time"."Year"), '
        'PERIODROLLING("Facts"."Largest Bill", -2, 0) FROM "Sales"'
    )
    result = detail.query(logical)
    assert result.sql.count('"invoice" AS') == 1
    got = rows(result.df)
    # 2025-02: Ben 6 + Eve 7 + Ana 21 = 34 in 3 invoices; a year before 20 + 5 = 25;
    # 2025 to date 1 + 3 = 4 invoices; the largest bill of 2024-12 .. 2025-02 is 40.
    assert ("2025-02", 34.0, 3, 25.0, 4, 40.0) in got
    assert len(got) == 7  # the months with invoices: 2024-01..03, 2024-12, 2025-01..03


def test_a_time_filter_keeps_series_correct_when_the_main_query_cannot_share_its_totals(
    detail,
):
    got = q(
        detail,
        'SELECT "Time"."Month", "Facts"."Billed", AGO("Facts"."Billed", "Time"."Year", 1), '
        'PERIODROLLING("Facts"."Billed", -2, 0) FROM "Sales" WHERE "Time"."Year" = 2025',
    )
    # 2025-01 rolls over 2024-11 (none), 2024-12 (40) and itself (11).
    assert got == [
        ("2025-01", 11.0, 10.0, 51.0),
        ("2025-02", 34.0, 25.0, 85.0),
        ("2025-03", 77.0, 40.0, 122.0),
    ]


def test_a_time_filtered_series_reads_the_fact_once(detail, olap_db):
    # The main query keeps 2025; AGO and PERIODROLLING read every month. One scan serves
    # both: per month, grouped also by "year = 2025", the main query keeping those groups.
    logical = (
        'SELECT "Time"."Month", "Facts"."Billed", AGO("Facts"."Billed", "Time"."Year", 1), '
        'PERIODROLLING("Facts"."Billed", -2, 0) FROM "Sales" WHERE "Time"."Year" = 2025'
    )
    result = detail.query(logical)
    assert result.sql.count('"invoice" AS') == 1
    expected = hand(
        olap_db,
        f"""WITH months AS (
              SELECT year_month, DENSE_RANK() OVER (ORDER BY year_month) AS n
              FROM (SELECT DISTINCT year_month FROM calendar)),
            totals AS (SELECT k.year_month, k.year, SUM(i.billed) AS billed
                       FROM {DETAIL} GROUP BY ALL)
            SELECT t.year_month, t.billed,
              (SELECT a.billed FROM totals a  -- the same month, a year before
               WHERE a.year_month = (t.year - 1) || substr(t.year_month, 5)),
              (SELECT SUM(r.billed) FROM totals r JOIN months rm USING (year_month)
               WHERE rm.n BETWEEN m.n - 2 AND m.n)
            FROM totals t JOIN months m USING (year_month) WHERE t.year = 2025""",
    )
    # 2025-01: 11; a year before 10; rolling over 2024-11 (none), 2024-12 (40) and 11.
    want = [("2025-01", 11.0, 10.0, 51.0), ("2025-02", 34.0, 25.0, 85.0)]
    assert rows(result.df) == rows(expected) == [*want, ("2025-03", 77.0, 40.0, 122.0)]


def test_a_condition_below_the_series_level_splits_its_months_exactly(detail, olap_db):
    # From 15 February: February keeps Ben's bill only, March both; a distinct count in the
    # main query is computed over the kept rows of each month, the AGO over whole months.
    logical = (
        'SELECT "Time"."Month", "Facts"."# Customers", "Facts"."Billed", '
        'AGO("Facts"."Billed", "Time"."Month", 1) FROM "Sales" '
        'WHERE "Time"."Date" >= DATE \'2025-02-15\''
    )
    result = detail.query(logical)
    assert result.sql.count('"invoice" AS') == 1
    expected = hand(
        olap_db,
        f"""WITH months AS (
              SELECT year_month, DENSE_RANK() OVER (ORDER BY year_month) AS n
              FROM (SELECT DISTINCT year_month FROM calendar)),
            totals AS (SELECT k.year_month, SUM(i.billed) AS billed FROM {DETAIL} GROUP BY 1),
            shown AS (SELECT k.year_month, COUNT(DISTINCT i.customer_id) AS customers,
                             SUM(i.billed) AS billed
                      FROM {DETAIL} WHERE k.date >= DATE '2025-02-15' GROUP BY 1)
            SELECT s.year_month, s.customers, s.billed,
              (SELECT t.billed FROM totals t JOIN months tm USING (year_month)
               WHERE tm.n = m.n - 1)
            FROM shown s JOIN months m USING (year_month)""",
    )
    assert (
        rows(result.df)
        == rows(expected)
        == [
            ("2025-02", 1, 6.0, 11.0),
            ("2025-03", 2, 77.0, 34.0),
        ]
    )


@pytest.mark.parametrize("user", [None, "north"])
def test_a_time_filtered_series_through_the_aggregate_reads_it_once(olap, olap_db, user):
    logical = (
        'SELECT "Time"."Month", "Facts"."Billed", TODATE("Facts"."Billed", "Time"."Year") '
        'FROM "Sales" WHERE "Time"."Year" = 2025'
    )
    result = olap.query(logical, user=user)
    assert result.sql.count('"agg_invoice_month" AS') == 1
    visible = "AND a.name = 'North'" if user else ""
    expected = hand(
        olap_db,
        f"""WITH totals AS (SELECT k.year_month, SUM(i.billed) AS billed FROM {DETAIL}
                            WHERE k.year = 2025 {visible} GROUP BY 1)
            SELECT t.year_month, t.billed,
              (SELECT SUM(b.billed) FROM totals b WHERE b.year_month <= t.year_month)
            FROM totals t""",
    )
    assert rows(result.df) == rows(expected)


def test_a_time_series_above_its_level_is_refused(olap):
    with pytest.raises(LogicalSQLError, match="needs the level"):
        olap.query('SELECT "Time"."Year", AGO("Facts"."Billed", "Time"."Month", 1) FROM "Sales"')


# ---------------------------------------------------------------- aggregate navigation


GRAINS = {
    "Year": ("k.year", '"Time"."Year"'),
    "Quarter": ("k.quarter", '"Time"."Quarter"'),
    "Month": ("k.year_month", '"Time"."Month"'),
    "Area": ("a.name", '"Customer"."Area"'),
    "Customer Type": ("t.customer_type", '"Customer"."Customer Type"'),
    "Tariff Group": ("t.name", '"Customer"."Tariff Group"'),
    "Municipality": ("m.name", '"Customer"."Municipality"'),
    "Day": ("k.date", '"Time"."Date"'),
}
MEASURES = {
    "Billed": "SUM(i.billed)",
    "kWh": "SUM(i.kwh)",
    "# Invoices": "COUNT(i.invoice_id)",
    "Largest Bill": "MAX(i.billed)",
    "# Customers": "COUNT(DISTINCT i.customer_id)",
    "Average Bill": "AVG(i.billed)",
}
# What the monthly aggregate can answer: sum, count, max and avg (as sum of sums over sum of
# counts, never an average of averages), at Month/Area/Tariff Group or above.
ROUTED = {"Year", "Quarter", "Month", "Area", "Customer Type", "Tariff Group"}
MERGEABLE = {"Billed", "kWh", "# Invoices", "Largest Bill", "Average Bill"}


@pytest.mark.parametrize("grain", GRAINS)
@pytest.mark.parametrize("measure", MEASURES)
def test_every_rule_at_every_grain_equals_the_detail_path_and_hand_sql(
    olap, detail, olap_db, grain, measure
):
    column, presented = GRAINS[grain]
    logical = f'SELECT {presented}, "Facts"."{measure}" FROM "Sales"'
    routed = olap.query(logical)
    expected = rows(hand(olap_db, f"SELECT {column}, {MEASURES[measure]} FROM {DETAIL} GROUP BY 1"))
    assert rows(routed.df) == expected
    assert rows(detail.query(logical).df) == expected
    assert ("agg_invoice_month" in routed.sql) == (grain in ROUTED and measure in MERGEABLE)
    assert "agg_invoice_month" not in detail.query(logical).sql


def test_count_distinct_beside_a_sum_sends_the_whole_fact_to_detail(olap, olap_db):
    result = olap.query(
        'SELECT "Time"."Year", "Facts"."Billed", "Facts"."# Customers" FROM "Sales"'
    )
    assert "agg_invoice_month" not in result.sql
    expected = hand(
        olap_db,
        f"SELECT k.year, SUM(i.billed), COUNT(DISTINCT i.customer_id) FROM {DETAIL} GROUP BY 1",
    )
    assert rows(result.df) == rows(expected)


def test_a_filter_below_the_aggregate_content_sends_the_query_to_detail(olap, olap_db):
    result = olap.query(
        'SELECT "Time"."Year", "Facts"."Billed" FROM "Sales" '
        'WHERE "Customer"."Municipality" = \'N-One\''
    )
    assert "agg_invoice_month" not in result.sql
    expected = hand(
        olap_db, f"SELECT k.year, SUM(i.billed) FROM {DETAIL} WHERE m.name = 'N-One' GROUP BY 1"
    )
    assert rows(result.df) == rows(expected)


def test_level_based_and_time_series_measures_agree_on_both_paths(olap, detail):
    logical = (
        'SELECT "Time"."Month", "Customer"."Area", "Facts"."Billed", "Facts"."Share of Total", '
        'AGO("Facts"."Billed", "Time"."Year", 1), TODATE("Facts"."Billed", "Time"."Year") '
        'FROM "Sales"'
    )
    routed = olap.query(logical)
    assert "agg_invoice_month" in routed.sql
    assert rows(routed.df) == rows(detail.query(logical).df)


# ---------------------------------------------------------------- semi-additive measures

LAST_BALANCE = """WITH rows_ AS (
    SELECT {grain} AS g, b.amount, b.month_end,
           MAX(b.month_end) OVER (PARTITION BY {grain}) AS last_end
    FROM balance b JOIN customer c USING (customer_id)
    LEFT JOIN municipality m USING (municipality_id) LEFT JOIN area a ON a.area_id = m.area_id
    JOIN calendar k ON k.date = b.month_end)
  SELECT g, SUM(amount) FILTER (WHERE month_end = last_end), SUM(amount) FROM rows_ GROUP BY g"""


@pytest.mark.parametrize(
    "grain, column",
    [("Quarter", "k.quarter"), ("Year", "k.year"), ("Area", "a.name"), ("Month", "k.year_month")],
)
def test_a_balance_is_the_last_period_summed_over_the_others(olap, olap_db, grain, column):
    presented = GRAINS[grain][1]
    got = q(olap, f'SELECT {presented}, "Facts"."Balance", "Facts"."Balance Total" FROM "Sales"')
    assert got == rows(hand(olap_db, LAST_BALANCE.format(grain=column)))


def test_a_quarter_balance_counts_the_customers_present_at_its_last_month_end(olap):
    got = q(
        olap,
        'SELECT "Time"."Quarter", "Facts"."Balance", "Facts"."Largest Balance" '
        'FROM "Sales" WHERE "Time"."Year" = 2024',
    )
    # 2024-Q1 ends 31 March: Ana 90 + Dan 200 (Ben's last balance is February's).
    assert got == [("2024-Q1", 290.0, 200.0)]


def test_the_grand_total_balance_is_the_latest_month_end(olap):
    assert q(olap, 'SELECT "Facts"."Balance" FROM "Sales"') == [(30.0,)]  # Cid, 2025-01-31


def test_a_restricted_user_sees_the_balance_of_visible_customers_only(olap, olap_db):
    got = q(olap, 'SELECT "Time"."Year", "Facts"."Balance" FROM "Sales"', user="north")
    # North: Ana and Ben (N-One), Cid (N-Two); 2024 ends on 31 March with Ana's 90.
    assert got == [(2024, 90.0), (2025, 30.0)]


# ---------------------------------------------------------------- why this source


def test_sources_lists_the_chosen_source_and_why_each_other_lost(olap):
    found = olap.sources('SELECT "Time"."Date", "Facts"."Billed" FROM "Sales"')
    assert [(c.source, c.chosen) for c in found] == [("detail", True), ("monthly", False)]
    assert "'Day' of 'Time', below the source's content ('Month')" in found[1].reason


def test_a_level_based_measure_reads_the_aggregate_through_its_plain_measure(olap):
    found = olap.sources('SELECT "Customer"."Area", "Facts"."Area Billed" FROM "Sales"')
    chosen = {c.fact: c.source for c in found if c.chosen}
    assert chosen == {
        "Sales": "monthly",
        'Sales for "Sales"."Area Billed" by "Customer"."Area"': "monthly",
    }


def test_strata_explain_why_prints_the_candidates_after_the_sql(olap_db):
    done = strata(
        "explain",
        "--model",
        str(OLAP),
        "--why",
        'SELECT "Time"."Year", "Facts"."# Customers", "Facts"."Billed" FROM "Sales"',
        OLAP_DB=str(olap_db),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "-- sources per fact (* chosen):" in lines
    assert "-- * Sales: detail: detail source: answers every level" in lines
    assert (
        "--   Sales: monthly: '# Customers' (count_distinct) cannot be merged from partial "
        "aggregates" in lines
    )


def test_explain_why_shows_a_restricted_users_filter_keeps_the_aggregate(olap):
    found = olap.sources('SELECT "Time"."Year", "Facts"."Billed" FROM "Sales"', user="north")
    assert [c.source for c in found if c.chosen] == ["monthly"]


# ---------------------------------------------------------------- fragmentation

SPLIT = {
    "Split Billed": "SUM(i.billed)",
    "Split # Invoices": "COUNT(i.invoice_id)",
    "Split # Customers": "COUNT(DISTINCT i.customer_id)",
    "Split Average": "AVG(i.billed)",
}
FILTERS = {
    "none": ("", "", {"sales_2024", "sales_2025"}),
    "archive year": ('WHERE "Time"."Year" = 2024', "WHERE k.year = 2024", {"sales_2024"}),
    "current year": ('WHERE "Time"."Year" >= 2025', "WHERE k.year >= 2025", {"sales_2025"}),
    "both years": (
        'WHERE "Time"."Year" BETWEEN 2024 AND 2025',
        "WHERE k.year BETWEEN 2024 AND 2025",
        {"sales_2024", "sales_2025"},
    ),
    "no year": ('WHERE "Time"."Year" IN (2023)', "WHERE k.year IN (2023)", {"sales_2024"}),
    "area only": (
        'WHERE "Customer"."Area" = \'North\'',
        "WHERE a.name = 'North'",
        {"sales_2024", "sales_2025"},
    ),
}


@pytest.mark.parametrize("measure", SPLIT)
@pytest.mark.parametrize("condition", FILTERS)
def test_fragments_are_read_only_where_the_conditions_need_them(olap, olap_db, measure, condition):
    logical_where, hand_where, tables = FILTERS[condition]
    result = olap.query(
        f'SELECT "Customer"."Area", "Facts"."{measure}" FROM "Sales" {logical_where}'
    )
    read = {t for t in ("sales_2024", "sales_2025") if f'"{t}"' in result.sql}
    assert read == tables
    expected = hand(
        olap_db, f"SELECT a.name, {SPLIT[measure]} FROM {DETAIL} {hand_where} GROUP BY 1"
    )
    assert rows(result.df) == rows(expected)


def test_explain_why_names_the_fragment_left_out(olap):
    found = olap.sources('SELECT "Facts"."Split Billed" FROM "Sales" WHERE "Time"."Year" = 2025')
    assert [(c.source, c.chosen) for c in found] == [("current", True), ("archive", False)]


# ---------------------------------------------------------------- verified navigation


@pytest.fixture
def stale(olap_db, tmp_path) -> Engine:
    """The olap model on a copy of its data whose aggregate missed a late invoice."""
    import shutil

    copy = tmp_path / "stale.duckdb"
    shutil.copy(olap_db, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "UPDATE agg_invoice_month SET billed = billed + 100, largest = largest + 100 "
            "WHERE period = DATE '2025-03-01' AND area_id = 2"
        )
    model = tmp_path / "model"
    shutil.copytree(OLAP, model, ignore=shutil.ignore_patterns("*.sql"))
    physical = model / "physical.yaml"
    physical.write_text(physical.read_text().replace("${OLAP_DB}", str(copy)))
    engine = Engine.open(model, store_url=f"sqlite:///{tmp_path / 'store.db'}")
    engine.verify_navigation = 1.0
    yield engine
    engine.close()


def test_verified_navigation_logs_a_stale_aggregate_and_answers_from_the_detail(stale):
    from store import open_store, recent_queries

    result = stale.query('SELECT "Time"."Year", "Facts"."Largest Bill" FROM "Sales"')
    assert "agg_invoice_month" in result.sql  # routed; the stale aggregate says 44 + 100
    assert (2025, 44.0) in rows(result.df)
    [mismatch] = stale.navigation_mismatches
    assert result.request_id in mismatch and "may be stale" in mismatch
    stale.log.flush()
    with open_store(stale._store_url) as store:
        logged = [e for e in recent_queries(store, last=10) if e.error]
    assert [e.error for e in logged] == [mismatch]
    assert '"invoice"' in logged[0].physical_sql  # the detail SQL it was compared with


def test_verified_navigation_is_silent_when_the_paths_agree(stale):
    stale.query('SELECT "Time"."Year", "Facts"."Billed" FROM "Sales" WHERE "Time"."Year" = 2024')
    stale.query('SELECT "Time"."Month", "Facts"."Billed" FROM "Sales" WHERE "Time"."Year" = 2024')
    assert stale.navigation_mismatches == []


def test_time_series_measures_declared_in_the_model_equal_the_logical_sql_functions(olap):
    declared = q(
        olap,
        'SELECT "Time"."Month", "Facts"."Billed Year Ago", "Facts"."Billed YTD", '
        '"Facts"."Growth" FROM "Sales" WHERE "Time"."Year" = 2025',
    )
    written = q(
        olap,
        'SELECT "Time"."Month", AGO("Facts"."Billed", "Time"."Month", 12), '
        'TODATE("Facts"."Billed", "Time"."Year"), ("Facts"."Billed" - AGO("Facts"."Billed", '
        '"Time"."Month", 12)) / AGO("Facts"."Billed", "Time"."Month", 12) FROM "Sales" '
        'WHERE "Time"."Year" = 2025',
    )
    assert declared == written
    assert declared[1] == ("2025-02", 25.0, 45.0, round((34 - 25) / 25, 6))


# ---------------------------------------------------------------- dense time axes


def test_a_dense_request_shows_every_period_of_the_calendar_with_null_measures(olap, olap_db):
    logical = (
        'SELECT "Time"."Month", "Facts"."Billed", "Facts"."Balance" FROM "Sales" '
        'WHERE "Time"."Year" = 2024'
    )
    got = rows(olap.query(logical, dense=True).df)
    expected = hand(
        olap_db,
        f"""WITH months AS (SELECT DISTINCT year_month FROM calendar WHERE year = 2024),
                 billed AS (SELECT k.year_month, SUM(i.billed) AS b FROM {DETAIL} GROUP BY 1),
                 ends AS (SELECT k.year_month, b.amount FROM balance b
                          JOIN calendar k ON k.date = b.month_end)
            SELECT m.year_month, billed.b, (SELECT SUM(amount) FROM ends
                                            WHERE ends.year_month = m.year_month)
            FROM months m LEFT JOIN billed USING (year_month)""",
    )
    assert got == rows(expected)
    assert len(got) == 12 and ("2024-05", None, None) in got
    assert len(olap.query(logical).df) == 4  # off by default: months with facts only


def test_a_dense_request_keeps_a_restricted_users_row_filter_on_the_facts(olap):
    got = rows(
        olap.query(
            'SELECT "Time"."Quarter", "Facts"."Billed" FROM "Sales" WHERE "Time"."Year" = 2024',
            user="north",
            dense=True,
        ).df
    )
    # North billed 10 + 20 + 5 + 30 + 10 in 2024-Q1 and nothing after (Dan, in the South,
    # billed Q4).
    assert got == [("2024-Q1", 75.0), ("2024-Q2", None), ("2024-Q3", None), ("2024-Q4", None)]


def test_dense_is_refused_for_a_request_with_other_attributes(olap):
    with pytest.raises(LogicalSQLError, match="all time columns"):
        olap.query(
            'SELECT "Time"."Month", "Customer"."Area", "Facts"."Billed" FROM "Sales"', dense=True
        )


# ---------------------------------------------------------------- roll-up policy

SHARES = (
    'SELECT "Customer"."Municipality", "Facts"."Billed", "Facts"."Area Billed", '
    '"Facts"."Total Billed" FROM "Sales"'
)


@pytest.mark.parametrize("navigate", [True, False])
def test_partial_totals_count_the_visible_members_only(olap, detail, navigate):
    engine = olap if navigate else detail
    # North sees N-One (73) and N-Two (73): its area total and grand total are 146.
    assert q(engine, SHARES, user="north") == [
        ("N-One", 73.0, 146.0, 146.0),
        ("N-Two", 73.0, 146.0, 146.0),
    ]


@pytest.mark.parametrize("navigate", [True, False])
def test_full_totals_above_the_filter_level_include_hidden_members(olap, detail, navigate):
    engine = olap if navigate else detail
    # The area total stays North's (at the filter's level); the grand total is all 237.
    assert q(engine, SHARES, user="north.full") == [
        ("N-One", 73.0, 146.0, 237.0),
        ("N-Two", 73.0, 146.0, 237.0),
    ]


@pytest.mark.parametrize("navigate", [True, False])
def test_hidden_totals_above_the_filter_level_are_null(olap, detail, navigate):
    engine = olap if navigate else detail
    assert q(engine, SHARES, user="north.hidden") == [
        ("N-One", 73.0, 146.0, None),
        ("N-Two", 73.0, 146.0, None),
    ]


def test_verified_navigation_compares_a_dense_request_with_a_dense_detail(stale):
    stale.query(
        'SELECT "Time"."Month", "Facts"."Billed" FROM "Sales" WHERE "Time"."Year" = 2024',
        dense=True,
    )
    assert stale.navigation_mismatches == []


# ---------------------------------------------------------------- routes in the query log


@pytest.fixture(scope="module")
def logged(olap_db, tmp_path_factory) -> Engine:
    """The olap model with its own app store, to read back what the query log kept."""
    store = tmp_path_factory.mktemp("routes") / "store.db"
    engine = Engine.open(OLAP, store_url=f"sqlite:///{store}")
    yield engine
    engine.close()


def _routes(engine: Engine, logical: str, user: str | None = None):
    from store import logged_request, open_store

    result = engine.query(logical, user=user)
    engine.log.flush()
    with open_store(engine._store_url) as store:
        return logged_request(store, result.request_id).routes


def test_the_log_keeps_the_source_coverage_and_data_version_of_a_routed_query(logged, olap_db):
    from store import QueryRoute

    got = _routes(logged, 'SELECT "Time"."Year", "Customer"."Area", "Facts"."Billed" FROM "Sales"')
    version = logged._backend("olap").version()
    assert version.startswith(str(olap_db.resolve()))  # the file, as the engine read it
    coverage = "Time: Year from Month; Geography: Area from Area"
    assert got == (QueryRoute("Sales", "monthly", True, coverage, version),)


def test_the_log_keeps_the_detail_source_a_distinct_count_was_sent_to(logged):
    [route] = _routes(logged, 'SELECT "Time"."Year", "Facts"."# Customers" FROM "Sales"')
    assert (route.source, route.aggregate, route.coverage) == (
        "detail",
        False,
        "Time: Year from detail",
    )


def test_the_log_covers_a_restricted_users_row_filter_level(logged):
    [route] = _routes(logged, 'SELECT "Time"."Year", "Facts"."Billed" FROM "Sales"', "north")
    # North's row filter is on Area: the aggregate had to hold Area to answer.
    assert (route.source, route.coverage) == (
        "monthly",
        "Time: Year from Month; Geography: Area from Area",
    )


def test_the_log_names_the_fragments_a_query_read_and_each_side_query(logged):
    got = _routes(
        logged,
        'SELECT "Time"."Month", "Facts"."Split Billed", "Facts"."Billed", '
        'AGO("Facts"."Billed", "Time"."Month", 12) FROM "Sales" WHERE "Time"."Year" = 2025',
    )
    assert [(r.fact, r.source) for r in got] == [
        ("Split Sales", "current"),
        ("Sales", "monthly"),
        ('Sales for AGO of "Sales"."Billed"', "monthly"),
    ]


def test_a_fact_with_one_source_logs_no_route(logged):
    assert _routes(logged, 'SELECT "Time"."Year", "Facts"."Balance" FROM "Sales"') == ()


def test_strata_log_prints_each_route_under_its_request(olap_db, tmp_path):
    logical = 'SELECT "Time"."Year", "Facts"."Billed" FROM "Sales"'
    engine = Engine.open(OLAP, store_url=f"sqlite:///{tmp_path / 'app.db'}")
    engine.query(logical)
    engine.close()
    done = strata("log", "--last", "1", STRATA_DATA=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "  route: Sales <- monthly (aggregate; Time: Year from Month; data version " in (
        done.stdout
    )


# ---------------------------------------------------------------- the roll-up matrix
#
# Every aggregation rule x every roll-up path x an unrestricted and a restricted user, each
# cell against hand SQL on the detail tables, and each routed as the merge rules allow:
# count distinct is never summed across grains, an average never averaged, a semi-additive
# measure never read from an aggregate; the fragment path combines both fragments' rows.

# path -> (aggregate navigation on, logical grain, the same grain in hand SQL)
PATHS = {
    "detail": (False, ['"Time"."Quarter"', '"Customer"."Area"'], ["k.quarter", "a.name"]),
    "aggregate at its level": (
        True,
        ['"Time"."Month"', '"Customer"."Area"', '"Customer"."Tariff Group"'],
        ["k.year_month", "a.name", "t.name"],
    ),
    "aggregate one level up": (
        True,
        ['"Time"."Quarter"', '"Customer"."Area"'],
        ["k.quarter", "a.name"],
    ),
    "aggregate two levels up": (
        True,
        ['"Time"."Year"', '"Customer"."Customer Type"'],
        ["k.year", "t.customer_type"],
    ),
    "fragment union": (True, ['"Customer"."Area"'], ["a.name"]),
}
# rule -> (measure of Sales, measure of Split Sales, hand aggregate over the rows `r`)
RULES = {
    "sum": ("Billed", "Split Billed", "SUM(billed)"),
    "count": ("# Invoices", "Split # Invoices", "COUNT(invoice_id)"),
    "count distinct": ("# Customers", "Split # Customers", "COUNT(DISTINCT customer_id)"),
    "avg": ("Average Bill", "Split Average", "AVG(billed)"),
    "min": ("Smallest Bill", "Split Smallest", "MIN(billed)"),
    "max": ("Largest Bill", "Split Largest", "MAX(billed)"),
    # The group's latest day's bills: the group's own latest day among the rows it sees.
    "semi-additive last": (
        "Last Day Billed",
        "Split Last Day Billed",
        "SUM(billed) FILTER (WHERE date = last)",
    ),
}
FROM_AGGREGATE = {"sum", "count", "avg", "min", "max"}
USERS = {"unrestricted": (None, ""), "restricted": ("north", "WHERE a.name = 'North'")}


def _matrix_hand(olap_db, rule: str, grain: list[str], where: str) -> list[tuple]:
    keys = ", ".join(grain)
    named = ", ".join(f"{g} AS g{n}" for n, g in enumerate(grain))
    sql = f"""WITH r AS (
        SELECT {named}, i.billed, i.invoice_id, i.customer_id, k.date,
               MAX(k.date) OVER (PARTITION BY {keys}) AS last
        FROM {DETAIL} {where})
      SELECT {", ".join(f"g{n}" for n in range(len(grain)))}, {RULES[rule][2]}
      FROM r GROUP BY ALL"""
    return rows(hand(olap_db, sql))


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rule", RULES)
def test_matrix_cell_equals_hand_sql_and_is_routed_as_its_rule_allows(
    olap, detail, olap_db, rule, path, user
):
    navigate, grain, hand_grain = PATHS[path]
    name, user_where = USERS[user]
    measure = RULES[rule][1] if path == "fragment union" else RULES[rule][0]
    logical = f'SELECT {", ".join(grain)}, "Facts"."{measure}" FROM "Sales"'
    result = (olap if navigate else detail).query(logical, user=name)
    assert rows(result.df) == _matrix_hand(olap_db, rule, hand_grain, user_where)
    routed = "agg_invoice_month" in result.sql
    if path == "fragment union":
        assert '"sales_2024"' in result.sql and '"sales_2025"' in result.sql
    else:
        assert routed == (navigate and rule in FROM_AGGREGATE)
    if routed:  # the two source paths agree
        assert rows(result.df) == rows(detail.query(logical, user=name).df)


def test_the_matrix_data_tells_each_wrong_roll_up_from_the_right_one(olap_db):
    """The matrix could pass with wrong roll-ups only if the data hid them; it does not."""
    by_month = f"""SELECT k.quarter, k.year_month, a.name, COUNT(DISTINCT i.customer_id) AS n,
        AVG(i.billed) AS a FROM {DETAIL} GROUP BY ALL"""
    # Count distinct summed across months: Ana, billed in 2025-01 and 2025-02, twice.
    summed = hand(olap_db, f"SELECT quarter, name, SUM(n) FROM ({by_month}) GROUP BY ALL")
    right = _matrix_hand(olap_db, "count distinct", ["k.quarter", "a.name"], "")
    assert ("2025-Q1", "North", 3) in right and ("2025-Q1", "North", 4) in rows(summed)
    # The average of the aggregate rows' averages: 2024-Q1 North is (10 + 20 + 5 + 30 + 10) / 5
    # = 15 by invoice, not (10 + 20 + 5 + 40 / 2) / 4 = 13.75 by row (Cid's two March bills).
    averaged = hand(
        olap_db,
        """SELECT k.quarter, a.name, AVG(g.billed / g.invoices) FROM agg_invoice_month g
           JOIN area a USING (area_id) JOIN calendar k ON k.date = g.period GROUP BY ALL""",
    )
    right = _matrix_hand(olap_db, "avg", ["k.quarter", "a.name"], "")
    assert ("2024-Q1", "North", 15.0) in right and ("2024-Q1", "North", 13.75) in rows(averaged)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("path", [p for p in PATHS if p.startswith("aggregate")])
@pytest.mark.parametrize("rule", ["sum", "max"])
def test_a_stale_aggregate_partition_is_caught_and_answered_from_the_detail(
    stale, olap_db, rule, path, user
):
    # The stale copy's 2025-03 South partition holds 100 more (billed and largest bill).
    _, grain, hand_grain = PATHS[path]
    name, user_where = USERS[user]
    logical = f'SELECT {", ".join(grain)}, "Facts"."{RULES[rule][0]}" FROM "Sales"'
    result = stale.query(logical, user=name)
    assert "agg_invoice_month" in result.sql
    assert rows(result.df) == _matrix_hand(olap_db, rule, hand_grain, user_where)
    # North never sees the stale South partition: its routed answer was right.
    assert len(stale.navigation_mismatches) == (0 if name else 1)


# ---------------------------------------------------------------- functions in multi-fact requests

BALANCES = """balance bl JOIN customer c USING (customer_id)
  LEFT JOIN municipality m USING (municipality_id) LEFT JOIN area a ON a.area_id = m.area_id
  JOIN calendar k ON k.date = bl.month_end"""
# Per calendar month (numbered n, gaps included): invoices billed b and balances t.
TWO_FACTS = f"""WITH months AS (
    SELECT year_month, year, DENSE_RANK() OVER (ORDER BY year_month) AS n
    FROM (SELECT DISTINCT year_month, year FROM calendar)),
  b AS (SELECT k.year_month, SUM(i.billed) AS b FROM {DETAIL} {{where}} GROUP BY 1),
  t AS (SELECT k.year_month, SUM(bl.amount) AS t FROM {BALANCES} {{where}} GROUP BY 1),
  s AS (SELECT * FROM months LEFT JOIN b USING (year_month) LEFT JOIN t USING (year_month))"""


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("navigation", ["aggregate", "detail"])
def test_time_series_of_two_facts_in_one_request_equal_hand_sql(
    olap, detail, olap_db, navigation, user
):
    name, where = USERS[user]
    got = q(
        olap if navigation == "aggregate" else detail,
        'SELECT "Time"."Month", "Facts"."Billed", "Facts"."Balance Total", '
        'AGO("Facts"."Billed", "Time"."Month", 12), '
        'TODATE("Facts"."Balance Total", "Time"."Year") FROM "Sales"',
        user=name,
    )
    expected = hand(
        olap_db,
        TWO_FACTS.format(where=where)
        + """
        SELECT s.year_month, s.b, s.t, ago.b,
               (SELECT SUM(x.t) FROM s x WHERE x.year = s.year AND x.year_month <= s.year_month)
        FROM s LEFT JOIN s ago ON ago.n = s.n - 12
        WHERE s.b IS NOT NULL OR s.t IS NOT NULL""",
    )
    assert got == rows(expected)
    # 2024-03: billed 30 + 10 (Cid); balances 90 (Ana) + 200 (Dan), 620 for the year to date
    # (150 + 180 + 290); North does not see Dan: 90, and 150 + 180 + 90 = 420.
    march = {"unrestricted": (290.0, 620.0), "restricted": (90.0, 420.0)}[user]
    assert ("2024-03", 40.0, march[0], None, march[1]) in got


@pytest.mark.parametrize("user", USERS)
def test_a_function_of_an_expression_over_two_facts_is_that_expression_of_each(olap, olap_db, user):
    name, where = USERS[user]
    got = q(
        olap,
        'SELECT "Time"."Month", TODATE("Facts"."Billed" - "Facts"."Balance Total", '
        '"Time"."Year") FROM "Sales"',
        user=name,
    )
    expected = hand(
        olap_db,
        TWO_FACTS.format(where=where)
        + """
        SELECT s.year_month,
               (SELECT SUM(x.b) FROM s x WHERE x.year = s.year AND x.year_month <= s.year_month)
             - (SELECT SUM(x.t) FROM s x WHERE x.year = s.year AND x.year_month <= s.year_month)
        FROM s WHERE s.b IS NOT NULL""",
    )
    assert got == rows(expected)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("navigation", ["aggregate", "detail"])
def test_aggregate_by_a_level_of_two_facts_in_one_request_equals_hand_sql(
    olap, detail, olap_db, navigation, user
):
    name, where = USERS[user]
    got = q(
        olap if navigation == "aggregate" else detail,
        'SELECT "Customer"."Municipality", "Facts"."Billed", "Facts"."Balance Total", '
        'AGGREGATE("Facts"."Billed" BY "Customer"."Area"), '
        'AGGREGATE("Facts"."Balance Total" BY "Customer"."Area"), '
        'AGGREGATE("Facts"."Billed" - "Facts"."Balance Total" BY) FROM "Sales"',
        user=name,
    )
    expected = hand(
        olap_db,
        f"""WITH b AS (SELECT m.name AS mun, a.name AS area, SUM(i.billed) AS b
                       FROM {DETAIL} {where} GROUP BY ALL),
             t AS (SELECT m.name AS mun, a.name AS area, SUM(bl.amount) AS t
                   FROM {BALANCES} {where} GROUP BY ALL),
             s AS (SELECT COALESCE(b.mun, t.mun) AS mun, COALESCE(b.area, t.area) AS area, b, t
                   FROM b FULL JOIN t ON b.mun IS NOT DISTINCT FROM t.mun)
        SELECT mun, b, t, SUM(b) OVER (PARTITION BY area), SUM(t) OVER (PARTITION BY area),
               SUM(b) OVER () - SUM(t) OVER ()
        FROM s""",
    )
    assert got == rows(expected)
