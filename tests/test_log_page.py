"""The Query log page, driven by Streamlit's AppTest on the demo: a routed request shows the
source each fact query read, whether it is an aggregate, its coverage per hierarchy level and
the data version, as `strata log` prints them; the expected routes are worked out from the
demo model's YAML (models/demo/business.yaml: the monthly invoice aggregate by area and
tariff) and the warehouse file the engine read."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from engine import Engine
from tests.conftest import ROOT

BY_YEAR = 'SELECT "Time"."Year", "Facts"."Billed Amount" FROM "Billing"'
BY_CUSTOMERS = 'SELECT "Customer"."Distribution Area", "Facts"."# Customers" FROM "Campaigns"'
AGGREGATE = "monthly by area and tariff"  # the demo's aggregate source of Billing


@pytest.fixture
def logged(demo_db, monkeypatch, tmp_path):
    """Three requests logged in a fresh store: a routed one as admin and as zenica.office,
    and one whose fact has a single source (no route). Returns the warehouse's data version."""
    store_url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("STRATA_MODEL", str(ROOT / "models" / "demo"))
    monkeypatch.setenv("STRATA_DATA", str(demo_db.parent))
    monkeypatch.setenv("STRATA_STORE_URL", store_url)
    monkeypatch.chdir(ROOT)
    from presentation import state

    state._engine.clear()
    engine = Engine.open(ROOT / "models" / "demo", store_url=store_url)
    try:
        engine.query(BY_YEAR, user="admin")
        engine.query(BY_YEAR, user="zenica.office")
        engine.query(BY_CUSTOMERS, user="admin")
        engine.log.flush()
        version = engine._backend("warehouse").version()
    finally:
        engine.close()
    assert version.startswith(str(demo_db.resolve()))  # the file, as the engine read it
    return version


def log_page(user: str) -> AppTest:
    at = AppTest.from_string(
        "from presentation import log_page\nlog_page.render()", default_timeout=60
    )
    at.session_state["acting_user"] = user
    return at.run()


def pick(at: AppTest, row: int) -> AppTest:
    """Select a row of the log (AppTest seeds the selection it cannot click)."""
    at.session_state["log_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at = at.run()
    assert not at.exception, at.exception
    return at


def routes_shown(at: AppTest) -> list[dict]:
    [table] = [d for d in at.dataframe if "source level" in d.value.columns]
    return table.value.to_dict("records")


def test_the_log_lists_the_source_each_request_read(logged):
    at = log_page("admin")
    log = at.dataframe[0].value  # newest first
    assert list(log["logical SQL"]) == [BY_CUSTOMERS, BY_YEAR, BY_YEAR]
    assert list(log["sources"]) == ["", AGGREGATE, AGGREGATE]


def test_a_routed_request_shows_its_source_aggregate_coverage_and_data_version(logged):
    # Year of Billing: the aggregate holds months, a year rolls up from them.
    at = pick(log_page("admin"), 2)
    assert routes_shown(at) == [
        {
            "fact": "Billing",
            "source": AGGREGATE,
            "aggregate": "yes",
            "hierarchy": "Time",
            "query level": "Year",
            "source level": "Month",
            "data version": logged,
        }
    ]


def test_a_restricted_users_route_covers_the_level_of_its_row_filter(logged):
    # zenica.office's row filter is on Distribution Area: the aggregate answers only because
    # it holds that level, and the coverage says so.
    at = pick(log_page("zenica.office"), 0)
    assert list(at.dataframe[0].value["user"]) == ["zenica.office"]
    assert [
        (r["hierarchy"], r["query level"], r["source level"], r["aggregate"])
        for r in routes_shown(at)
    ] == [
        ("Time", "Year", "Month", "yes"),
        ("Geography", "Distribution Area", "Distribution Area", "yes"),
    ]


def test_a_request_with_a_single_source_says_nothing_was_routed(logged):
    at = pick(log_page("admin"), 0)
    assert not [d for d in at.dataframe if "source level" in d.value.columns]
    assert any("nothing was routed" in c.value for c in at.caption)
