"""Campaign lists are frozen snapshots of an analysis, taken through the engine as the saving
user, with their provenance; a re-freeze is a new version and never changes an older one."""

from __future__ import annotations

import pandas as pd
import pytest

from campaigns.lists import ListError, freeze_list, get_list, list_members
from store import open_store, save_analysis
from tests.conftest import hand

SARAJEVO_HOUSEHOLDS = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email", '
    '"Contact"."Mobile Phone" FROM "Campaigns" '
    'WHERE "Customer"."Customer Type" = \'Household\' '
    'AND "Customer"."Distribution Area" = \'Sarajevo\''
)
HAND_SARAJEVO = """
    SELECT c.customer_id, c.name, t.email, t.mobile_phone
    FROM customer c JOIN municipality m USING (municipality_id) JOIN area a USING (area_id)
    LEFT JOIN contact t USING (customer_id)
    WHERE c.customer_type = 'Household' AND a.name = 'Sarajevo' ORDER BY c.customer_id
"""


def _text(value):
    # Addresses are kept trimmed (the demo's contact data has stray spaces), blank as none.
    return None if pd.isna(value) or not value.strip() else value.strip()


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path}/app.db") as store:
        yield store


def test_a_frozen_list_holds_the_members_and_addresses_the_hand_query_finds(demo, demo_db, store):
    frozen = freeze_list(demo, store, "Sarajevo households", SARAJEVO_HOUSEHOLDS, "marketer")
    expected = hand(demo_db, HAND_SARAJEVO)
    members = list_members(store, frozen)
    assert frozen.row_count == len(expected) == len(members) > 0
    got = sorted((int(m.key), m.fields["Customer Name"], m.email, m.phone) for m in members)
    want = [
        (int(r.customer_id), r.name, _text(r.email), _text(r.mobile_phone))
        for r in expected.itertuples()
    ]
    assert got == want


def test_a_frozen_list_records_its_provenance(demo, store):
    frozen = freeze_list(demo, store, "Sarajevo households", SARAJEVO_HOUSEHOLDS, "marketer")
    assert (frozen.created_by, frozen.logical_sql, frozen.model_hash, frozen.subject_area) == (
        "marketer",
        SARAJEVO_HOUSEHOLDS,
        demo.model.hash,
        "Campaigns",
    )
    assert (frozen.key_column, frozen.email_column, frozen.phone_column) == (
        "Customer Id",
        "Email",
        "Mobile Phone",
    )
    assert len(frozen.content_hash) == 64 and frozen.created_at.tzinfo is not None


def test_the_saving_users_row_filters_decide_who_is_on_the_list(demo, demo_db, store):
    # zenica.office sees Zenica's customers only, and the list must not contain any other.
    sql = 'SELECT "Customer"."Customer Id", "Customer"."Distribution Area" FROM "Campaigns"'
    frozen = freeze_list(demo, store, "Everyone I see", sql, "zenica.office")
    zenica = hand(
        demo_db,
        "SELECT count(*) AS n FROM customer JOIN municipality USING (municipality_id) "
        "JOIN area USING (area_id) WHERE area.name = 'Zenica'",
    ).n[0]
    areas = {m.fields["Distribution Area"] for m in list_members(store, frozen)}
    assert (frozen.row_count, areas) == (zenica, {"Zenica"})


def test_refreezing_makes_a_new_version_and_leaves_the_old_one_alone(demo, store):
    first = freeze_list(demo, store, "L", SARAJEVO_HOUSEHOLDS, "marketer")
    narrower = SARAJEVO_HOUSEHOLDS + ' AND "Customer"."Customer Id" < 100'
    second = freeze_list(demo, store, "L", narrower, "marketer")
    assert (first.version, second.version) == (1, 2)
    assert get_list(store, "L").id == second.id
    assert get_list(store, "L", version=1).row_count == first.row_count > second.row_count
    assert len(list_members(store, get_list(store, "L", version=1))) == first.row_count


def test_the_same_answer_freezes_to_the_same_content_hash(demo, store):
    a = freeze_list(demo, store, "A", SARAJEVO_HOUSEHOLDS, "marketer")
    b = freeze_list(
        demo, store, "B", SARAJEVO_HOUSEHOLDS + ' ORDER BY "Customer"."Customer Name"', "marketer"
    )
    assert a.content_hash == b.content_hash


def test_a_key_that_repeats_is_refused_with_a_hint(demo, store):
    sql = 'SELECT "Customer"."Distribution Area", "Customer"."Customer Type" FROM "Campaigns"'
    with pytest.raises(ListError, match="appears in more than one row"):
        freeze_list(demo, store, "Areas", sql, "admin")


def test_an_unknown_address_column_names_the_closest_one(demo, store):
    with pytest.raises(ListError, match="did you mean 'Email'"):
        freeze_list(demo, store, "L", SARAJEVO_HOUSEHOLDS, "marketer", email="Emial")


def test_a_saved_analysis_can_be_frozen_by_name(demo, store):
    from campaigns.lists import freeze_analysis

    save_analysis(store, "marketer", "Sarajevo", SARAJEVO_HOUSEHOLDS, "Campaigns")
    frozen = freeze_analysis(demo, store, "From analysis", "Sarajevo", "marketer")
    assert frozen.logical_sql == SARAJEVO_HOUSEHOLDS and frozen.created_by == "marketer"
