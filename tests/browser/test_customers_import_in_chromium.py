"""A CSV with a bad row uploaded, mapped and imported by clicking in a real browser; the
counts on screen, the hub's rows and the downloaded rejects agree with a hand count."""

from __future__ import annotations

import duckdb
import pytest

from customers import parse_mapping, save_mapping
from physical.settings import data_folder
from store import open_store
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_builder_in_chromium import idle, pick

pytestmark = pytest.mark.browser

# Five rows; row 3's birth date (31 February) does not exist: 5 read = 4 accepted + 1 rejected.
LEGACY = """Ime;Prezime;E-mail;Mobitel;Rođen
Amra;Hodžić;amra.h@mail.ba;061 111 222;02.01.1980
Mirza;Begić;mirza.b@mail.ba;062 333 444;15.07.1975
Lejla;Kovač;lejla.k@mail.ba;063 555 666;31.02.1980
Adnan;Suljić;adnan.s@mail.ba;;09.11.1990
Selma;Mešić;;061 777 888;21.03.1985
"""
MAPPING = {
    "name": "legacy crm",
    "source": "legacy crm",
    "fields": {
        "first_name": {"column": "Ime", "transforms": ["trim", "title"], "required": True},
        "last_name": {"column": "Prezime", "transforms": ["trim"]},
        "email": {"column": "E-mail", "transforms": ["email"]},
        "phone": {"column": "Mobitel", "transforms": ["phone"]},
        "date_of_birth": {"column": "Rođen", "transforms": ["date:%d.%m.%Y"]},
    },
}


def test_a_csv_with_a_bad_row_is_mapped_and_imported_by_clicking(page, app_url, tmp_path):
    from playwright.sync_api import expect

    url, store_path = app_url
    with open_store(f"sqlite:///{store_path}") as store:
        save_mapping(store, parse_mapping(MAPPING), user="admin")
    csv_file = tmp_path / "legacy.csv"
    csv_file.write_text(LEGACY, encoding="utf-8")

    page.goto(f"{url}/customers-import")
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible(timeout=60_000)
    idle(page)
    page.locator("input[type=file]").set_input_files(str(csv_file))
    expect(page.get_by_role("heading", name="Mapping")).to_be_visible(timeout=30_000)
    idle(page)
    expect(page.get_by_text("5 columns: Ime, Prezime, E-mail, Mobitel, Rođen")).to_be_visible()

    pick(page, "Saved mapping", "legacy crm")
    page.get_by_role("button", name="Load", exact=True).click()
    idle(page)
    expect(page.get_by_label("Mapping name", exact=True)).to_have_value("legacy crm")
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible()

    page.get_by_role("button", name="Import", exact=True).click()
    done = page.get_by_text("5 read = 4 accepted + 1 rejected")
    expect(done).to_be_visible(timeout=60_000)
    batch = done.inner_text().split(":")[0].removeprefix("Batch ").strip()
    # The page goes on to list the batches with the hub open for writing; DuckDB lets no other
    # process in until that run has finished and closed it.
    idle(page)

    with duckdb.connect(str(data_folder() / "customers.duckdb"), read_only=True) as con:
        accepted = con.execute(
            "SELECT first_name, CAST(date_of_birth AS VARCHAR), phone FROM customer_record"
            " WHERE batch_id = $b ORDER BY row_number",
            {"b": batch},
        ).fetchall()
        rejected = con.execute(
            "SELECT row_number FROM staging WHERE batch_id = $b AND len(reasons) > 0",
            {"b": batch},
        ).fetchall()
    assert accepted == [
        ("Amra", "1980-01-02", "+38761111222"),
        ("Mirza", "1975-07-15", "+38762333444"),
        ("Adnan", "1990-11-09", None),
        ("Selma", "1985-03-21", "+38761777888"),
    ]
    assert rejected == [(3,)]
    assert len(accepted) + len(rejected) == len(LEGACY.splitlines()) - 1

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the 1 rejected row(s) as CSV").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row_number,line,reasons,Ime,Prezime,E-mail,Mobitel,Rođen"
    assert lines[1].startswith("3,4,date_of_birth (Rođen): '31.02.1980' is not a date")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "customers-import.png"), full_page=True)
