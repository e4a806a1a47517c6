"""The JSON Schema of a model file, generated from the classes the loader validates with."""

from __future__ import annotations

import json
from pathlib import Path

from semantic.spec import ModelFileSpec

SCHEMA_FILE = Path(__file__).with_name("strata.schema.json")


def model_schema() -> dict:
    """The JSON Schema every model YAML file must satisfy.

    >>> schema = model_schema()
    >>> schema["title"], sorted(schema["properties"])[:2]
    ('Strata model file', ['databases', 'hierarchies'])
    """
    schema = ModelFileSpec.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "Strata model file",
        "description": "One YAML file of a Strata model; any file may hold any of the sections.",
    }


def schema_text() -> str:
    """The schema as the file shipped in the package holds it."""
    return json.dumps(model_schema(), indent=2, ensure_ascii=False) + "\n"
