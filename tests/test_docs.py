"""The docs stay true: the README's commands are what CI runs, and every verb is documented."""

import re

from cli import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_readme_opens_with_the_app_command_then_the_test_command():
    run_app, run_tests = _bash_blocks()[:2]
    assert run_app.endswith("strata serve")
    assert run_tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    run_tests = _bash_blocks()[1]
    assert run_tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_cli_verb_is_in_the_readme_table():
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        assert f"`strata {name}" in README, name


def test_every_customers_verb_is_in_the_readme_table():
    from cli.customers import app as customers_app
    from cli.customers import mapping_app

    rows = [line for line in README.splitlines() if line.startswith("| `strata customers")]
    names = [c.name for c in customers_app.registered_commands]
    names += [
        f"mapping {c.name}" if c.name == "save" else c.name for c in mapping_app.registered_commands
    ]
    for name in names:
        assert any(f"`{name}" in row or f"customers {name}" in row for row in rows), name
