"""Who sees which campaign lists and campaigns is one rule in the campaigns API, so
`strata campaign … --user` applies the same one as the pages: a user sees what they made,
an administrator everything, and another user's campaign is "not found", as a missing one."""

from __future__ import annotations

import pytest

from tests.conftest import strata

MEMBERS = (
    'SELECT "Customer"."Customer Id", "Contact"."Email" FROM "Campaigns" '
    'WHERE "Customer"."Distribution Area" = \'Bihać\' AND "Customer"."Customer Type" = '
    "'Commercial'"
)


@pytest.fixture(scope="module")
def marketers_campaign(demo, tmp_path_factory) -> str:
    body = tmp_path_factory.mktemp("visibility") / "body.txt"
    body.write_text("Hello")
    made = strata(
        "campaign", "list-create", "Bihać visibility", "--user", "marketer", "--sql", MEMBERS
    )
    assert made.returncode == 0, made.stderr
    created = strata(
        "campaign", "create", "Bihać visibility", "--list", "Bihać visibility",
        "--subject", "Hi", "--text", str(body), "--user", "marketer",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return "Bihać visibility"


def test_the_author_and_an_administrator_see_the_campaign(marketers_campaign):
    for user in ("marketer", "admin"):
        out = strata("campaign", "status", "--user", user)
        assert f"{marketers_campaign} [email] draft" in out.stdout, (user, out.stderr)


def test_another_user_does_not_see_it_in_the_status_list(marketers_campaign):
    out = strata("campaign", "status", "--user", "zenica.office")
    assert out.returncode == 0, out.stderr
    assert marketers_campaign not in out.stdout


def test_another_user_cannot_open_it_by_name_and_gets_no_hint_of_it(marketers_campaign):
    out = strata("campaign", "preflight", marketers_campaign, "--user", "zenica.office")
    assert out.returncode == 2
    assert f"no campaign '{marketers_campaign}'" in out.stderr
    assert "did you mean" not in out.stderr  # the hint lists only the user's own campaigns


def test_another_user_cannot_pause_or_cancel_it(marketers_campaign):
    out = strata("campaign", "cancel", marketers_campaign, "--user", "zenica.office")
    assert out.returncode == 2 and "no campaign" in out.stderr
    still = strata("campaign", "status", marketers_campaign, "--user", "marketer")
    assert still.stdout.startswith(f"{marketers_campaign} [email] draft")


def test_another_user_cannot_build_a_campaign_on_the_authors_list(marketers_campaign, tmp_path):
    (tmp_path / "body.txt").write_text("Hello")
    out = strata(
        "campaign", "create", "Borrowed", "--list", marketers_campaign, "--subject", "Hi",
        "--text", str(tmp_path / "body.txt"), "--user", "zenica.office",
    )  # fmt: skip
    assert out.returncode == 2
    assert f"no campaign list '{marketers_campaign}'" in out.stderr


def test_the_author_opens_it_by_name(marketers_campaign):
    out = strata("campaign", "preflight", marketers_campaign, "--user", "marketer")
    assert "excluded" in out.stdout, out.stderr
