"""A model folder as it was at a git revision, written out so that it can be loaded.

`strata model diff HEAD~1:models/demo models/demo` compares the model of the previous commit
with the one on disk; the argument is git's own `REV:PATH` spelling.

>>> is_revision("HEAD~1:models/demo"), is_revision("models/demo")
(True, False)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from semantic.errors import StrataError


def is_revision(spec: str) -> bool:
    """Whether `spec` names a folder at a git revision rather than a folder on disk."""
    return ":" in spec and not Path(spec).exists()


def model_at_revision(spec: str, into: Path) -> Path:
    """Write the *.yaml files of `spec` (REV:PATH) into `into`; return that folder."""
    revision, _, path = spec.partition(":")
    path = path.strip("/")
    listing = _git("ls-tree", "--name-only", f"{revision}:{path}" if path else revision, spec=spec)
    names = [n for n in listing.splitlines() if n.endswith(".yaml")]
    if not names:
        raise StrataError(
            f"no model files (*.yaml) in {spec}\n  hint: REV:PATH names a folder of the "
            "repository at that revision, e.g. HEAD~1:models/demo"
        )
    into.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = _git(
            "show", f"{revision}:{path}/{name}" if path else f"{revision}:{name}", spec=spec
        )
        (into / name).write_text(text)
    return into


def _git(*args: str, spec: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise StrataError(f"{spec} names a git revision, but git is not installed") from None
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git failed"
        raise StrataError(
            f"cannot read {spec} from git: {reason}\n"
            "  hint: run it inside the repository; REV is a commit, branch or tag, PATH a folder"
        )
    return done.stdout
