"""Drill down: a request one hierarchy level lower, filtered to the member clicked.

Also lists, per subject area, which presentation columns are hierarchy levels and where each
drills to, so that a front end knows which cells are links.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from engine.errors import LogicalSQLError, quoted
from engine.parse import LogicalSQL, parse
from engine.resolve import resolve
from engine.session import Session
from semantic.model import Hierarchy, Model, PresentationColumn, SubjectArea


@dataclass(frozen=True)
class DrillLevel:
    """A presentation column that is a hierarchy level, and the column it drills to."""

    column: str  # '"Folder"."Column"'
    hierarchy: str
    level: str
    depth: int  # 0: the top level
    drills_to: str | None  # the next lower level's presentation column; None at the bottom


def levels(model: Model, session: Session, subject_area: str) -> tuple[DrillLevel, ...]:
    """The level columns of `subject_area` that `session` sees, top level first per hierarchy.

    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> for lv in levels(load_model("models/demo"), SYSTEM, "Billing")[:3]:
    ...     print(lv.column, lv.level, "->", lv.drills_to)
    "Time"."Year" Year -> "Time"."Quarter"
    "Time"."Quarter" Quarter -> "Time"."Month"
    "Time"."Month" Month -> "Time"."Date"
    """
    area = _area(model, session, subject_area)
    found = []
    for hierarchy in model.hierarchies:
        for depth, level in enumerate(hierarchy.levels):
            column = _presented(area, session, hierarchy.table, level.key)
            if column is None:
                continue
            lower = _lower(area, session, hierarchy, depth)
            found.append(
                DrillLevel(
                    quoted(column.folder, column.name),
                    hierarchy.name,
                    level.name,
                    depth,
                    quoted(lower.folder, lower.name) if lower else None,
                )
            )
    return tuple(found)


def drill(text: str, column: str, value: object, model: Model, session: Session) -> str:
    """`text` with `column` followed by the next lower level's column, and `column = value`
    added to its conditions; `value` becomes a literal, never SQL text.

    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> m = load_model("models/demo")
    >>> new = drill('SELECT "Time"."Year", "Facts"."Billed Amount" FROM "Billing"',
    ...             '"Time"."Year"', 2025, m, SYSTEM)
    >>> for part in new.split(" FROM "):
    ...     print(part)
    SELECT "Time"."Year", "Time"."Quarter", "Facts"."Billed Amount"
    "Billing" WHERE "Time"."Year" = 2025
    """
    request = parse(text)
    resolved = resolve(request, model, session)
    area = resolved.subject_area
    try:
        target = sqlglot.parse_one(column, read=LogicalSQL)
    except sqlglot.errors.ParseError:
        target = None
    if not isinstance(target, exp.Column):
        raise LogicalSQLError(
            f"{column} is not a presentation column", 'write it as "Folder"."Column"'
        )
    ref = _logical(target, area, model, session)
    position = next(
        (
            i
            for i, item in enumerate(request.select)
            if isinstance(item.expr, exp.Column)
            and _logical(item.expr, area, model, session) == ref
        ),
        None,
    )
    if position is None:
        raise LogicalSQLError(
            f"{column} is not selected in this request", "drill on a column of the SELECT list"
        )
    lower = _drill_target(model, session, area, ref, column)
    statement = sqlglot.parse_one(text, read=LogicalSQL)
    items = statement.expressions
    new_column = exp.column(lower.name, lower.folder, quoted=True)
    lower_ref = (lower.table, lower.column)
    if not any(
        isinstance(item.unalias(), exp.Column)
        and _logical(item.unalias(), area, model, session) == lower_ref
        for item in items
    ):
        items.insert(position + 1, new_column)
        statement.set("expressions", items)
    condition = _equals(target.copy(), value)
    where = statement.args.get("where")
    statement.set(
        "where",
        exp.Where(
            this=exp.and_(where.this, condition) if where is not None else condition,
        ),
    )
    result = statement.sql(dialect=LogicalSQL)
    resolve(parse(result), model, session)  # the new request must itself be valid
    return result


def _area(model: Model, session: Session, name: str) -> SubjectArea:
    for area in model.subject_areas:
        if area.name == name and session.sees(area.roles):
            return area
    raise LogicalSQLError(f"subject area {quoted(name)} not found or not permitted")


def _visible(area: SubjectArea, session: Session):
    for folder in area.folders:
        if session.sees(folder.roles):
            for column in folder.columns:
                if session.sees(column.roles):
                    yield column


def _presented(
    area: SubjectArea, session: Session, table: str, column: str
) -> PresentationColumn | None:
    return next(
        (c for c in _visible(area, session) if (c.table, c.column) == (table, column)), None
    )


def _lower(
    area: SubjectArea, session: Session, hierarchy: Hierarchy, depth: int
) -> PresentationColumn | None:
    """The first level below `depth` that the subject area shows (levels it hides are skipped)."""
    for level in hierarchy.levels[depth + 1 :]:
        found = _presented(area, session, hierarchy.table, level.key)
        if found is not None:
            return found
    return None


def _logical(node: exp.Column, area: SubjectArea, model: Model, session: Session):
    folder, name = node.table, node.name
    for c in _visible(area, session):
        if c.name.lower() == name.lower() and (not folder or c.folder.lower() == folder.lower()):
            return (c.table, c.column)
    raise LogicalSQLError(
        f"column {node.sql()} not found or not permitted in subject area {quoted(area.name)}"
    )


def _drill_target(
    model: Model, session: Session, area: SubjectArea, ref: tuple[str, str], column: str
) -> PresentationColumn:
    found = model.levels_of(*ref)
    if not found:
        names = [h.name for h in model.hierarchies]
        raise LogicalSQLError(
            f"{column} is not a level of any hierarchy, so there is nothing to drill to",
            f"hierarchies: {', '.join(names)}" if names else None,
        )
    # A level's other columns (Month Name) drill like its key.
    for hierarchy, depth in found:
        lower = _lower(area, session, hierarchy, depth)
        if lower is not None:
            return lower
    raise LogicalSQLError(
        f"{column} is the lowest level this subject area shows; there is nothing below it"
    )


def _literal(value: object) -> exp.Expression:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars, as pandas hands them out
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()  # pandas Timestamp
        if value.time() == dt.time(0):
            value = value.date()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.Literal.number(str(value))
    if isinstance(value, dt.datetime):
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")), to="TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to="DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise LogicalSQLError(f"cannot drill on a value of type {type(value).__name__}")


def _equals(column: exp.Column, value: object) -> exp.Expression:
    if value is None or (isinstance(value, float) and value != value):
        return exp.Is(this=column, expression=exp.Null())
    return exp.EQ(this=column, expression=_literal(value))
