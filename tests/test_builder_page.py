"""The analysis builder's pages, driven by Streamlit's AppTest (no browser) on the tiny model."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from store import open_store
from store.analyses import list_analyses
from tests.conftest import ROOT, TINY, hand, rows


def open_app(monkeypatch, tmp_path, model, data=None) -> AppTest:
    """The app on `model`, with an app store of its own and a fresh engine."""
    monkeypatch.setenv("STRATA_MODEL", str(model))
    if data is not None:
        monkeypatch.setenv("STRATA_DATA", str(data))
    monkeypatch.setenv("STRATA_STORE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.chdir(ROOT)
    from presentation import state

    state._engine.clear()  # a fresh engine, so the store of this test is the one written
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    return at


@pytest.fixture
def app(tiny_db, monkeypatch, tmp_path):
    return open_app(monkeypatch, tmp_path, TINY)


def tick(at: AppTest, label: str) -> None:
    boxes = [c for c in at.checkbox if c.label == label]
    assert len(boxes) == 1, (
        f"no single checkbox {label!r}: {[c.label for c in at.checkbox]}; "
        f"errors {[e.value for e in at.error]}; exception {at.exception}"
    )
    [box] = boxes
    box.check()
    at.run()
    assert not at.exception, at.exception


def frame_with(at: AppTest, *columns: str):
    for df in at.dataframe:
        if list(df.value.columns) == list(columns):
            return df.value
    raise AssertionError(
        f"no result with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}"
    )


def test_ticking_columns_shows_the_same_rows_as_hand_written_sql(app, tiny_db):
    tick(app, "Type")
    tick(app, "Σ Billed")
    got = frame_with(app, "Type", "Billed")
    want = hand(
        tiny_db,
        "SELECT c.customer_type, SUM(i.billed) FROM invoice i "
        "LEFT JOIN customer c USING (customer_id) GROUP BY 1",
    )
    assert rows(got) == rows(want) == [("Commercial", 100.0), ("Household", 65.0)]


def test_a_column_that_cannot_join_the_selection_is_greyed_out_with_the_reason(app):
    tick(app, "Σ Billed")
    [service] = [c for c in app.checkbox if c.label == "Service"]
    assert service.disabled
    assert service.help.startswith("Cannot be added:")
    assert "Billed" in service.help


def test_a_condition_added_on_the_filters_tab_narrows_the_result(app):
    tick(app, "Name")
    app.button(key=next(b.key for b in app.button if b.label == "+ Condition")).click().run()
    column = next(s for s in app.selectbox if s.label == "Column")
    column.select(("Customer", "Type")).run()
    values = next(m for m in app.multiselect if m.label == "Values")
    assert "Household" in values.options
    values.select("Commercial").run()
    assert not app.exception
    assert rows(frame_with(app, "Name")) == [("Cazim d.o.o.",)]


def test_saving_puts_the_analysis_in_my_folder_with_its_definition(app, tmp_path):
    tick(app, "Area")
    app.text_input(key="b_save_name").input("Areas").run()
    app.button(key="b_save").click().run()
    assert not app.exception
    assert any("Saved 'Areas'" in s.value for s in app.success)
    with open_store(f"sqlite:///{tmp_path / 'app.db'}") as store:
        [saved] = list_analyses(store, "anonymous")
    assert (saved.name, saved.kind, saved.subject_area) == ("Areas", "analysis", "Tiny")
    assert saved.logical_sql == 'SELECT "Customer"."Area" FROM "Tiny"'
    assert '"column":"Area"' in saved.spec


def test_the_pivot_view_shows_engine_totals(app):
    tick(app, "Σ # Billed Customers")  # first: Type and Month relate only through a fact
    tick(app, "Type")
    tick(app, "Month")
    app.segmented_control(key="b_view").set_value("Pivot").run()
    assert not app.exception
    pivot = frame_with(
        app,
        "Type",
        "2025-01 · # Billed Customers",
        "2025-02 · # Billed Customers",
        "Total · # Billed Customers",
    )
    # Amra billed in January and February: counted once in the household total.
    assert pivot.iloc[-1].tolist() == ["Total", 4, 1, 4]
    assert pivot[pivot["Type"] == "Household"].iloc[0].tolist() == ["Household", 3, 1, 3]


def test_the_advanced_tab_shows_the_logical_sql_of_the_criteria(app):
    tick(app, "Area")
    sql = next(t for t in app.text_area if t.label == "Logical SQL").value
    assert sql == 'SELECT "Customer"."Area" FROM "Tiny"'


def test_changing_the_subject_area_starts_a_new_analysis(app):
    tick(app, "Area")
    app.selectbox(key="b_area_pick").select("Areas").run()
    assert [c.label for c in app.checkbox if c.label != "NOT"] == ["Area Name"]
    assert not any(c.value for c in app.checkbox)


def add_condition(at: AppTest, column: tuple[str, str], operator: str | None = None) -> None:
    at.button(key=next(b.key for b in at.button if b.label == "+ Condition")).click().run()
    next(s for s in reversed(at.selectbox) if s.label == "Column").select(column).run()
    if operator:
        next(s for s in reversed(at.selectbox) if s.label == "Operator").select(operator).run()
    assert not at.exception, at.exception


def test_a_prompted_filter_keeps_every_row_until_the_prompt_is_answered(app):
    tick(app, "Name")
    add_condition(app, ("Customer", "Area"), "is prompted")
    assert len(frame_with(app, "Name")) == 4
    prompt = next(m for m in app.multiselect if m.label == "Area (prompt)")
    assert prompt.options == ["Sarajevo", "Zenica"]  # values the engine lists, NULL aside
    prompt.select("Zenica").run()
    assert rows(frame_with(app, "Name")) == [("Cazim d.o.o.",)]


def test_a_saved_filter_is_offered_in_the_next_analysis_and_applied(app):
    tick(app, "Name")
    add_condition(app, ("Customer", "Type"))
    next(m for m in app.multiselect if m.label == "Values").select("Household").run()
    app.text_input(key="b_filter_name").input("Households").run()
    app.button(key="b_filter_save").click().run()
    assert any("Saved filter 'Households'" in s.value for s in app.success)

    app.selectbox(key="b_area_pick").select("Areas").run()
    app.selectbox(key="b_area_pick").select("Tiny").run()  # a new, empty analysis
    tick(app, "Name")
    assert len(frame_with(app, "Name")) == 4
    saved = next(s for s in app.selectbox if s.label == "+ Saved filter")
    saved.select("Households").run()
    assert not app.exception, app.exception
    assert rows(frame_with(app, "Name")) == [("Amra",), ("Bakir",), ("Dina",)]


@pytest.fixture
def demo_app(demo_db, monkeypatch, tmp_path):
    at = open_app(monkeypatch, tmp_path, ROOT / "models" / "demo", demo_db.parent)
    at.selectbox(key="b_area_pick").select("Campaigns").run()
    return at


def test_acting_as_an_area_office_shows_only_that_areas_rows(demo_app, demo_db):
    demo_app.selectbox(key="acting_user").select("zenica.office").run()
    tick(demo_app, "Distribution Area")
    tick(demo_app, "Σ # Customers")
    got = frame_with(demo_app, "Distribution Area", "# Customers")
    want = hand(
        demo_db,
        "SELECT a.name, COUNT(*) FROM customer c JOIN municipality m USING (municipality_id) "
        "JOIN area a USING (area_id) WHERE a.name = 'Zenica' GROUP BY 1",
    )
    assert rows(got) == rows(want) and len(want) == 1


def test_the_model_browser_is_for_administrators(demo_app):
    page = AppTest.from_string(
        "from presentation import model_page\nmodel_page.render()", default_timeout=60
    )
    page.session_state["acting_user"] = "marketer"
    page.run()
    assert any("for administrators" in i.value for i in page.info)
    page.session_state["acting_user"] = "admin"
    page.run()
    assert any("passes `strata check`" in s.value for s in page.success)
    assert [t.label for t in page.tabs] == ["Physical", "Business", "Presentation"]


def test_the_query_log_shows_a_user_their_own_requests_only(demo_app):
    demo_app.selectbox(key="acting_user").select("marketer").run()
    tick(demo_app, "Distribution Area")
    page = AppTest.from_string(
        "from presentation import log_page\nlog_page.render()", default_timeout=60
    )
    page.session_state["acting_user"] = "marketer"
    page.run()
    users = set(page.dataframe[0].value["user"])
    assert users == {"marketer"}
    page.session_state["acting_user"] = "admin"
    page.run()
    assert "marketer" in set(page.dataframe[0].value["user"])  # an administrator sees everyone's
    assert any("Every user's requests" in c.value for c in page.caption)


def test_the_advanced_tab_shows_the_physical_sql_and_timings_from_the_query_log(app):
    tick(app, "Area")
    assert any('FROM "customer"' in c.value for c in app.code)
    timings = next(t for t in app.table if "stage" in t.value.columns).value
    assert list(timings["stage"]) == ["parse", "resolve", "plan", "generate", "execute", "fetch"]
    assert any("row(s) · cache" in c.value for c in app.caption)


def test_drilling_a_year_adds_its_quarters_filtered_to_that_year(demo_app, demo_db):
    demo_app.selectbox(key="b_area_pick").select("Billing").run()
    tick(demo_app, "Year")
    tick(demo_app, "Σ Billed Amount")
    years = frame_with(demo_app, "Year", "Billed Amount")
    first = int(years["Year"].iloc[0])
    demo_app.session_state["b_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    demo_app.run()
    demo_app.button(key="b_drill::0").click().run()
    assert not demo_app.exception, demo_app.exception
    got = frame_with(demo_app, "Year", "Quarter", "Billed Amount")
    want = hand(
        demo_db,
        f"SELECT c.year, c.year || '-Q' || c.quarter, SUM(i.billed_amount) FROM invoice i "
        f"JOIN calendar c ON i.period = c.date WHERE c.year = {first} GROUP BY 1, 2",
    )
    assert rows(got) == rows(want) and len(want) >= 1


def test_save_as_campaign_list_freezes_what_the_acting_user_may_see(demo_app, demo_db, tmp_path):
    from campaigns import get_list, list_members

    demo_app.selectbox(key="acting_user").select("tuzla.mostar").run()
    tick(demo_app, "Customer Id")
    tick(demo_app, "Distribution Area")
    demo_app.text_input(key="b_list_name").input("Tuzla and Mostar").run()
    demo_app.button(key="b_list_save").click().run()
    assert not demo_app.exception, demo_app.exception
    assert any("Campaign list 'Tuzla and Mostar' version 1" in s.value for s in demo_app.success)
    want = hand(
        demo_db,
        "SELECT c.customer_id FROM customer c JOIN municipality m USING (municipality_id) "
        "JOIN area a USING (area_id) WHERE a.name IN ('Tuzla', 'Mostar')",
    )
    with open_store(f"sqlite:///{tmp_path / 'app.db'}") as store:
        frozen = get_list(store, "Tuzla and Mostar")
        members = list_members(store, frozen)
    assert frozen.created_by == "tuzla.mostar" and frozen.row_count == len(want)
    assert sorted(int(m.key) for m in members) == sorted(want["customer_id"].tolist())
    assert {m.fields["Distribution Area"] for m in members} == {"Tuzla", "Mostar"}


def test_selected_columns_can_be_relabelled_sorted_and_reordered(app):
    tick(app, "Name")
    tick(app, "Σ Billed")
    editor = f"b_selected::{app.session_state['b_version']}"
    app.session_state[editor] = {
        "edited_rows": {0: {"Position": 2}, 1: {"Position": 1, "Label": "KM", "Sort": "desc"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert not app.exception, app.exception
    sql = next(t for t in app.text_area if t.label == "Logical SQL").value
    assert sql == (
        'SELECT "Facts"."Billed" AS "KM", "Customer"."Name" FROM "Tiny" '
        'ORDER BY "Facts"."Billed" DESC'
    )
    assert frame_with(app, "KM", "Name")["KM"].tolist() == [100.0, 30.0, 30.0, 5.0]


def test_a_long_value_list_says_it_is_truncated_and_searches_the_database(demo_app, demo_db):
    tick(demo_app, "Customer Name")
    add_condition(demo_app, ("Customer", "Customer Name"))
    assert any("List truncated at 200 values" in c.value for c in demo_app.caption)
    search = next(t for t in demo_app.text_input if t.label == "Search values")
    search.input("vukovi").run()
    offered = next(m for m in demo_app.multiselect if m.label == "Values").options
    want = hand(
        demo_db,
        "SELECT DISTINCT name FROM customer WHERE lower(name) LIKE '%vukovi%' ORDER BY 1 LIMIT 200",
    )
    assert offered == want["name"].tolist() and len(offered) > 0
