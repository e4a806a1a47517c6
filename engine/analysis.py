"""An analysis as the builder holds it (columns, a tree of filters), and its Logical SQL.

The builder never writes SQL text: every value a user picks or types becomes a sqlglot literal
here, and the Logical SQL then goes through the engine like any other request, so permissions and
row filters apply to the builder exactly as they apply to Logical SQL typed by hand.

>>> a = Analysis(
...     "Campaigns",
...     (Selected("Customer", "Distribution Area", sort="asc"), Selected("Facts", "# Customers")),
...     FilterGroup("and", (Condition("Customer", "Customer Type", "=", ("Household",)),)),
... )
>>> print(to_logical_sql(a))  # doctest: +NORMALIZE_WHITESPACE
SELECT "Customer"."Distribution Area", "Facts"."# Customers" FROM "Campaigns"
WHERE "Customer"."Customer Type" = 'Household' ORDER BY "Customer"."Distribution Area" ASC
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import TypeAdapter, ValidationError
from sqlglot import exp

from engine.errors import LogicalSQLError
from engine.parse import LogicalSQL

Operator = Literal[
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "between",
    "not between",
    "contains",
    "starts with",
    "like",
    "not like",
    "is null",
    "is not null",
    "last",  # relative dates: values (n, "days" | "months" | "years"), up to today
    "is prompted",  # the value comes from the page's prompt; no value, no condition
]
ValueType = Literal["text", "number", "date", "timestamp", "boolean"]
# How many values each operator takes; None: one or more.
ARITY: Mapping[str, int | None] = {
    **dict.fromkeys(("=", "<>", "<", "<=", ">", ">=", "contains", "starts with"), 1),
    **dict.fromkeys(("like", "not like"), 1),
    **dict.fromkeys(("in", "not in", "is prompted"), None),
    **dict.fromkeys(("between", "not between", "last"), 2),
    **dict.fromkeys(("is null", "is not null"), 0),
}
OPERATORS_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "text": (
        *("=", "<>", "in", "not in", "contains", "starts with", "like", "not like"),
        *("is null", "is not null", "is prompted"),
    ),
    "number": (
        *("=", "<>", "<", "<=", ">", ">=", "between", "not between", "in", "not in"),
        *("is null", "is not null", "is prompted"),
    ),
    "date": (
        *("=", "<", "<=", ">", ">=", "between", "not between", "last", "in"),
        *("is null", "is not null", "is prompted"),
    ),
    "boolean": ("=", "is null", "is not null", "is prompted"),
}
OPERATORS_BY_TYPE = {**OPERATORS_BY_TYPE, "timestamp": OPERATORS_BY_TYPE["date"]}
UNITS = ("days", "months", "years")


@dataclass(frozen=True)
class Selected:
    """A column of the result: a presentation column, its label, and its sort."""

    folder: str
    column: str
    label: str | None = None
    sort: Literal["asc", "desc"] | None = None


@dataclass(frozen=True)
class Condition:
    folder: str
    column: str
    operator: Operator
    values: tuple[str | int | float | bool, ...] = ()
    value_type: ValueType = "text"


@dataclass(frozen=True)
class NamedFilterRef:
    """A filter saved in the catalog, applied as it is when the analysis runs. It names its
    folder (and, in a My Folder, its owner), so an analysis means the same to every reader."""

    name: str
    folder: Literal["my", "shared"] = "shared"
    owner: str | None = None  # whose My Folder

    @property
    def key(self) -> str:
        """How `to_logical_sql`'s `named` mapping finds it: "shared/NAME" or "my/OWNER/NAME"."""
        return f"shared/{self.name}" if self.folder == "shared" else f"my/{self.owner}/{self.name}"


@dataclass(frozen=True)
class FilterGroup:
    op: Literal["and", "or"] = "and"
    items: tuple[Condition | FilterGroup | NamedFilterRef, ...] = ()
    negate: bool = False


@dataclass(frozen=True)
class Analysis:
    subject_area: str
    columns: tuple[Selected, ...] = ()
    filters: FilterGroup = field(default_factory=FilterGroup)


_analysis_json = TypeAdapter(Analysis)
_group_json = TypeAdapter(FilterGroup)


def analysis_json(analysis: Analysis) -> str:
    """The analysis as JSON, for the catalog.

    >>> analysis_from_json(analysis_json(Analysis("Billing"))) == Analysis("Billing")
    True
    """
    return _analysis_json.dump_json(analysis).decode()


def analysis_from_json(text: str) -> Analysis:
    try:
        return _analysis_json.validate_json(text)
    except ValidationError as e:
        raise LogicalSQLError(f"the saved analysis cannot be read: {e}") from None


def filters_json(group: FilterGroup) -> str:
    return _group_json.dump_json(group).decode()


def filters_from_json(text: str) -> FilterGroup:
    try:
        return _group_json.validate_json(text)
    except ValidationError as e:
        raise LogicalSQLError(f"the saved filter cannot be read: {e}") from None


def to_logical_sql(
    analysis: Analysis,
    *,
    named: Mapping[str, FilterGroup] | None = None,
    prompts: Mapping[tuple[str, str], tuple] | None = None,
    today: date | None = None,
    limit: int | None = None,
) -> str:
    """The Logical SQL of `analysis`; `named` resolves saved filters, `prompts` fills prompted
    conditions (by (folder, column)), `today` anchors relative dates.

    >>> a = Analysis("Billing", (Selected("Time", "Year"),), FilterGroup("or", (
    ...     Condition("Time", "Year", "between", (2024, 2025), "number"),
    ...     Condition("Time", "Year", "is null"))))
    >>> print(to_logical_sql(a, limit=10))  # doctest: +NORMALIZE_WHITESPACE
    SELECT "Time"."Year" FROM "Billing"
    WHERE "Time"."Year" BETWEEN 2024 AND 2025 OR "Time"."Year" IS NULL FETCH FIRST 10 ROWS ONLY
    """
    if not analysis.columns:
        raise LogicalSQLError("the analysis has no columns", "pick at least one column")
    context = _Context(named or {}, prompts or {}, today or date.today(), ())
    select = exp.Select(
        expressions=[
            exp.alias_(_column(c.folder, c.column), c.label, quoted=True)
            if c.label
            else _column(c.folder, c.column)
            for c in analysis.columns
        ]
    ).from_(exp.to_table(exp.to_identifier(analysis.subject_area, quoted=True).sql()))
    where = _group(analysis.filters, context)
    if where is not None:
        select = select.where(where)
    order = [
        exp.Ordered(this=_column(c.folder, c.column), desc=c.sort == "desc", nulls_first=False)
        for c in analysis.columns
        if c.sort
    ]
    if order:
        select = select.order_by(*order)
    if limit is not None:
        select.set("limit", exp.Fetch(direction="FIRST", count=exp.Literal.number(limit)))
    return select.sql(dialect=LogicalSQL)


def with_values(condition: Condition, values: tuple) -> Condition:
    """The condition with other values (a prompt's, a drill's)."""
    return replace(condition, values=tuple(values))


@dataclass(frozen=True)
class _Context:
    named: Mapping[str, FilterGroup]
    prompts: Mapping[tuple[str, str], tuple]
    today: date
    expanding: tuple[str, ...]  # named filters being expanded: a cycle is an error, not a hang


def _group(group: FilterGroup, context: _Context) -> exp.Expression | None:
    parts = [p for p in (_item(i, context) for i in group.items) if p is not None]
    if not parts:
        return None
    combine = exp.and_ if group.op == "and" else exp.or_
    tree = parts[0] if len(parts) == 1 else combine(*parts)
    return exp.not_(exp.paren(tree)) if group.negate else tree


def _item(
    item: Condition | FilterGroup | NamedFilterRef, context: _Context
) -> exp.Expression | None:
    if isinstance(item, FilterGroup):
        return _group(item, context)
    if isinstance(item, NamedFilterRef):
        if item.key in context.expanding:
            raise LogicalSQLError(f"the saved filter {item.name!r} refers to itself")
        if item.key not in context.named:
            where = "Shared" if item.folder == "shared" else f"{item.owner}'s My Folder"
            raise LogicalSQLError(
                f"no saved filter named {item.name!r} in {where} that you may read",
                "it may have been renamed or deleted; remove it from the analysis",
            )
        inner = replace(context, expanding=(*context.expanding, item.key))
        return _group(context.named[item.key], inner)
    return _condition(item, context)


def _condition(c: Condition, context: _Context) -> exp.Expression | None:
    op, column = c.operator, _column(c.folder, c.column)
    values = c.values
    if op == "is prompted":
        values = tuple(context.prompts.get((c.folder, c.column), ()))
        if not values:
            return None
        return exp.In(this=column, expressions=[_literal(v, c.value_type) for v in values])
    _check_arity(c)
    if op == "is null":
        return exp.Is(this=column, expression=exp.Null())
    if op == "is not null":
        return exp.not_(exp.Is(this=column, expression=exp.Null()))
    if op == "last":
        start, end = _last(int(values[0]), str(values[1]), context.today)
        return _days(column, start, end, c.value_type)
    if op == "=" and c.value_type == "timestamp" and _is_day(values[0]):
        # A day picked for a timestamp column means the whole day, not its midnight.
        day = date.fromisoformat(str(values[0])[:10])
        return _days(column, day, day, "timestamp")
    literals = [_literal(v, c.value_type) for v in values]
    if op in ("in", "not in"):
        tree = exp.In(this=column, expressions=literals)
        return exp.not_(tree) if op == "not in" else tree
    if op in ("between", "not between"):
        tree = exp.Between(this=column, low=literals[0], high=literals[1])
        return exp.not_(tree) if op == "not between" else tree
    if op in ("contains", "starts with"):
        text = _escaped(str(values[0]).lower())
        pattern = f"%{text}%" if op == "contains" else f"{text}%"
        return exp.Escape(
            this=exp.Like(this=exp.Lower(this=column), expression=exp.Literal.string(pattern)),
            expression=exp.Literal.string("\\"),
        )
    if op in ("like", "not like"):
        tree = exp.Like(this=column, expression=exp.Literal.string(str(values[0])))
        return exp.not_(tree) if op == "not like" else tree
    comparison = {
        "=": exp.EQ,
        "<>": exp.NEQ,
        "<": exp.LT,
        "<=": exp.LTE,
        ">": exp.GT,
        ">=": exp.GTE,
    }
    return comparison[op](this=column, expression=literals[0])


def _check_arity(c: Condition) -> None:
    wanted = ARITY[c.operator]
    if wanted is None and not c.values:
        raise LogicalSQLError(
            f'the filter on "{c.folder}"."{c.column}" ({c.operator}) has no values',
            "pick at least one value, or remove the filter",
        )
    if wanted is not None and len(c.values) != wanted:
        raise LogicalSQLError(
            f'the filter on "{c.folder}"."{c.column}" ({c.operator}) needs {wanted} value(s), '
            f"got {len(c.values)}",
            "fill in every value, or remove the filter",
        )
    if c.operator == "last" and (
        str(c.values[1]) not in UNITS or not str(c.values[0]).isdigit() or int(c.values[0]) < 1
    ):
        raise LogicalSQLError(
            f'the filter on "{c.folder}"."{c.column}" (last) needs a whole number from 1 and a '
            "unit, "
            f"got {c.values[0]!r} {c.values[1]!r}",
            f"units: {', '.join(UNITS)}",
        )


def _days(column: exp.Expression, start: date, end: date, value_type: str) -> exp.Expression:
    """The days start..end inclusive; on a timestamp, every instant of them (half-open)."""
    if value_type != "timestamp":
        return exp.Between(this=column, low=_literal(start, "date"), high=_literal(end, "date"))
    first = datetime.combine(start, datetime.min.time())
    after = datetime.combine(end + timedelta(days=1), datetime.min.time())
    return exp.and_(
        exp.GTE(this=column, expression=_literal(first, "timestamp")),
        exp.LT(this=column.copy(), expression=_literal(after, "timestamp")),
    )


def _is_day(value: object) -> bool:
    text = value.isoformat() if isinstance(value, date) else str(value)
    return len(text) == 10 and not isinstance(value, datetime)


def _last(n: int, unit: str, today: date) -> tuple[date, date]:
    """The n units up to and including today: last 3 months from 2026-05-31 starts 2026-03-01."""
    if unit == "days":
        return today - timedelta(days=n - 1), today
    months = n * (12 if unit == "years" else 1)
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    month += 1
    day = min(today.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=1), today


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _column(folder: str, column: str) -> exp.Column:
    return exp.column(column, table=folder, quoted=True)


def _literal(value: object, value_type: str) -> exp.Expression:
    if value is None:
        return exp.Null()
    if value_type == "boolean" or isinstance(value, bool):
        truthy = value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
        return exp.Boolean(this=truthy)
    if value_type == "number":
        try:
            number = float(value) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise LogicalSQLError(f"{value!r} is not a number") from None
        if not math.isfinite(number):  # sqlglot would write nan or inf as a bare name
            raise LogicalSQLError(f"{value!r} is not a finite number")
        if isinstance(number, float) and number.is_integer() and "." not in str(value):
            number = int(number)
        return exp.Literal.number(number)
    if value_type in ("date", "timestamp"):
        if value_type == "date" and isinstance(value, datetime):
            value = value.date()
        if isinstance(value, datetime):
            text = value.isoformat(sep=" ")  # every dialect reads "YYYY-MM-DD HH:MM:SS"
        else:
            text = value.isoformat() if isinstance(value, date) else str(value)
        kind = "DATE" if value_type == "date" else "TIMESTAMP"
        if kind == "DATE" and len(text) > 10 and text[10] in "T ":
            text = text[:10]
        try:
            (date if kind == "DATE" else datetime).fromisoformat(text)
        except ValueError:
            raise LogicalSQLError(
                f"{text!r} is not a {value_type}", "write dates as YYYY-MM-DD"
            ) from None
        if kind == "DATE":
            text = text[:10]
        return exp.cast(exp.Literal.string(text), kind)
    return exp.Literal.string(str(value))


def drill_down(
    analysis: Analysis,
    clicked: tuple[str, str],
    value: object,
    lower: tuple[str, str],
    value_type: str = "text",
) -> Analysis:
    """The analysis one level lower: `lower` follows the clicked column, and the clicked member
    becomes a condition (NULL: "is null"), ANDed with the filters there were.

    >>> a = Analysis("Billing", (Selected("Time", "Year"), Selected("Facts", "Billed Amount")))
    >>> print(to_logical_sql(drill_down(a, ("Time", "Year"), 2025, ("Time", "Quarter"), "number")))
    ... # doctest: +NORMALIZE_WHITESPACE
    SELECT "Time"."Year", "Time"."Quarter", "Facts"."Billed Amount" FROM "Billing"
    WHERE "Time"."Year" = 2025
    """
    columns = list(analysis.columns)
    if not any((c.folder, c.column) == lower for c in columns):
        at = next(i for i, c in enumerate(columns) if (c.folder, c.column) == clicked)
        columns.insert(at + 1, Selected(*lower, sort=columns[at].sort))
    if value is None:
        condition = Condition(*clicked, "is null")
    else:
        condition = Condition(*clicked, "=", (_plain(value),), value_type)
    filters = analysis.filters
    if filters.op == "and" and not filters.negate:
        filters = replace(filters, items=(*filters.items, condition))
    else:
        filters = FilterGroup("and", (filters, condition))
    return replace(analysis, columns=tuple(columns), filters=filters)


def _plain(value: object) -> str | int | float | bool:
    """A value read from a result (numpy, pandas, dates) as JSON can hold it."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def expand_named(group: FilterGroup, named: Mapping[str, FilterGroup]) -> FilterGroup:
    """The filter tree with every saved-filter reference replaced by the filter it names."""
    return _expand(group, named, ())


def _expand(group: FilterGroup, named: Mapping[str, FilterGroup], seen: tuple) -> FilterGroup:
    items = []
    for item in group.items:
        if isinstance(item, FilterGroup):
            items.append(_expand(item, named, seen))
        elif isinstance(item, NamedFilterRef):
            if item.key in seen or item.key not in named:
                items.append(item)  # to_logical_sql reports it, with its reason
            else:
                items.append(_expand(named[item.key], named, (*seen, item.key)))
        else:
            items.append(item)
    return replace(group, items=tuple(items))


def without(group: FilterGroup, columns: set[tuple[str, str]]) -> FilterGroup:
    """The filter tree without the conditions on `columns` (a group left empty goes too)."""
    items = []
    for item in group.items:
        if isinstance(item, FilterGroup):
            inner = without(item, columns)
            if inner.items:
                items.append(inner)
        elif not (isinstance(item, Condition) and (item.folder, item.column) in columns):
            items.append(item)
    return replace(group, items=tuple(items))


def conditions_on(group: FilterGroup) -> set[tuple[str, str]]:
    """The columns the tree's conditions name (saved filters expanded first, if needed)."""
    found: set[tuple[str, str]] = set()
    for item in group.items:
        if isinstance(item, FilterGroup):
            found |= conditions_on(item)
        elif isinstance(item, Condition):
            found.add((item.folder, item.column))
    return found
