"""Connection settings from the model, with ${VAR} and ${VAR:-default} read from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from semantic.errors import StrataError

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand(value: str, environ: dict[str, str] | None = None) -> str:
    """Replace environment references; a missing variable without default is an error.

    >>> expand("${STRATA_TEST_UNSET:-data}/demo.duckdb", {})
    'data/demo.duckdb'
    >>> expand("${HOST}:5432", {"HOST": "127.0.0.1"})
    '127.0.0.1:5432'
    """
    env = os.environ if environ is None else environ

    def one(match: re.Match) -> str:
        name, default = match["name"], match["default"]
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        raise StrataError(
            f"environment variable {name} is not set (the model's connection uses it)"
        )

    return _VARIABLE.sub(one, value)


def data_folder(environ: Mapping[str, str] | None = None) -> Path:
    """Where Strata keeps its files (demo warehouse, app store, result cache): $STRATA_DATA.

    >>> data_folder({}), data_folder({"STRATA_DATA": "/srv/strata"})
    (PosixPath('data'), PosixPath('/srv/strata'))
    """
    env = os.environ if environ is None else environ
    return Path(env.get("STRATA_DATA") or "data")
