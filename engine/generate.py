"""Generate the physical SQL for a plan, as a sqlglot tree, then as text for a dialect.

Each fact query aggregates at the request's grain in its own subquery, so no join can
multiply a measure; the subqueries are stitched by FULL OUTER JOIN on the grain columns
with IS NOT DISTINCT FROM, which keeps NULL dimension values and stays a hash join.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from engine.plan import FactQuery, QueryPlan
from semantic.model import ColumnKind, LogicalColumn, Model
from semantic.spec import Aggregation

_AGGREGATES = {
    Aggregation.sum: lambda e: exp.Sum(this=e),
    Aggregation.count: lambda e: exp.Count(this=e),
    Aggregation.count_distinct: lambda e: exp.Count(this=exp.Distinct(expressions=[e])),
    Aggregation.avg: lambda e: exp.Avg(this=e),
    Aggregation.min: lambda e: exp.Min(this=e),
    Aggregation.max: lambda e: exp.Max(this=e),
}


@dataclass(frozen=True)
class GeneratedQuery:
    sql: str
    dialect: str
    database: str
    columns: tuple[str, ...]            # visible result columns, in order


def generate(plan: QueryPlan, model: Model, dialect: str = "duckdb") -> GeneratedQuery:
    """The SQL text of `plan` for `dialect`.

    >>> from engine.parse import parse
    >>> from engine.resolve import resolve
    >>> from engine.plan import plan
    >>> from semantic import load_model
    >>> m = load_model("models/demo")
    >>> q = generate(plan(resolve(parse('SELECT "Customer"."Customer Type", "Facts"."# Customers" '
    ...     'FROM "Campaigns"'), m), m), m)
    >>> print(q.sql)
    SELECT "f0"."d0" AS "Customer Type", "f0"."m0" AS "# Customers" FROM (SELECT "customer"."customer_type" AS "d0", COUNT(DISTINCT "customer"."customer_id") AS "m0" FROM "customer" AS "customer" GROUP BY "customer"."customer_type") AS "f0"
    """
    tree = build(plan, model)
    columns = tuple(o.name for o in plan.request.outputs if not o.hidden)
    return GeneratedQuery(tree.sql(dialect=dialect, identify=True), dialect, plan.database, columns)


def build(plan: QueryPlan, model: Model) -> exp.Select:
    """The sqlglot tree of `plan`, before it is written for a dialect."""
    request = plan.request
    grain = [request.outputs[i].expr for i in plan.grain]
    measure_columns: dict[tuple[str, str], exp.Expression] = {}
    subqueries = []
    for i, fact in enumerate(plan.facts):
        alias = f"f{i}"
        for j, measure in enumerate(fact.measures):
            measure_columns[measure.ref] = exp.column(f"m{j}", alias)
        subqueries.append(
            (alias, _fact_select(fact, grain, request.filters, model).subquery(alias))
        )
    keys = [
        _coalesce([exp.column(f"d{k}", alias) for alias, _ in subqueries]) for k in range(len(grain))
    ]
    outer = exp.select().from_(subqueries[0][1])
    for n, (alias, subquery) in enumerate(subqueries[1:], start=1):
        condition = exp.and_(*(
            exp.NullSafeEQ(
                this=_coalesce([exp.column(f"d{k}", a) for a, _ in subqueries[:n]]),
                expression=exp.column(f"d{k}", alias),
            )
            for k in range(len(grain))
        )) if grain else None
        outer = outer.join(subquery, on=condition, join_type="full outer" if grain else "cross")
    by_output = dict(zip(plan.grain, keys, strict=True))
    values = [
        by_output[i] if i in by_output else _outer(o.expr, measure_columns, model)
        for i, o in enumerate(request.outputs)
    ]
    outer = outer.select(
        *(exp.alias_(v, o.name) for v, o in zip(values, request.outputs, strict=True) if not o.hidden)
    )
    for condition in request.measure_filters:
        outer = outer.where(_outer(condition, measure_columns, model))
    if request.order_by:
        outer = outer.order_by(*(
            exp.Ordered(this=values[o.output].copy(), desc=o.desc, nulls_first=o.nulls_first)
            for o in request.order_by
        ))
    if request.request.limit is not None:
        outer = outer.limit(request.request.limit)
    if request.request.offset is not None:
        outer = outer.offset(request.request.offset)
    return _safe_division(outer)


def _coalesce(columns: list[exp.Expression]) -> exp.Expression:
    return columns[0] if len(columns) == 1 else exp.Coalesce(this=columns[0], expressions=columns[1:])


def _fact_select(
    fact: FactQuery, grain: list[exp.Expression], filters, model: Model
) -> exp.Select:
    dimensions = [_physical(g, model) for g in grain]
    select = exp.select(
        *(exp.alias_(d, f"d{k}") for k, d in enumerate(dimensions)),
        *(exp.alias_(_aggregate(m), f"m{j}") for j, m in enumerate(fact.measures)),
    ).from_(_table(fact.source.base, model))
    for step in fact.joins:
        join = step.join
        condition = exp.and_(*(
            exp.column(mc, join.many).eq(exp.column(oc, join.one))
            for mc, oc in zip(join.many_columns, join.one_columns, strict=True)
        ))
        # LEFT: a fact row whose dimension key is NULL or dangling still counts in totals.
        select = select.join(_table(step.table, model), on=condition, join_type="left")
    for condition in filters:
        select = select.where(_physical(condition, model))
    if dimensions:
        select = select.group_by(*(d.copy() for d in dimensions))
    return select


def _table(name: str, model: Model) -> exp.Expression:
    table = model.table(name)
    # alias_(..., table=True) makes a TableAlias, which sqlglot's optimizer rules expect.
    return exp.alias_(exp.table_(table.table, db=table.schema), name, table=True)


def _physical(tree: exp.Expression, model: Model) -> exp.Expression:
    """Replace logical attribute references by their physical expressions."""
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return _wrapped(model.logical_column(node.table, node.name).expr.copy())
        return node
    return tree.transform(swap, copy=True)


def _aggregate(measure: LogicalColumn) -> exp.Expression:
    return _AGGREGATES[measure.aggregation](measure.expr.copy())


def _outer(tree: exp.Expression, measures: dict, model: Model) -> exp.Expression:
    """Replace measure references by stitched columns, expanding derived measures."""
    def swap(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column):
            return node
        column = model.logical_column(node.table, node.name)
        if column.kind is ColumnKind.derived:
            formula = column.formula.transform(
                lambda n: exp.column(n.name, n.table or column.table, quoted=True)
                if isinstance(n, exp.Column) else n
            )
            return _wrapped(_outer(formula, measures, model))
        return measures[column.ref].copy()
    return tree.transform(swap, copy=True)


def _wrapped(tree: exp.Expression) -> exp.Expression:
    # Keeps `a - b` together when it is substituted into `x * (a - b)`.
    atomic = (exp.Column, exp.Literal, exp.Func, exp.Paren, exp.Case)
    return tree if isinstance(tree, atomic) else exp.Paren(this=tree)


def _safe_division(tree: exp.Select) -> exp.Select:
    """Every `x / y` becomes `x / NULLIF(y, 0)`: no engine then fails or returns infinity."""
    def guard(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div):
            divisor = node.expression
            literal = isinstance(divisor, exp.Literal) and not divisor.is_string
            if not isinstance(divisor, exp.Nullif) and not (literal and float(divisor.this) != 0):
                node.set("expression", exp.Nullif(this=divisor, expression=exp.Literal.number(0)))
        return node
    return tree.transform(guard, copy=False)
