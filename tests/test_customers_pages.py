"""The customer hub's pages (Import, Duplicates, Data quality, Customer 360), driven by
Streamlit's AppTest on the demo warehouse and a hub file of each test's own, every figure
checked against a hand count or hand-written SQL on the same files."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import duckdb
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from customers import get_mapping, import_csv, open_hub, parse_mapping
from customers.merge import merge
from store import open_store
from tests.conftest import ROOT, hand, rows

# Row 2 has an invalid e-mail, row 3 an impossible date: 4 read = 2 accepted + 2 rejected.
SMALL = (
    "id,first_name,last_name,email,phone,date_of_birth\n"
    "1,Amra,Hodzic,amra@mail.ba,061 111 222,1980-01-02\n"
    "2,Lana,Begic,bad@,062 333 444,1981-02-03\n"
    "3,Mirza,Kovac,mirza@mail.ba,,1979-13-01\n"
    "4,Lejla,Suljic,lejla@mail.ba,063 555 666,\n"
)


@pytest.fixture
def folder(demo_db, tmp_path, monkeypatch):
    """$STRATA_DATA of this test: the demo warehouse (linked), its own hub and app store."""
    (tmp_path / "demo.duckdb").symlink_to(demo_db)
    monkeypatch.setenv("STRATA_DATA", str(tmp_path))
    monkeypatch.setenv("STRATA_MODEL", str(ROOT / "models" / "demo"))
    monkeypatch.setenv("STRATA_STORE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.delenv("STRATA_USER", raising=False)
    monkeypatch.chdir(ROOT)
    from presentation import state

    state._engine.clear()  # a fresh engine: this test's hub and store
    return tmp_path


def page(name: str) -> AppTest:
    at = AppTest.from_string(
        f"from presentation import {name}\n{name}.render()", default_timeout=90
    )
    at.run()
    assert not at.exception, at.exception
    return at


def act(changed) -> AppTest:
    """Run the script after a widget change (or the app itself); no exception allowed."""
    at = changed.run()
    assert not at.exception, at.exception
    return at


def frame(at: AppTest, *columns):
    """The shown frame whose first columns are `columns` (dataframes carry no key here)."""
    for d in at.dataframe:
        if [str(c) for c in d.value.columns[: len(columns)]] == list(columns):
            return d.value
    shown = [list(d.value.columns) for d in at.dataframe]
    raise AssertionError(f"no frame with columns {columns}: {shown}; errors {texts(at.error)}")


def compared(at: AppTest):
    """The side-by-side comparison: one row per attribute, one column per record."""
    return next(d.value for d in at.dataframe if d.value.index[0] == "source")


GOLDEN = ("attribute", "value", "from record", "rule")


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def hub_rows(folder, sql: str) -> list[tuple]:
    with duckdb.connect(str(folder / "customers.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


# --- Import -------------------------------------------------------------------------------


def test_import_shows_read_as_accepted_plus_rejected_and_offers_the_rejects(folder):
    at = page("customers_import")
    act(at.file_uploader(key="ci_upload").upload("small.csv", SMALL.encode(), "text/csv"))
    assert [s.value for s in at.selectbox if s.label in ("Encoding", "Delimiter")] == ["utf-8", ","]
    preview = frame(at, "row_number", "line", "outcome")
    assert preview["outcome"].tolist() == ["accepted", "rejected", "rejected", "accepted"]
    assert "email (email): 'bad@' is not a valid email" in preview["reasons"][1]
    assert "date_of_birth (date_of_birth): '1979-13-01' is not a date" in preview["reasons"][2]
    act(at.button(key="ci_import").click())
    assert any("4 read = 2 accepted + 2 rejected" in s for s in texts(at.success))
    assert hub_rows(folder, "SELECT source_key FROM customer_record ORDER BY 1") == [("1",), ("4",)]
    rejects = at.session_state["ci_result"][1].decode().splitlines()
    assert [line.split(",")[0] for line in rejects] == ["row_number", "2", "3"]
    assert "Download the 2 rejected row(s) as CSV" in [b.label for b in at.download_button]
    batches = frame(at, "batch", "status", "read")
    assert batches[["read", "accepted", "rejected"]].values.tolist() == [[4, 2, 2]]


def test_a_mapping_edited_in_the_grid_is_saved_by_name_and_loads_back(folder):
    local = "Ime;Prezime;Mail;Rođen\nAmra;Hodžić;AMRA@mail.ba;02.01.1980\n"
    at = page("customers_import")
    act(at.file_uploader(key="ci_upload").upload("local.csv", local.encode("cp1250"), "text/csv"))
    assert next(s for s in at.selectbox if s.label == "Encoding").value == "cp1250"  # detected
    grid = at.data_editor[0].value
    guessed = dict(zip(grid["attribute"], grid["column"], strict=True))
    assert (guessed["first_name"], guessed["last_name"], guessed["email"]) == (
        "Ime",
        "Prezime",
        "Mail",
    )
    # The date column is not guessed: map it by hand, with its format.
    at.session_state[f"ci_mapping_{at.session_state['ci_ver']}"] = {
        "edited_rows": {3: {"column": "Rođen", "date format": "%d.%m.%Y", "required": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.text_input(key="ci_name").input("crm")
    at.text_input(key="ci_system").input("old crm")
    act(at)
    preview = frame(at, "row_number", "line", "outcome")
    assert preview[["first_name", "email", "outcome"]].values.tolist() == [
        ["Amra", "amra@mail.ba", "accepted"]
    ]
    assert str(preview["date_of_birth"][0])[:10] == "1980-01-02"
    act(at.button(key="ci_save").click())
    with open_store(os.environ["STRATA_STORE_URL"]) as store:
        saved = get_mapping(store, "crm")
    assert saved.source == "old crm"
    born = next(f for f in saved.fields if f.target == "date_of_birth")
    assert (born.column, born.transforms, born.required) == ("Rođen", ("date:%d.%m.%Y",), True)
    # A new session loads it by name.
    again = page("customers_import")
    act(again.file_uploader(key="ci_upload").upload("local.csv", local.encode("cp1250"), "t/c"))
    act(again.selectbox(key="ci_saved").select("crm"))
    act(again.button(key="ci_load").click())
    loaded = again.data_editor[0].value
    assert loaded.loc[loaded["attribute"] == "date_of_birth", "date format"].tolist() == [
        "%d.%m.%Y"
    ]
    assert again.text_input(key="ci_name").value == "crm"


def test_an_area_office_may_not_import(folder):
    at = page("customers_import")
    act(at.sidebar.selectbox(key="acting_user").select("zenica.office"))
    assert any("customer hub is for data stewards" in i for i in texts(at.info))
    assert not at.file_uploader


# --- Duplicates ---------------------------------------------------------------------------

HAND = parse_mapping(
    {
        "name": "dq",
        "source": "crm",
        "fields": {
            "source_key": "id",
            "first_name": "first",
            "email": {"column": "email", "transforms": ["email"], "on_error": "keep"},
            "phone": {"column": "phone", "transforms": ["phone"]},
            "area": "area",
            "customer_since": "since",
        },
    }
)
# record: area, e-mail, phone, since (the "Data Quality" subject area's own hand-checked case)
HAND_CSV = """id,first,email,phone,area,since
EP-0000001,Amra,amra@mail.ba,061 111 222,Zenica,2024-01-05
k2,Amra,,,Zenica,2024-01-20
k3,Mirza,mirza@,062 333 444,Tuzla,2024-02-01
k4,Mirza,mirza@mail.ba,,Tuzla,2024-02-11
k5,Mirza,,,,2024-03-03
"""


def _hand_hub(folder, merged: bool = False) -> None:
    """Five records and a match run made by hand: pairs 1-2 p 0.995, 3-4 p 0.95, 3-5 p 0.6,
    4-5 p 0.4, each with two per-field weights."""
    (folder / "c.csv").write_text(HAND_CSV, encoding="utf-8")
    with open_hub(folder / "customers.duckdb") as hub:
        import_csv(hub, folder / "c.csv", HAND)
        if merged:
            merge(hub, [1, 2], user="steward")
            merge(hub, [3, 4, 5], user="steward")
        hub.con.execute(
            "INSERT INTO match_run VALUES (1, $t, 5, 4, $m, '[]')",
            {
                "t": datetime.now(UTC),
                "m": '{"comparisons": [{"output_column_name": "first_name"},'
                ' {"output_column_name": "email"}]}',
            },
        )
        hub.con.execute(
            "INSERT INTO match_pair VALUES"
            " (1, 1, 2, 0.995, 7.6, [4.0, 3.6]),"
            " (1, 3, 4, 0.95, 4.2, [4.0, 0.2]),"
            " (1, 3, 5, 0.6, 0.6, [4.0, -3.4]),"
            " (1, 4, 5, 0.4, -0.6, [4.0, -4.6])"
        )


def metrics(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def test_the_threshold_slider_shows_its_effect_before_it_is_applied(folder):
    _hand_hub(folder)
    at = page("customers_duplicates")
    # At 0.9: {1, 2} and {3, 4}.
    assert metrics(at)["Clusters"] == ("2", "")
    assert metrics(at)["Records in clusters"] == ("4", "")
    act(at.slider(key="cd_slider").set_value(0.5))
    # At 0.5, 5 joins 3 and 4 through the 0.6 pair: still 2 clusters, now 5 records.
    assert metrics(at)["Records in clusters"] == ("5", "+1 if applied")
    queue = at.selectbox(key="cd_pick").options
    assert len(queue) == 2 and "records 3, 4 " in queue[0]  # not applied yet
    act(at.button(key="cd_apply").click())
    # Applied: the 3-4-5 cluster's weakest link is p 0.6 (uncertainty 1 - |1.2 - 1| = 0.8),
    # the 1-2 cluster's is p 0.995 (0.01): the most uncertain comes first.
    assert at.selectbox(key="cd_pick").options == [
        "cluster 3: records 3, 4, 5 · uncertainty 0.80",
        "cluster 1: records 1, 2 · uncertainty 0.01",
    ]


def test_the_review_compares_side_by_side_with_a_weight_chart_per_pair(folder):
    _hand_hub(folder)
    at = page("customers_duplicates")
    act(at.slider(key="cd_slider").set_value(0.5))
    act(at.button(key="cd_apply").click())
    side_by_side = compared(at)
    assert list(side_by_side.columns) == [3, 4, 5]
    assert side_by_side.loc["email"].tolist() == ["mirza@", "mirza@mail.ba", None]
    import plotly.io

    charts = [
        plotly.io.from_json(c.proto.spec)
        for c in at.get("plotly_chart")
        if "cd_w_3_" in str(c.proto.id)
    ]
    # Pairs 3-4 and 3-5 are above 0.5 (4-5, at 0.4, is not), the weakest first; the bars
    # are the per-field weights stored with each pair.
    assert [c.layout.title.text for c in charts] == [
        "records 3 and 5: p 0.600, match weight +0.60",
        "records 3 and 4: p 0.950, match weight +4.20",
    ]
    assert [list(c.data[0].y) for c in charts] == [["first_name", "email"]] * 2
    assert [_numbers(c.data[0].x) for c in charts] == [[4.0, -3.4], [4.0, 0.2]]


def _numbers(values) -> list[float]:
    # plotly 6 writes numeric arrays as {"dtype": "f8", "bdata": base64}
    if isinstance(values, dict):
        import base64

        import numpy as np

        values = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return [round(float(v), 6) for v in values]


def test_merge_shows_the_golden_record_with_provenance_and_unmerge_restores(folder):
    _hand_hub(folder)
    at = page("customers_duplicates")
    act(at.button(key="cd_same").click())  # the first candidate at 0.9: records 3 and 4
    assert any("Merged into entity 3" in s for s in texts(at.success))
    golden = frame(at, *GOLDEN).set_index("attribute")
    # E-mail takes the most recent record's (4, imported after 3); only record 3 has a phone;
    # the first name (same source) goes to the more complete record: 3 fills 6 attributes,
    # 4 fills 5.
    assert golden.loc["email"].tolist() == ["mirza@mail.ba", 4, "most recent"]
    assert golden.loc["phone"].tolist() == ["+38762333444", 3, "only value"]
    assert golden.loc["first_name"].tolist() == ["Mirza", 3, "most complete"]
    assert hub_rows(folder, "SELECT record_id, entity_id FROM entity_member ORDER BY 1") == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 3),
        (5, 5),
    ]
    assert frame(at, "event", "happened_at")["kind"].tolist() == ["merge"]
    act(at.button(key="cd_unmerge").click())
    assert any("Merge 1 undone" in s for s in texts(at.success))
    assert hub_rows(folder, "SELECT record_id, entity_id FROM entity_member ORDER BY 1") == [
        (r, r) for r in range(1, 6)
    ]


def test_different_customers_leave_the_queue(folder):
    _hand_hub(folder)
    at = page("customers_duplicates")
    act(at.button(key="cd_distinct").click())
    assert hub_rows(folder, "SELECT record_id_l, record_id_r, decision FROM review_decision") == [
        (3, 4, "distinct")
    ]
    assert at.selectbox(key="cd_pick").options == ["cluster 1: records 1, 2 · uncertainty 0.01"]


def test_a_held_record_resolved_as_the_same_customer_joins_its_entity(folder):
    _hand_hub(folder)
    with open_hub(folder / "customers.duckdb") as hub:
        # What an import with the entry check leaves: record 2 accepted but held, no entity.
        hub.con.execute("DELETE FROM entity_member WHERE record_id = 2")
        hub.con.execute(
            "INSERT INTO held_record VALUES (2, 1, 0.97, MAP(['first_name'], [4.0]), 'pending')"
        )
    at = page("customers_duplicates")
    assert at.selectbox(key="cd_held").options[0].startswith("record 2 resembles record 1")
    act(at.button(key="cd_held_same").click())
    assert hub_rows(folder, "SELECT entity_id FROM entity_member WHERE record_id = 2") == [(1,)]
    assert hub_rows(folder, "SELECT status FROM held_record") == [("merged",)]


def test_find_duplicates_reports_coverage_and_clusters_the_planted_pairs(folder):
    # 40 people; the first 8 appear twice (the copy's surname sometimes with a typo).
    lines = ["id,first_name,last_name,email,date_of_birth,city"]
    firsts = ["Amra", "Mirza", "Lejla", "Adnan", "Selma", "Haris", "Emina", "Tarik", "Ajla"]
    lasts = ["Hodzic", "Begic", "Kovac", "Suljic", "Mesic", "Lukic", "Delic", "Hasic", "Alic"]
    n = 0
    for i in range(40):
        first, last = firsts[i % 9], lasts[i // 9]  # every name once
        person = f"{first},{{}},{first.lower()}.{i}@mail.ba,19{50 + i}-0{1 + i % 9}-1{i % 10}"
        n += 1
        lines.append(f"{n},{person.format(last)},{'Tuzla' if i % 2 else 'Zenica'}")
        if i < 8:
            n += 1
            typo = last + ("a" if i % 2 else "")
            lines.append(f"{n},{person.format(typo)},{'Tuzla' if i % 2 else 'Zenica'}")
    (folder / "people.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = parse_mapping(
        {
            "name": "people",
            "fields": {
                "source_key": "id",
                "first_name": "first_name",
                "last_name": "last_name",
                "email": "email",
                "date_of_birth": "date_of_birth",
                "city": "city",
            },
        }
    )
    with open_hub(folder / "customers.duckdb") as hub:
        assert import_csv(hub, folder / "people.csv", mapping).accepted == 48
    at = page("customers_duplicates")
    act(at.button(key="cd_run").click())
    coverage = frame(at, "rule", "pairs added", "cumulative")
    assert coverage["rule"][0] == 'l."email" = r."email"'  # no phone: e-mail comes first
    same_email = hub_rows(
        folder,
        "SELECT COUNT(*) FROM customer_record l JOIN customer_record r"
        " ON lower(l.email) = lower(r.email) AND l.record_id < r.record_id",
    )
    assert coverage["pairs added"][0] == same_email[0][0] == 8
    assert coverage["cumulative"].tolist() == coverage["pairs added"].cumsum().tolist()
    # The truth: 8 pairs (records 1-2, 3-4, ..., 15-16), nothing else.
    assert metrics(at)["Clusters"][0] == "8"
    assert metrics(at)["Records in clusters"][0] == "16"
    assert {o.split(" · ")[0] for o in at.selectbox(key="cd_pick").options} == {
        f"cluster {k}: records {k}, {k + 1}" for k in range(1, 17, 2)
    }


# --- Data quality -------------------------------------------------------------------------


def test_the_quality_page_shows_the_subject_areas_answers(folder):
    _hand_hub(folder, merged=True)
    at = page("customers_quality")
    # 5 records in 2 entities ({1, 2}, {3, 4, 5}): 2.5 records per entity, all 5 duplicates.
    assert {m.label: m.value for m in at.metric} == {
        "# Records": "5",
        "# Entities": "2",
        "Duplicate Rate": "2.500",
        "# Duplicate Records": "5",
    }
    completeness = frame(at, "Distribution Area", "# Records", "# Missing E-mail")
    by_hand = hand(
        folder / "customers.duckdb",
        "SELECT COALESCE(area, '(unknown)'), COUNT(*), COUNT(*) FILTER (email IS NULL),"
        " COUNT(*) FILTER (email IS NOT NULL AND NOT email_valid), COUNT(*) FILTER (phone IS NULL)"
        " FROM customer_record GROUP BY 1",
    )
    shown = completeness[
        [
            "Distribution Area",
            "# Records",
            "# Missing E-mail",
            "# Invalid E-mail",
            "# Missing Phone",
        ]
    ]
    assert (
        rows(shown)
        == rows(by_hand)
        == [
            ("(unknown)", 1, 1, 0, 1),
            ("Tuzla", 2, 0, 1, 1),
            ("Zenica", 2, 1, 0, 1),
        ]
    )
    assert rows(frame(at, "Severity", "# Candidate Pairs")) == [
        ("certain", 1),
        ("possible", 1),
        ("probable", 1),
        ("unlikely", 1),
    ]
    assert len(at.get("plotly_chart")) == 4


def test_the_quality_page_is_not_shown_to_an_area_office(folder):
    _hand_hub(folder)
    at = page("customers_quality")
    act(at.sidebar.selectbox(key="acting_user").select("zenica.office"))
    assert not at.metric
    assert any('may not see "Data Quality"' in i for i in texts(at.info))


# --- Customer 360 -------------------------------------------------------------------------


def _customer(demo_db, customer_id: int) -> dict:
    [row] = hand(
        demo_db,
        "SELECT c.customer_id, c.customer_number, c.name, a.name AS area FROM customer c"
        " JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)"
        f" WHERE c.customer_id = {customer_id}",
    ).to_dict("records")
    return row


def test_search_finds_a_customer_despite_a_typo_and_the_card_is_the_warehouses(folder, demo_db):
    person = _customer(demo_db, 1)
    at = page("customers_360")
    typo = person["name"][:-1].lower()  # the last letter missing, all lower case
    act(at.text_input(key="c3_term").input(typo))
    found = frame(at, "Customer Id", "Customer Number")
    assert int(found.iloc[0]["Customer Id"]) == 1
    card = at.table[0].value
    assert card.loc["Customer Number", "value"] == person["customer_number"]
    assert card.loc["Customer Name", "value"] == person["name"]
    assert card.loc["Distribution Area", "value"] == person["area"]
    invoices = frame(at, "Month")
    by_hand = hand(
        demo_db,
        "SELECT k.year_month, COUNT(*), SUM(i.billed_amount) FROM invoice i"
        " JOIN calendar k ON k.date = i.period WHERE i.customer_id = 1 GROUP BY 1",
    )
    assert rows(invoices[["Month", "# Invoices", "Billed Amount"]]) == rows(by_hand)


def test_a_customer_outside_the_row_filter_is_never_found(folder, demo_db):
    person = _customer(demo_db, 1)
    assert person["area"] != "Zenica"
    at = page("customers_360")
    act(at.text_input(key="c3_term").input(person["name"]))
    assert (
        1 in frame(at, "Customer Id", "Customer Number")["Customer Id"].tolist()
    )  # admin finds it
    act(at.sidebar.selectbox(key="acting_user").select("zenica.office"))
    found = [d.value for d in at.dataframe if "score" in d.value.columns]
    shown = found[0] if found else None
    if shown is None:
        assert any("No customer resembles" in i for i in texts(at.info))
    else:
        assert 1 not in shown["Customer Id"].tolist()
        assert set(shown["Distribution Area"]) == {"Zenica"}


def test_the_360_shows_the_customers_hub_records_golden_record_and_history(folder):
    _hand_hub(folder)
    with open_hub(folder / "customers.duckdb") as hub:
        merge(hub, [1, 2], user="steward")  # record 1 carries the key EP-0000001
    at = page("customers_360")
    at.query_params["customer"] = "1"
    act(at)
    assert list(compared(at).columns) == [1, 2]
    golden = frame(at, *GOLDEN).set_index("attribute")
    # Both records have a key and one source: the more complete record (1: 6 attributes
    # against 4) gives it.
    assert golden.loc["source_key"].tolist() == ["EP-0000001", 1, "most complete"]
    history = frame(at, "event", "happened_at")
    assert history[["kind", "entity"]].values.tolist() == [["merge", 1]]


def test_an_import_after_a_look_at_quality_is_counted_there_at_once(folder):
    # The engine holds the hub open read-only once "Data Quality" is asked; the import page
    # must still write it in the same process, and the next answer must see the new rows.
    _hand_hub(folder)
    quality = page("customers_quality")
    assert {m.label: m.value for m in quality.metric}["# Records"] == "5"
    importer = page("customers_import")
    act(importer.file_uploader(key="ci_upload").upload("small.csv", SMALL.encode(), "text/csv"))
    act(importer.button(key="ci_import").click())
    assert any("4 read = 2 accepted + 2 rejected" in s for s in texts(importer.success))
    act(quality)
    assert {m.label: m.value for m in quality.metric}["# Records"] == "7"
