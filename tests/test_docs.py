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
        verb = command.name or command.callback.__name__  # import-schema has its own name
        assert f"`strata {verb}" in README, verb
