"""`strata model diff` names what changed in each layer and the saved analyses it touches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from semantic import load_model
from semantic.diff import diff_models
from store import open_store, save_analysis
from tests.conftest import ROOT, strata

DEMO = ROOT / "models" / "demo"


def _copy(tmp_path, edits: dict[str, tuple[str, str]]):
    folder = tmp_path / "new"
    shutil.copytree(DEMO, folder)
    for file, (old, new) in edits.items():
        path = folder / file
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    return folder


def test_the_same_model_has_no_changes():
    assert diff_models(load_model(DEMO), load_model(DEMO)) == ()


def test_a_renamed_logical_column_is_one_rename_not_a_removal_and_an_addition(tmp_path):
    new = _copy(
        tmp_path,
        {
            "business.yaml": (
                "{name: Customer Name, expr: customer.name}",
                "{name: Full Name, expr: customer.name}",
            ),
            "presentation.yaml": ("- Customer.Customer Name", "- Customer.Full Name"),
        },
    )
    changes = [str(c) for c in diff_models(load_model(DEMO), load_model(new))]
    assert any(
        'renamed  column "Customer"."Customer Name": now "Customer"."Full Name"' in c
        for c in changes
    )
    assert any(
        'renamed  column "Campaigns"."Customer"."Customer Name": now '
        '"Campaigns"."Customer"."Full Name"' in c
        for c in changes
    )
    assert not any("removed" in c for c in changes)


def test_a_changed_aggregation_and_formula_are_shown_before_and_after(tmp_path):
    new = _copy(
        tmp_path,
        {
            "business.yaml": (
                "{name: Billed Amount, expr: invoice.billed_amount, aggregation: sum}",
                "{name: Billed Amount, expr: invoice.billed_amount, aggregation: max}",
            ),
        },
    )
    [change] = diff_models(load_model(DEMO), load_model(new))
    assert str(change).endswith(
        '"Billing"."Billed Amount": invoice.billed_amount sum -> invoice.billed_amount max'
    )


def test_strata_model_diff_names_the_saved_analysis_that_uses_a_renamed_column(tmp_path):
    new = _copy(
        tmp_path,
        {
            "presentation.yaml": (
                "- Customer.Customer Name",
                "- {column: Customer.Customer Name, name: Name}",
            ),
        },
    )
    data = tmp_path / "data"
    data.mkdir()
    with open_store(f"sqlite:///{data}/app.db") as store:
        save_analysis(
            store,
            "amra",
            "names",
            'SELECT "Customer"."Customer Name" FROM "Campaigns"',
            "Campaigns",
        )
        save_analysis(
            store,
            "amra",
            "types",
            'SELECT "Customer"."Customer Type" FROM "Campaigns"',
            "Campaigns",
        )
    done = strata("model", "diff", str(DEMO), str(new), STRATA_DATA=str(data))
    assert done.returncode == 0, done.stderr
    assert 'renamed  column "Campaigns"."Customer"."Customer Name"' in done.stdout
    assert "amra/my/names: renamed" in done.stdout and "amra/my/types" not in done.stdout


def test_strata_model_diff_reads_either_side_from_a_git_revision(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo / "model")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "before")
    presentation = repo / "model" / "presentation.yaml"
    presentation.write_text(
        presentation.read_text().replace(
            "- Customer.Customer Name", "- {column: Customer.Customer Name, name: Name}"
        )
    )
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "after")
    data = tmp_path / "data"
    data.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "model", "diff", "HEAD~1:model", "HEAD:model"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "STRATA_DATA": str(data)},
    )
    assert done.returncode == 0, done.stderr
    assert 'renamed  column "Campaigns"."Customer"."Customer Name"' in done.stdout


def test_an_unknown_revision_is_a_clear_error(tmp_path):
    done = strata("model", "diff", "no-such-rev:models/demo", str(DEMO))
    assert done.returncode == 2
    assert "cannot read no-such-rev:models/demo from git" in done.stderr
    assert "Traceback" not in done.stderr


def test_strata_model_diff_names_the_campaign_list_whose_next_freeze_uses_a_removed_column(
    tmp_path, demo
):
    from campaigns import freeze_list

    new = _copy(tmp_path, {"presentation.yaml": ("          - Customer.Mobile Phone\n", "")})
    data = tmp_path / "data"
    data.mkdir()
    with open_store(f"sqlite:///{data}/app.db") as store:
        for name, column in (("sms list", "Mobile Phone"), ("mail list", "Email")):
            freeze_list(
                demo,
                store,
                name,
                f'SELECT "Customer"."Customer Id", "Contact"."{column}" FROM "Campaigns" '
                "FETCH FIRST 3 ROWS ONLY",
            )
    done = strata("model", "diff", str(DEMO), str(new), STRATA_DATA=str(data))
    assert done.returncode == 0, done.stderr
    assert "campaign lists whose next freeze uses what changed:" in done.stdout
    assert "  sms list (v1, admin): removed" in done.stdout and "mail list" not in done.stdout
