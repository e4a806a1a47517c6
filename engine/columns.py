"""What a user may pick from a subject area: folders, columns, their kind and value type.

>>> from engine.session import SYSTEM
>>> from semantic import load_model
>>> tree = column_tree(load_model("models/demo"), "Billing", SYSTEM)
>>> [(c.name, c.kind, c.value_type) for c in tree[0].columns][:2]
[('Year', 'attribute', 'number'), ('Quarter', 'attribute', 'text')]
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

from engine.errors import LogicalSQLError
from engine.resolve import _subject_area
from engine.session import Session
from semantic.model import ColumnKind, Model


@dataclass(frozen=True)
class ColumnInfo:
    folder: str
    name: str
    kind: str  # "attribute" or "measure" (derived measures are measures to a user)
    value_type: str  # "text", "number", "date", "timestamp", "boolean"
    description: str | None

    @property
    def ref(self) -> str:
        return f'"{self.folder}"."{self.name}"'


@dataclass(frozen=True)
class FolderInfo:
    name: str
    description: str | None
    columns: tuple[ColumnInfo, ...]


def column_tree(model: Model, subject_area: str, session: Session) -> tuple[FolderInfo, ...]:
    """The folders and columns of `subject_area` that `session` may see, in model order.

    A subject area the user may not see raises the same error as naming it in Logical SQL.
    """
    area = _subject_area(subject_area, model, session)
    folders = []
    for folder in area.folders:
        if not session.sees(folder.roles):
            continue
        columns = tuple(
            _info(model, c.folder, c.name, c.table, c.column, c.description)
            for c in folder.columns
            if session.sees(c.roles)
        )
        if columns:
            folders.append(FolderInfo(folder.name, folder.description, columns))
    return tuple(folders)


def subject_areas(model: Model, session: Session) -> tuple[str, ...]:
    """The subject areas `session` may query."""
    return tuple(a.name for a in model.subject_areas if session.sees(a.roles))


def find_column(tree: tuple[FolderInfo, ...], folder: str, name: str) -> ColumnInfo:
    for f in tree:
        for c in f.columns:
            if (c.folder, c.name) == (folder, name):
                return c
    raise LogicalSQLError(f'column "{folder}"."{name}" not found or not permitted')


def _info(
    model: Model, folder: str, name: str, table: str, column: str, description: str | None
) -> ColumnInfo:
    logical = model.logical_column(table, column)
    if logical.kind is not ColumnKind.attribute:
        return ColumnInfo(folder, name, "measure", "number", description or logical.description)
    return ColumnInfo(
        folder,
        name,
        "attribute",
        _value_type(logical.expr, model),
        description or logical.description,
    )


def _value_type(tree: exp.Expression | None, model: Model) -> str:
    if tree is None:
        return "text"
    types = {(t.name, c): sql_type for t in model.tables for c, sql_type in t.columns}

    # annotate_types types a column only inside a scope it can resolve; a typed NULL in the
    # column's place carries the physical type through functions and CASE alike.
    def typed_null(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and (node.table, node.name) in types:
            return exp.cast(exp.Null(), types[(node.table, node.name)])
        return node

    typed = annotate_types(tree.transform(typed_null, copy=True))
    kind = typed.type.this if typed.type else exp.DataType.Type.UNKNOWN
    if kind in exp.DataType.TEMPORAL_TYPES:
        return "date" if kind == exp.DataType.Type.DATE else "timestamp"
    if kind in exp.DataType.NUMERIC_TYPES:
        return "number"
    if kind == exp.DataType.Type.BOOLEAN:
        return "boolean"
    return "text"
