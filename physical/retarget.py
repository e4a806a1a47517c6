"""A copy of a model folder whose database runs on another engine.

Only the database's `dialect` and `connection` change; the tables, the business layer and
the presentation layer are the same files, which is the point: one model, three engines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from semantic.errors import StrataError


def retarget(
    model: Path, folder: Path, database: str, dialect: str, connection: dict[str, str]
) -> Path:
    """Copy `model` to `folder` with `database` on `dialect` through `connection`.

    >>> import tempfile
    >>> out = retarget(Path("tests/models/tiny"), Path(tempfile.mkdtemp()) / "pg", "tiny",
    ...                "postgres", {"url": "postgresql://bi@127.0.0.1:5432/bi"})
    >>> from semantic import load_model
    >>> load_model(out).database("tiny").dialect
    'postgres'
    """
    model, folder = Path(model), Path(folder)
    if folder.exists():
        # Replace an earlier copy, never a folder that holds anything but model files.
        if any(p.suffix != ".yaml" or p.is_dir() for p in folder.iterdir()):
            raise StrataError(f"{folder} holds files other than a model's YAML; not replacing it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    found = False
    for path in sorted(model.glob("*.yaml")):
        text = path.read_text()
        document = yaml.safe_load(text) or {}
        databases = document.get("databases") or []
        for entry in databases:
            if entry.get("name") == database:
                entry["dialect"] = dialect
                entry["connection"] = dict(connection)
                found = True
                text = (
                    f"# Written by strata from {path}: database '{database}' on {dialect}.\n"
                    + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
                )
        (folder / path.name).write_text(text)
    if not found:
        raise StrataError(f"model {model} has no database '{database}'")
    return folder
