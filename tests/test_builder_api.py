"""The analysis builder's engine calls, each checked against hand-written SQL on the tiny model."""

from __future__ import annotations

from datetime import date

import pytest

from engine.analysis import (
    Analysis,
    Condition,
    FilterGroup,
    NamedFilterRef,
    Selected,
    _last,
    analysis_from_json,
    analysis_json,
    to_logical_sql,
)
from engine.errors import LogicalSQLError
from engine.pivot import PivotLayout
from engine.values import ValueList
from semantic.errors import StrataError
from store import open_store
from store.analyses import list_analyses, save_analysis
from tests.conftest import hand, rows

NAME = Selected("Customer", "Name", sort="asc")


def run(engine, analysis, **options):
    return engine.query(to_logical_sql(analysis, **options)).df


def test_and_or_groups_select_what_the_hand_written_where_selects(tiny, tiny_db):
    filters = FilterGroup(
        "and",
        (
            Condition("Customer", "Type", "=", ("Household",)),
            FilterGroup(
                "or",
                (
                    Condition("Customer", "Area", "=", ("Sarajevo",)),
                    Condition("Customer", "Area", "is null"),
                ),
            ),
        ),
    )
    got = run(tiny, Analysis("Tiny", (NAME,), filters))
    want = hand(
        tiny_db,
        "SELECT c.name FROM customer c LEFT JOIN area a USING (area_id) "
        "WHERE c.customer_type = 'Household' AND (a.name = 'Sarajevo' OR a.name IS NULL)",
    )
    assert rows(got) == rows(want) == [("Amra",), ("Bakir",), ("Dina",)]


def test_a_negated_group_keeps_the_rows_the_group_would_drop(tiny):
    filters = FilterGroup("and", (Condition("Customer", "Type", "=", ("Household",)),), True)
    assert rows(run(tiny, Analysis("Tiny", (NAME,), filters))) == [("Cazim d.o.o.",)]


def test_a_quote_in_a_value_is_a_value_not_sql(tiny):
    filters = FilterGroup("or", (Condition("Customer", "Name", "=", ("x' OR '1'='1",)),))
    assert run(tiny, Analysis("Tiny", (NAME,), filters)).empty


def test_contains_treats_like_wildcards_as_plain_characters(tiny):
    def matching(term):
        cond = Condition("Customer", "Name", "contains", (term,))
        return rows(run(tiny, Analysis("Tiny", (NAME,), FilterGroup("and", (cond,)))))

    assert matching("_") == [] and matching("%") == []
    assert matching("AM") == [("Amra",)]  # case-insensitive


def test_a_measure_condition_filters_after_aggregation(tiny, tiny_db):
    analysis = Analysis(
        "Tiny",
        (NAME, Selected("Facts", "Billed")),
        FilterGroup("and", (Condition("Facts", "Billed", ">", ("25",), "number"),)),
    )
    want = hand(
        tiny_db,
        "SELECT c.name, SUM(i.billed) FROM invoice i JOIN customer c USING (customer_id) "
        "GROUP BY c.name HAVING SUM(i.billed) > 25",
    )
    assert (
        rows(run(tiny, analysis))
        == rows(want)
        == [("Amra", 30.0), ("Bakir", 30.0), ("Cazim d.o.o.", 100.0)]
    )


def test_an_unanswered_prompt_adds_no_condition_and_an_answered_one_restricts(tiny):
    prompted = Condition("Customer", "Area", "is prompted")
    analysis = Analysis("Tiny", (NAME,), FilterGroup("and", (prompted,)))
    assert len(run(tiny, analysis)) == 4
    answered = run(tiny, analysis, prompts={("Customer", "Area"): ("Zenica",)})
    assert rows(answered) == [("Cazim d.o.o.",)]


def test_a_named_filter_is_applied_as_saved_and_a_missing_one_is_an_error(tiny):
    households = FilterGroup("and", (Condition("Customer", "Type", "=", ("Household",)),))
    analysis = Analysis("Tiny", (NAME,), FilterGroup("and", (NamedFilterRef("Households"),)))
    assert len(run(tiny, analysis, named={"shared/Households": households})) == 3
    with pytest.raises(LogicalSQLError, match="no saved filter named 'Households'"):
        to_logical_sql(analysis)


def test_a_named_filter_that_refers_to_itself_is_an_error_not_a_hang():
    loop = FilterGroup("and", (NamedFilterRef("Loop"),))
    with pytest.raises(LogicalSQLError, match="refers to itself"):
        to_logical_sql(Analysis("Tiny", (NAME,), loop), named={"shared/Loop": loop})


@pytest.mark.parametrize(
    ("n", "unit", "today", "start"),
    [
        (7, "days", date(2026, 3, 3), date(2026, 2, 25)),
        (3, "months", date(2026, 5, 31), date(2026, 3, 1)),
        (1, "months", date(2026, 3, 31), date(2026, 3, 1)),  # Feb 28 + 1 day
        (1, "years", date(2024, 2, 29), date(2023, 3, 1)),
    ],
)
def test_last_n_units_ends_today_and_starts_the_day_after_n_units_back(n, unit, today, start):
    assert _last(n, unit, today) == (start, today)


def test_a_condition_missing_a_value_names_the_column_and_what_to_do():
    between = Condition("Facts", "Billed", "between", ("1",), "number")
    with pytest.raises(LogicalSQLError, match=r'"Facts"."Billed" \(between\) needs 2 value'):
        to_logical_sql(Analysis("Tiny", (NAME,), FilterGroup("and", (between,))))


def test_an_analysis_survives_its_json_round_trip():
    analysis = Analysis(
        "Tiny",
        (NAME, Selected("Facts", "Billed", label="Billed (KM)", sort="desc")),
        FilterGroup("or", (Condition("Facts", "Billed", "between", (1, 2.5), "number"),)),
    )
    assert analysis_from_json(analysis_json(analysis)) == analysis


def test_value_lists_are_sorted_searched_and_flag_truncation(tiny):
    assert tiny.values("Tiny", "Customer", "Name", limit=2) == ValueList(("Amra", "Bakir"), True)
    found = tiny.values("Tiny", "Customer", "Name", search="a", limit=10)
    assert found.values == ("Amra", "Bakir", "Cazim d.o.o.", "Dina") and not found.truncated


def test_a_restricted_user_is_offered_only_the_values_they_may_see(demo, demo_db):
    offered = demo.values("Campaigns", "Customer", "Distribution Area", user="sarajevo.office")
    assert offered.values == ("Sarajevo",)


def test_columns_that_cannot_join_the_selection_come_with_the_engines_reason(tiny):
    reasons = tiny.combinable("Tiny", (("Facts", "Billed"),))
    assert reasons[("Customer", "Area")] is None
    refusal = reasons[("Service", "Service")]
    with pytest.raises(LogicalSQLError) as compiled:
        tiny.explain('SELECT "Facts"."Billed", "Service"."Service" FROM "Tiny"')
    assert refusal == str(compiled.value)


def test_a_hidden_column_is_absent_from_the_tree_for_a_user_without_its_role(demo):
    def folders(user):
        return {f.name for f in demo.columns("Campaigns", user=user)}

    assert "Contact" in folders("marketer") and "Contact" not in folders("zenica.office")


def test_pivot_totals_are_distinct_counts_at_their_own_grain_not_sums_of_cells(tiny, tiny_db):
    analysis = Analysis(
        "Tiny",
        (
            Selected("Customer", "Type"),
            Selected("Period", "Month"),
            Selected("Facts", "# Billed Customers"),
        ),
    )
    frame = tiny.pivot(analysis, PivotLayout(("Type",), ("Month",), ("# Billed Customers",)))
    by_type = dict(
        hand(
            tiny_db,
            "SELECT c.customer_type, COUNT(DISTINCT i.customer_id) FROM invoice i "
            "JOIN customer c USING (customer_id) GROUP BY 1",
        ).itertuples(index=False)
    )
    household = frame[frame["Type"] == "Household"].iloc[0]
    # Amra billed in both months: 3 households in January, 1 in February, 3 in all (not 4).
    assert (
        household["2025-01 · # Billed Customers"],
        household["2025-02 · # Billed Customers"],
    ) == (
        3,
        1,
    )
    assert household["Total · # Billed Customers"] == by_type["Household"] == 3
    total = frame[frame["Type"] == "Total"].iloc[0]
    assert total["Total · # Billed Customers"] == 4
    assert total["2025-01 · # Billed Customers"] == 4


def test_a_named_filter_cannot_replace_an_analysis_of_the_same_name(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'app.db'}") as store:
        save_analysis(store, "ana", "Households", "SELECT 1", "Tiny")
        with pytest.raises(StrataError, match="an analysis named 'Households' already exists"):
            save_analysis(store, "ana", "Households", "SELECT 2", "Tiny", kind="filter")
        assert [(a.name, a.kind) for a in list_analyses(store, "ana")] == [
            ("Households", "analysis")
        ]


def test_pivot_totals_under_a_measure_filter_add_up_the_cells_that_passed_it(tiny, tiny_db):
    analysis = Analysis(
        "Tiny",
        (Selected("Customer", "Name"), Selected("Period", "Month"), Selected("Facts", "Billed")),
        FilterGroup("and", (Condition("Facts", "Billed", ">", (25,), "number"),)),
    )
    frame = tiny.pivot(analysis, PivotLayout(("Name",), ("Month",), ("Billed",)))
    passed = hand(
        tiny_db,
        "SELECT c.name, i.month, SUM(i.billed) AS b FROM invoice i JOIN customer c "
        "USING (customer_id) GROUP BY 1, 2 HAVING SUM(i.billed) > 25",
    )
    assert rows(passed) == [("Bakir", "2025-01", 30.0), ("Cazim d.o.o.", "2025-01", 100.0)]
    assert frame["Name"].tolist() == ["Bakir", "Cazim d.o.o.", "Total"]
    assert frame["Total · Billed"].tolist() == [30.0, 100.0, 130.0]  # not January's 145
    assert frame["2025-01 · Billed"].tolist() == [30.0, 100.0, 130.0]


def test_a_pivot_with_no_cell_passing_its_measure_filter_has_empty_totals(tiny):
    analysis = Analysis(
        "Tiny",
        (Selected("Customer", "Name"), Selected("Facts", "Billed")),
        FilterGroup("and", (Condition("Facts", "Billed", ">", (1000,), "number"),)),
    )
    frame = tiny.pivot(analysis, PivotLayout(("Name",), (), ("Billed",)))
    assert frame["Name"].tolist() == ["Total"] and frame["Billed"].isna().all()


def test_last_n_days_on_a_timestamp_keeps_every_instant_of_today():
    condition = Condition("Request", "Day", "last", (7, "days"), "timestamp")
    sql = to_logical_sql(
        Analysis("Usage", (Selected("Request", "User"),), FilterGroup("and", (condition,))),
        today=date(2026, 5, 31),
    )
    assert (
        '"Request"."Day" >= CAST(\'2026-05-25 00:00:00\' AS TIMESTAMP) AND '
        '"Request"."Day" < CAST(\'2026-06-01 00:00:00\' AS TIMESTAMP)' in sql
    )


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_non_finite_number_is_refused_not_written_as_a_name(bad):
    condition = Condition("Facts", "Billed", ">", (bad,), "number")
    with pytest.raises(LogicalSQLError, match="is not a finite number"):
        to_logical_sql(Analysis("Tiny", (NAME,), FilterGroup("and", (condition,))))


def test_a_date_condition_takes_a_timestamp_value_as_its_day():
    import pandas as pd

    condition = Condition("Period", "Day", "=", (pd.Timestamp("2025-03-01 13:00"),), "date")
    sql = to_logical_sql(Analysis("Tiny", (NAME,), FilterGroup("and", (condition,))))
    assert '"Period"."Day" = CAST(\'2025-03-01\' AS DATE)' in sql
