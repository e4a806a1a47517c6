"""A modeler's broken edit shows in the running app, which keeps answering with the last good
model; the fixed edit is taken up without a restart."""

from __future__ import annotations

import shutil

import pytest

from engine import Engine
from tests.browser.conftest import ARTIFACTS, serve
from tests.browser.test_builder_in_chromium import idle
from tests.conftest import ROOT

pytestmark = pytest.mark.browser


@pytest.fixture
def editable_app(demo_db, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "demo", model)
    server = serve(model, demo_db, tmp_path)
    url, _ = next(server)
    yield url, model
    server.close()


def test_a_broken_model_file_shows_its_error_and_the_last_good_model_stays(page, editable_app):
    from playwright.sync_api import expect

    url, model = editable_app
    page.goto(url + "/query")
    expect(page.get_by_role("heading", name="Logical SQL")).to_be_visible(timeout=60_000)
    business = model / "business.yaml"
    good = business.read_text()
    business.write_text(
        good.replace("aggregation: count_distinct", "aggregation: count_distnct", 1)
    )
    warning = page.get_by_text("The model on disk has errors; the last good model stays in use.")
    reload_until(page, lambda: warning.count() == 1)
    expect(warning).to_be_visible()
    expect(page.get_by_text("business.yaml:")).to_be_visible()
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("row(s)")).to_be_visible(timeout=30_000)  # the last good model
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reload-warning.png"), full_page=True)

    business.write_text(good)
    reload_until(page, lambda: warning.count() == 0)
    expect(warning).to_have_count(0)


def reload_until(page, done) -> None:
    """The engine looks at the model files at most once a second (Engine.RELOAD_CHECK_S):
    reload the page until a request has come after that second and shows the change."""
    for _ in range(10):
        page.wait_for_timeout(1_000 * Engine.RELOAD_CHECK_S)
        page.reload()
        idle(page)
        if done():
            return
