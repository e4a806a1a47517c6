"""Editing a draft campaign: its list, template, control share, rate and tracking change while
it is a draft, and never after: a scheduled, running or finished campaign is refused with
the reason, and a pre-flight approved before an edit no longer launches it."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.campaign import CampaignError, Status, create_campaign, get_campaign, set_status
from campaigns.edit import edit_draft
from campaigns.launch import launch
from campaigns.preflight import preflight
from campaigns.settings import SendSettings
from campaigns.templates import Template
from tests.campaign_fixtures import app_store_fixture, frozen_people  # noqa: F401  (fixtures)
from tests.conftest import strata

PEOPLE = [(i, f"P{i}", f"p{i}@x.example", None, "Tuzla") for i in (1, 2, 3)]


@pytest.fixture
def draft(tmp_path, app_store):
    frozen = frozen_people(tmp_path, app_store, PEOPLE)
    return create_campaign(app_store, "Spring", frozen, Template("Hi", "x"), "m", rate_per_hour=9)


def test_a_drafts_template_and_settings_change_and_the_rest_stays(app_store, draft):
    edited = edit_draft(
        app_store,
        "Spring",
        template=Template("Hello {{ name }}", "y", "<p>y</p>"),
        control_share=0.25,
        rate_per_second=5.0,
        tracking=True,
    )
    again = get_campaign(app_store, "Spring")
    assert again == edited
    assert (again.template.subject, again.template.html) == ("Hello {{ name }}", "<p>y</p>")
    assert (again.control_share, again.rate_per_second, again.tracking) == (0.25, 5.0, True)
    assert (again.rate_per_hour, again.list_id, again.status) == (9, draft.list_id, Status.DRAFT)


def test_a_draft_can_be_pointed_at_another_list(tmp_path, app_store, draft):
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = frozen_people(other_dir, app_store, PEOPLE[:1], name="Just one")
    assert edit_draft(app_store, "Spring", frozen=other).list_id == other.id


def test_a_rate_can_be_lifted_with_none(app_store, draft):
    assert edit_draft(app_store, "Spring", rate_per_hour=None).rate_per_hour is None


def test_an_invalid_setting_is_refused_and_changes_nothing(app_store, draft):
    with pytest.raises(CampaignError, match=r"control share 1\.5 is out of range"):
        edit_draft(app_store, "Spring", control_share=1.5, template=Template("New", "z"))
    assert get_campaign(app_store, "Spring") == draft


@pytest.mark.parametrize(
    ("moves", "hint"),
    [
        ((Status.RUNNING,), "sends what it was launched with"),
        ((Status.RUNNING, Status.FINISHED), "sends what it was launched with"),
        ((Status.CANCELLED,), "sends what it was launched with"),
        ((Status.SCHEDULED,), "unschedule it first"),
    ],
)
def test_a_campaign_that_is_not_a_draft_is_not_edited(app_store, draft, moves, hint):
    for status in moves:
        at = dt.datetime(2026, 5, 1, tzinfo=dt.UTC) if status is Status.SCHEDULED else None
        set_status(app_store, "Spring", status, scheduled_at=at)
    before = get_campaign(app_store, "Spring")
    with pytest.raises(CampaignError, match=f"is {moves[-1]}; only a draft can be edited") as e:
        edit_draft(app_store, "Spring", template=Template("Changed", "z"))
    assert hint in str(e.value)
    assert get_campaign(app_store, "Spring") == before


def test_a_preflight_approved_before_an_edit_no_longer_launches(app_store, draft):
    approved = preflight(app_store, draft)
    edit_draft(app_store, "Spring", template=Template("Changed", "z"))
    with pytest.raises(CampaignError, match="changed since its pre-flight report"):
        launch(app_store, "Spring", approved, SendSettings())


def test_the_command_line_edits_a_draft_and_refuses_a_running_one(demo, tmp_path):
    sql = (
        'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email" '
        'FROM "Campaigns" WHERE "Customer"."Distribution Area" = \'Bihać\''
    )
    (tmp_path / "body.txt").write_text("Dear {{ customer_name }}")
    (tmp_path / "new.html").write_text('<p><a href="https://u.example/e-bill">e-bill</a></p>')
    listed = strata("campaign", "list-create", "Bihać", "--user", "marketer", "--sql", sql)
    assert listed.returncode == 0, listed.stderr
    made = strata(
        "campaign", "create", "Bihać e-bill", "--list", "Bihać", "--subject", "Hi",
        "--text", str(tmp_path / "body.txt"), "--user", "marketer",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    edited = strata(
        "campaign", "edit", "Bihać e-bill", "--subject", "Hello {{ customer_name }}",
        "--html", str(tmp_path / "new.html"), "--control", "0.1", "--track",
    )  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    assert "campaign 'Bihać e-bill' (draft, tracking) → list 'Bihać' v1, control 10%" in (
        edited.stdout
    )
    shown = strata("campaign", "template", "Bihać e-bill")
    assert "Subject: Hello " in shown.stdout and "https://u.example/e-bill" in shown.stdout
    endpoint = {"STRATA_UNSUBSCRIBE_URL": "https://u.example/u", "STRATA_UNSUBSCRIBE_SECRET": "s"}
    launched = strata("campaign", "launch", "Bihać e-bill", "--yes", "--no-send", **endpoint)
    assert launched.returncode == 0, launched.stderr
    refused = strata("campaign", "edit", "Bihać e-bill", "--subject", "Too late")
    assert refused.returncode == 2
    assert "is running; only a draft can be edited" in refused.stderr
