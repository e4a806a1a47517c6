"""The JSON Schema comes from the loader's own classes: it accepts every model file the loader
accepts, rejects what the loader rejects, at the same place, and cannot drift from it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from semantic import ModelErrors, load_model
from semantic.schema import SCHEMA_FILE, model_schema, schema_text
from semantic.yaml_source import read_yaml
from tests.conftest import ROOT, TINY, strata

GUIDE = ROOT / "docs" / "example"
MODEL_FILES = [
    *sorted((ROOT / "models" / "demo").glob("*.yaml")),
    *sorted(TINY.glob("*.yaml")),
    *sorted(GUIDE.glob("*.yaml")),
]
VALIDATOR = jsonschema.Draft202012Validator(model_schema())


def test_the_shipped_schema_is_the_generated_one():
    assert SCHEMA_FILE.read_text() == schema_text(), "run: strata model schema > " + str(
        SCHEMA_FILE
    )


def test_strata_model_schema_prints_it():
    done = strata("model", "schema")
    assert json.loads(done.stdout) == model_schema()


@pytest.mark.parametrize(
    "path", MODEL_FILES, ids=[f"{p.parent.name}/{p.name}" for p in MODEL_FILES]
)
def test_every_model_file_satisfies_the_schema(path):
    assert list(VALIDATOR.iter_errors(read_yaml(path).data)) == []


def test_the_demo_files_point_editors_at_the_schema():
    for path in [*sorted((ROOT / "models" / "demo").glob("*.yaml")), *GUIDE.glob("*.yaml")]:
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../semantic/strata.schema.json"
        assert (path.parent / first.split("=", 1)[1]).resolve() == SCHEMA_FILE


BROKEN = [
    ("aggregation: sum}", "agregation: sum}"),  # unknown key
    ("aggregation: sum}", "aggregation: total}"),  # not one of the rules
    ("kind: fact\n    columns:", "kind: facts\n    columns:"),  # not a table kind
    ("  - name: Area\n    kind: dimension\n", "  - kind: dimension\n"),  # missing name
]


@pytest.mark.parametrize(("old", "new"), BROKEN, ids=["unknown-key", "enum", "kind", "missing"])
def test_a_broken_file_fails_the_schema_where_the_loader_points(tmp_path, old, new):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for path in TINY.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    business = folder / "business.yaml"
    business.write_text(business.read_text().replace(old, new, 1))
    with pytest.raises(ModelErrors) as caught:
        load_model(folder)
    loader_spans = {(e.span.line, e.span.col) for e in caught.value.errors}
    doc = read_yaml(business)
    errors = list(VALIDATOR.iter_errors(doc.data))
    assert errors
    schema_spans = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            path += (error.message.split("'")[1],)  # the unexpected key itself
        span = doc.span(path)
        schema_spans.add((span.line, span.col))
    assert schema_spans & loader_spans, (schema_spans, loader_spans)


def test_the_schema_file_is_shipped_with_the_package():
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert (
        "*.json" in package_data["package-data"]["*"]
        and Path(SCHEMA_FILE).parent.name == "semantic"
    )
