"""The Logical SQL page runs a request through the engine (Streamlit's own test runner)."""

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, TINY


@pytest.fixture
def app(tiny_db, monkeypatch):
    monkeypatch.setenv("STRATA_MODEL", str(TINY))
    monkeypatch.chdir(ROOT)
    from presentation import state

    state._engine.clear()
    # The Logical SQL page on its own (app.py opens on the builder).
    return AppTest.from_string(
        "from presentation import query_page\nquery_page.render()", default_timeout=30
    )


def test_the_page_runs_a_request_and_shows_rows_and_sql(app):
    app.run()
    app.text_area(key="logical_sql").input(
        'SELECT "Customer"."Type", "Facts"."Billed" FROM "Tiny" ORDER BY 1'
    )
    app.button[0].click()
    app.run()
    assert not app.exception
    df = app.dataframe[0].value
    assert df.to_dict("list") == {"Type": ["Commercial", "Household"], "Billed": [100.0, 65.0]}
    assert any("FROM" in code.value for code in app.code)


def test_a_bad_request_shows_the_error_and_its_hint(app):
    app.run()
    app.text_area(key="logical_sql").input('SELECT "Customer"."Nmae" FROM "Tiny"')
    app.button[0].click()
    app.run()
    assert 'did you mean "Customer"."Name"?' in app.error[0].value


def test_the_sidebar_lists_every_subject_area(app):
    app.run()
    labels = [e.label for e in app.sidebar.expander]
    assert labels == ["Tiny", "Areas"]
