"""Mappings: which CSV column becomes which customer attribute, through which transforms.

A mapping is written as YAML or JSON and saved by name in the app store:

>>> m = parse_mapping({"name": "crm", "source": "old crm", "fields": {
...     "first_name": {"column": "Ime", "transforms": ["trim", "title"], "required": True},
...     "email": "E-mail"}})
>>> m.fields[0].transforms, m.fields[0].required, m.fields[1].on_error
(('trim', 'title'), True, <OnError.REJECT: 'reject'>)
>>> parse_mapping(to_spec(m)) == m
True
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from customers.attributes import ATTRIBUTE_NAMES, ATTRIBUTES, Kind
from customers.errors import MappingError

# name -> does it take an argument ("date:%d.%m.%Y", "phone:387")
TRANSFORMS: dict[str, bool] = {
    "trim": False,
    "upper": False,
    "lower": False,
    "title": False,
    "date": True,
    "phone": False,
    "email": False,
}


class OnError(StrEnum):
    """What a value that a transform cannot read does to its row."""

    REJECT = "reject"  # the row is rejected with the reason
    NULL = "null"  # the value becomes empty, the row is accepted
    KEEP = "keep"  # the trimmed text is kept (text attributes only), flagged as invalid


@dataclass(frozen=True)
class FieldMap:
    target: str
    column: str
    transforms: tuple[str, ...] = ()
    required: bool = False
    on_error: OnError = OnError.REJECT


@dataclass(frozen=True)
class Mapping:
    name: str
    fields: tuple[FieldMap, ...]
    source: str = "csv"  # the source system's name: provenance and source priority
    encoding: str | None = None  # None: detected per file
    delimiter: str | None = None

    def columns(self) -> tuple[str, ...]:
        """The CSV columns the mapping reads, in field order, each once."""
        return tuple(dict.fromkeys(f.column for f in self.fields))


def parse_mapping(spec: MappingType[str, Any]) -> Mapping:
    """Build a mapping from its YAML/JSON shape; every problem is reported at once."""
    problems: list[str] = []
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("'name' is required (a short name to save the mapping under)")
        name = ""
    unknown_keys = set(spec) - {"name", "source", "encoding", "delimiter", "fields"}
    problems += [f"unknown key '{k}'{_suggest(k, ['source', 'fields'])}" for k in unknown_keys]
    raw_fields = spec.get("fields") or {}
    if not isinstance(raw_fields, MappingType) or not raw_fields:
        problems.append("'fields' must map customer attributes to CSV columns")
        raw_fields = {}
    fields = []
    for target, raw in raw_fields.items():
        field, errors = _field(str(target), raw)
        problems += errors
        if field:
            fields.append(field)
    if problems:
        raise MappingError(
            f"mapping '{name}' has {len(problems)} problem(s):\n  " + "\n  ".join(problems),
            f"attributes are: {', '.join(ATTRIBUTE_NAMES)}",
        )
    return Mapping(
        name=name.strip(),
        fields=tuple(fields),
        source=str(spec.get("source") or "csv"),
        encoding=spec.get("encoding"),
        delimiter=spec.get("delimiter"),
    )


def to_spec(mapping: Mapping) -> dict[str, Any]:
    """The mapping's YAML/JSON shape (what `parse_mapping` reads)."""
    spec: dict[str, Any] = {"name": mapping.name, "source": mapping.source}
    if mapping.encoding:
        spec["encoding"] = mapping.encoding
    if mapping.delimiter:
        spec["delimiter"] = mapping.delimiter
    spec["fields"] = {
        f.target: {
            "column": f.column,
            "transforms": list(f.transforms),
            "required": f.required,
            "on_error": f.on_error.value,
        }
        for f in mapping.fields
    }
    return spec


def mapping_json(mapping: Mapping) -> str:
    """The mapping as canonical JSON (stored in the app store and with each import batch).

    >>> mapping_json(Mapping("m", (FieldMap("email", "Mail"),)))[:30]
    '{"delimiter": null, "encoding"'
    """
    spec = to_spec(mapping) | {"encoding": mapping.encoding, "delimiter": mapping.delimiter}
    return json.dumps(spec, sort_keys=True, ensure_ascii=False)


def _field(target: str, raw: Any) -> tuple[FieldMap | None, list[str]]:
    if target not in ATTRIBUTES:
        return None, [f"'{target}' is not a customer attribute{_suggest(target, ATTRIBUTE_NAMES)}"]
    if isinstance(raw, str):
        raw = {"column": raw}
    if not isinstance(raw, MappingType) or not isinstance(raw.get("column"), str):
        return None, [f"{target}: give the CSV column as a string or as 'column: NAME'"]
    keys = {"column", "transforms", "required", "on_error"}
    problems = [f"{target}: unknown key '{k}'" for k in set(raw) - keys]
    transforms = tuple(str(t) for t in raw.get("transforms") or ())
    for t in transforms:
        problems += [f"{target}: {p}" for p in _transform_problems(t)]
    try:
        on_error = OnError(raw.get("on_error", "reject"))
    except ValueError:
        problems.append(f"{target}: on_error must be one of {', '.join(OnError)}")
        on_error = OnError.REJECT
    if on_error is OnError.KEEP and ATTRIBUTES[target].kind is not Kind.TEXT:
        problems.append(f"{target}: on_error 'keep' is for text attributes only; use 'null'")
    field = FieldMap(target, raw["column"], transforms, bool(raw.get("required")), on_error)
    return field, problems


def _transform_problems(transform: str) -> list[str]:
    name, _, arg = transform.partition(":")
    if name not in TRANSFORMS:
        return [f"unknown transform '{transform}'{_suggest(name, TRANSFORMS)}"]
    if TRANSFORMS[name] and not arg:
        return [f"transform '{name}' needs a format, e.g. 'date:%d.%m.%Y'"]
    if name == "phone" and arg and not arg.isdigit():
        return [f"transform '{transform}': the country code is digits only, e.g. 'phone:387'"]
    return []


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
