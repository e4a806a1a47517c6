"""Read a YAML file into plain data plus the position of every key and item.

PyYAML's `safe_load` forgets positions and silently keeps the last of two equal keys;
a modeler needs both, so we compose the node tree and build the data ourselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from semantic.errors import ModelError, ModelErrors, SourceSpan

Path_ = tuple[str | int, ...]
# Only its scalar constructors are used (ints, dates, booleans as YAML 1.1 reads them).
_SCALARS = yaml.SafeLoader("")


@dataclass(frozen=True)
class Located:
    """A file's data and, for each path into it, where that path was written."""

    file: str
    data: Any
    spans: Mapping[Path_, SourceSpan]

    def span(self, path: Path_) -> SourceSpan:
        """The closest recorded position at or above `path`."""
        for end in range(len(path), -1, -1):
            if (found := self.spans.get(tuple(path[:end]))) is not None:
                return found
        return SourceSpan(self.file, 1, 1)


def read_yaml(path: Path, display: str | None = None) -> Located:
    """Read one YAML file, keeping positions; duplicate keys are errors.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = p.write_text("a:\\n  - name: x\\n")
    >>> doc = read_yaml(p, "m.yaml")
    >>> doc.data, str(doc.span(("a", 0, "name")))
    ({'a': [{'name': 'x'}]}, 'm.yaml:2:5')
    """
    file = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ModelErrors(
            [
                ModelError(
                    SourceSpan(file, 1, 1), f"not UTF-8 text (byte {e.start}); save it as UTF-8"
                )
            ]
        ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        span = SourceSpan(file, mark.line + 1, mark.column + 1) if mark else SourceSpan(file, 1, 1)
        raise ModelErrors([ModelError(span, f"invalid YAML: {e.problem or e}")]) from None
    spans: dict[Path_, SourceSpan] = {}
    errors: list[ModelError] = []
    try:
        data = _build(root, (), file, spans, errors) if root is not None else {}
    except RecursionError:
        # An alias inside itself (x: &a [*a]) makes an endless tree.
        raise ModelErrors([ModelError(_span(file, root), "an alias refers to itself")]) from None
    if errors:
        raise ModelErrors(errors)
    return Located(file, data, MappingProxyType(spans))


def _span(file: str, node: yaml.Node) -> SourceSpan:
    # PyYAML marks count from 0; editors count from 1.
    return SourceSpan(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _build(node: yaml.Node, path: Path_, file: str, spans: dict, errors: list) -> Any:
    spans.setdefault(path, _span(file, node))
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_build(key_node, (*path, "<key>"), file, spans, errors))
            if key in out:
                errors.append(ModelError(_span(file, key_node), f"duplicate key '{key}'"))
                continue
            spans[(*path, key)] = _span(file, key_node)
            out[key] = _build(value_node, (*path, key), file, spans, errors)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), file, spans, errors) for i, item in enumerate(node.value)]
    try:
        return _SCALARS.construct_object(node)
    except (yaml.YAMLError, ValueError) as e:
        # A bad tagged scalar (!!int abc) or an unknown tag (!custom).
        errors.append(ModelError(_span(file, node), f"cannot read this value: {e}".split("\n")[0]))
        return None
