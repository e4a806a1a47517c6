"""`strata campaign …` as a user types it: freeze a list, create a campaign from template
files, read the pre-flight report, launch, see the status; bad input exits 2 with a hint."""

from __future__ import annotations

from tests.conftest import strata

ZENICA_HOUSEHOLDS = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email" '
    'FROM "Campaigns" WHERE "Customer"."Distribution Area" = \'Zenica\' '
    'AND "Customer"."Customer Type" = \'Household\''
)


def test_a_campaign_goes_from_list_to_launch_on_the_command_line(demo, tmp_path):
    (tmp_path / "body.txt").write_text("Dear {{ customer_name }}, try e-bill.")
    made = strata(
        "campaign", "list-create", "Zenica HH", "--user", "marketer", "--sql", ZENICA_HOUSEHOLDS
    )
    assert made.returncode == 0, made.stderr
    assert "list 'Zenica HH' version 1:" in made.stdout
    created = strata(
        "campaign",
        "create",
        "Zenica e-bill",
        "--list",
        "Zenica HH",
        "--subject",
        "Hello {{ customer_name }}",
        "--text",
        str(tmp_path / "body.txt"),
        "--control",
        "0.1",
        "--rate",
        "50",
        "--user",
        "marketer",
    )
    assert created.returncode == 0, created.stderr
    report = strata("campaign", "preflight", "Zenica e-bill")
    assert report.returncode == 0, report.stderr
    assert "excluded, control group:" in report.stdout and "at the configured rate" in report.stdout
    launched = strata("campaign", "launch", "Zenica e-bill", "--yes", "--no-send")
    assert launched.returncode == 0 and "is running" in launched.stdout, launched.stderr
    status = strata("campaign", "status", "Zenica e-bill")
    assert status.stdout.startswith("Zenica e-bill [email] running: pending ")


def test_an_unknown_campaign_gets_the_closest_name(demo):
    strata("campaign", "list-create", "L1", "--user", "marketer", "--sql", ZENICA_HOUSEHOLDS)
    out = strata("campaign", "preflight", "Nobody")
    assert out.returncode == 2 and "no campaign 'Nobody'" in out.stderr


def test_a_list_needs_either_an_analysis_or_sql(demo):
    out = strata("campaign", "list-create", "L", "--user", "marketer")
    assert out.returncode == 2 and "give either --analysis NAME or --sql" in out.stderr


def test_every_sending_setting_is_in_the_readme():
    from dataclasses import fields

    from campaigns.settings import SendSettings
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for f in fields(SendSettings):
        assert f"`STRATA_{f.name.upper()}`" in readme, f.name
