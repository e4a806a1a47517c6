"""Merge and unmerge: golden records by survivorship with per-field provenance, stable entity
ids, audit rows, and an unmerge that restores exactly what was there; the review queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customers import CustomerError, import_csv, open_hub, parse_mapping
from customers.merge import merge, unmerge
from customers.review import compare, decide, review_queue
from customers.survivorship import Policy

FIELDS = {
    "source_key": "id",
    "first_name": "first",
    "last_name": "last",
    "email": {"column": "email", "transforms": ["email"]},
    "phone": {"column": "phone", "transforms": ["phone"]},
    "street": "street",
    "customer_since": "since",
}
BILLING = """id,first,last,email,phone,street,since
b1,Amra,Hodžić,,061 111 222,Titova 5,2010-05-01
b2,Mirza,Begić,mirza@mail.ba,,Alipašina 1,2012-01-01
"""
CRM = """id,first,last,email,phone,street,since
c1,Amra,Hodzic,amra@mail.ba,062 000 111,,2015-03-01
c2,A.,Hodžić,amra.h@mail.ba,,Titova 5,2008-09-01
"""
POLICY = Policy(source_priority=("billing", "crm"))


@pytest.fixture
def hub(tmp_path):
    (tmp_path / "billing.csv").write_text(BILLING, encoding="utf-8")
    (tmp_path / "crm.csv").write_text(CRM, encoding="utf-8")
    with open_hub(tmp_path / "hub.duckdb") as h:
        for name in ("billing", "crm"):
            mapping = parse_mapping({"name": name, "source": name, "fields": FIELDS})
            import_csv(h, tmp_path / f"{name}.csv", mapping)
        yield h  # records 1 = b1, 2 = b2, 3 = c1, 4 = c2


def _state(hub):
    members = hub.con.sql("SELECT * FROM entity_member ORDER BY ALL").fetchall()
    golden = hub.con.sql("SELECT * FROM golden_value ORDER BY ALL").fetchall()
    return members, golden


def test_golden_record_takes_each_attribute_by_its_rule_and_names_its_source(hub):
    result = merge(hub, [1, 3, 4], user="steward", policy=POLICY)
    golden = {g.attribute: (g.value, g.record_id, g.rule) for g in result.golden}
    # Names: billing is trusted first, and only record 1 is from billing.
    assert golden["first_name"] == ("Amra", 1, "source priority")
    assert golden["last_name"] == ("Hodžić", 1, "source priority")
    # Contact data: the most recently imported record that has one (4 has an e-mail, no phone).
    assert golden["email"] == ("amra.h@mail.ba", 4, "most recent")
    assert golden["phone"] == ("+38762000111", 3, "most recent")
    # Street: billing's record 1 has one.
    assert golden["street"] == ("Titova 5", 1, "source priority")
    assert golden["date_of_birth"] == (None, None, "no value")
    stored = hub.con.sql(
        "SELECT attribute, value, record_id, rule FROM golden_value WHERE entity_id = 4"
        " AND attribute = 'email'"
    ).fetchall()
    assert stored == [("email", "amra.h@mail.ba", 4, "most recent")]


def test_the_entity_of_the_oldest_record_keeps_its_id(hub):
    # Record 4 (c2) is the oldest customer (since 2008): its id survives the merge.
    assert merge(hub, [1, 3, 4], user="steward").entity_id == 4
    assert hub.con.sql(
        "SELECT DISTINCT entity_id FROM entity_member WHERE record_id IN (1, 3, 4)"
    ).fetchall() == [(4,)]


def test_unmerge_restores_the_entities_and_golden_values_exactly(hub):
    before = _state(hub)
    first = merge(hub, [1, 3], user="steward", policy=POLICY)
    after_first = _state(hub)
    second = merge(hub, [1, 4], user="steward", policy=POLICY)
    assert second.record_ids == (1, 3, 4)  # merging record 1 brings its whole entity
    with pytest.raises(CustomerError, match=f"unmerge {second.event_id} first"):
        unmerge(hub, first.event_id, user="steward", policy=POLICY)
    unmerge(hub, second.event_id, user="steward", policy=POLICY)
    assert _state(hub) == after_first
    unmerge(hub, first.event_id, user="steward", policy=POLICY)
    assert _state(hub) == before


def test_every_merge_and_unmerge_is_an_audit_row(hub):
    merged = merge(hub, [1, 3], user="steward", note="same person")
    undo = unmerge(hub, merged.event_id, user="lead")
    events = hub.con.sql(
        "SELECT event_id, kind, entity_id, record_ids, previous, undone_by, user_name"
        " FROM merge_event ORDER BY event_id"
    ).fetchall()
    assert events == [
        (1, "merge", 1, [1, 3], '{"1": 1, "3": 3}', undo, "steward"),
        (2, "unmerge", 1, [1, 3], "{}", None, "lead"),
    ]


def test_golden_record_view_has_one_row_per_entity(hub):
    merge(hub, [1, 3, 4], user="steward", policy=POLICY)
    rows = hub.con.sql(
        "SELECT entity_id, records, first_name, email FROM golden_record ORDER BY entity_id"
    ).fetchall()
    assert rows == [(2, 1, "Mirza", "mirza@mail.ba"), (4, 3, "Amra", "amra.h@mail.ba")]


def test_merging_records_of_one_entity_or_unknown_records_is_refused(hub):
    merge(hub, [1, 3], user="steward")
    with pytest.raises(CustomerError, match="one entity already"):
        merge(hub, [1, 3], user="steward")
    with pytest.raises(CustomerError, match="no customer record"):
        merge(hub, [1, 99], user="steward")


def _hand_run(hub):
    now = datetime.now(UTC)
    # The run's model names the compared fields, in the order of each pair's weights.
    model = '{"comparisons": [{"output_column_name": "first_name"},'
    model += ' {"output_column_name": "last_name"}]}'
    hub.con.execute("INSERT INTO match_run VALUES (1, $t, 4, 3, $m, '[]')", {"t": now, "m": model})
    hub.con.execute(
        "INSERT INTO match_pair VALUES"
        " (1, 1, 3, 0.97, 5.0, [3.5, 1.5]),"
        " (1, 1, 4, 0.55, 0.3, [-2.0, 2.3]),"
        " (1, 2, 3, 0.80, 2.0, [-4.0, 6.0])"
    )


def test_review_queue_puts_the_most_uncertain_cluster_first_with_field_weights(hub):
    _hand_run(hub)
    at_09 = review_queue(hub, threshold=0.9)
    assert [i.record_ids for i in at_09] == [(1, 3)]
    queue = review_queue(hub, threshold=0.5)
    # One cluster {1, 2, 3, 4}; its weakest link 1-4 (p 0.55) makes it 0.9 uncertain.
    assert [(i.record_ids, i.uncertainty) for i in queue] == [((1, 2, 3, 4), 0.9)]
    weakest = queue[0].pairs[0]
    assert (weakest.record_id_l, weakest.record_id_r) == (1, 4)
    assert dict(weakest.field_weights) == {"first_name": -2.0, "last_name": 2.3}


def test_a_hub_that_kept_field_weights_as_a_map_is_converted_when_opened(hub):
    _hand_run(hub)
    # The shape hubs had before: a MAP per pair and a primary key.
    hub.con.execute("DROP TABLE match_pair")
    hub.con.execute(
        "CREATE TABLE match_pair (run_id BIGINT NOT NULL, record_id_l BIGINT NOT NULL,"
        " record_id_r BIGINT NOT NULL, match_probability DOUBLE NOT NULL,"
        " match_weight DOUBLE NOT NULL, field_weights MAP(VARCHAR, DOUBLE),"
        " PRIMARY KEY (run_id, record_id_l, record_id_r))"
    )
    hub.con.execute(
        "INSERT INTO match_pair VALUES"
        " (1, 1, 4, 0.55, 0.3, MAP(['first_name', 'last_name'], [-2.0, 2.3]))"
    )
    hub.close()
    with open_hub(hub.path) as reopened:
        [(weights,)] = reopened.con.sql("SELECT field_weights FROM match_pair").fetchall()
        [item] = review_queue(reopened, threshold=0.5)
    assert weights == [-2.0, 2.3]
    assert dict(item.pairs[0].field_weights) == {"first_name": -2.0, "last_name": 2.3}


def test_a_decision_removes_the_cluster_from_the_queue(hub):
    _hand_run(hub)
    [item] = review_queue(hub, threshold=0.9)
    decide(hub, item, same=True, user="steward")
    assert review_queue(hub, threshold=0.9) == ()
    [item] = review_queue(hub, threshold=0.5)  # 2 and 4 still join the merged entity
    decide(hub, item, same=False, user="steward")
    assert review_queue(hub, threshold=0.5) == ()
    # Only the pairs across entities were called distinct, not the merged pair 1-3.
    distinct = hub.con.sql("SELECT record_id_l, record_id_r FROM review_decision ORDER BY ALL")
    assert distinct.fetchall() == [(1, 4), (2, 3)]


def test_compare_shows_records_side_by_side(hub):
    table = compare(hub, [1, 3])
    assert list(table.columns) == [1, 3]
    assert table.loc["last_name"].tolist() == ["Hodžić", "Hodzic"]
    assert table.loc["source"].tolist() == ["billing", "crm"]


def test_a_record_held_for_review_cannot_be_merged_directly(hub):
    hub.con.execute("DELETE FROM entity_member WHERE record_id = 4")
    hub.con.execute("INSERT INTO held_record VALUES (4, 1, 0.97, NULL, 'pending')")
    with pytest.raises(CustomerError, match=r"record\(s\) 4 are held for review"):
        merge(hub, [1, 4], user="steward")
