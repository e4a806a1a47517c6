"""Generate the physical SQL for a plan, as a sqlglot tree, then as text for a dialect.

Each fact query aggregates at the request's grain in its own subquery, so no join can
multiply a measure; the subqueries are stitched by FULL OUTER JOIN on the grain columns
with IS NOT DISTINCT FROM, which keeps NULL dimension values and stays a hash join.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from engine.dialects import annotate, portable, result_types
from engine.federate import federate
from engine.functions import AGO, TODATE, is_special, measure_of
from engine.plan import (
    FactQuery,
    Period,
    QueryPlan,
    compared_column,
    last_period,
    partial,
    physical_column,
    plan_tables,
    qualified_formula,
    with_preaggregation,
)
from engine.safe_sql import DIALECTS as SAFE_WRITERS
from engine.safe_sql import safe_divisor, written
from engine.timeseries import Base, derived_select, share_periods
from physical.federation import Fetch
from physical.types import data_type
from semantic.model import ColumnKind, JoinStep, LogicalColumn, Model
from semantic.spec import Aggregation
from semantic.trees import copied, transformed

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
    columns: tuple[str, ...]  # visible result columns, in order
    tree: exp.Select = field(compare=False, repr=False)
    subject_area: str = ""
    tables: tuple[str, ...] = ()  # physical tables read, for the result cache's time to live
    types: tuple[str, ...] = ()  # SQL type of each visible column, from the model's types
    # Tables of other databases that `database` reads, fetched first (engine/federate.py).
    fetches: tuple[Fetch, ...] = ()

    @property
    def pretty(self) -> str:
        """The same SQL, indented for people to read."""
        return self.tree.sql(dialect=self.dialect, identify=True, pretty=True)


def generate(plan: QueryPlan, model: Model, dialect: str = "duckdb") -> GeneratedQuery:
    """The SQL text of `plan` for `dialect`.

    >>> from engine.parse import parse
    >>> from engine.resolve import resolve
    >>> from engine.plan import plan
    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> m = load_model("models/demo")
    >>> q = generate(plan(resolve(parse('SELECT "Customer"."Customer Type", "Facts"."# Customers" '
    ...     'FROM "Campaigns"'), m, SYSTEM), m), m)
    >>> print(q.pretty)
    SELECT
      "f0"."d0" AS "Customer Type",
      "f0"."m0" AS "# Customers"
    FROM (
      SELECT
        "customer"."customer_type" AS "d0",
        COUNT("customer"."customer_id") AS "m0"
      FROM "customer" AS "customer"
      GROUP BY
        "customer"."customer_type"
    ) AS "f0"
    """
    tree = build(plan, model)
    if dialect not in SAFE_WRITERS:
        # These rewrite the tree for their engine first, so it is made safe before.
        tree = portable(annotate(_safe_division(tree), dialect, model), dialect)
    columns = tuple(o.name for o in plan.request.outputs if not o.hidden)
    tables = plan_tables(plan.facts, plan.dense)
    federated = {model.table(t).database for t in tables} != {plan.database}
    fetches = federate(tree, plan.database, model) if federated else ()
    if dialect in SAFE_WRITERS:
        # Divisions and casts made safe as the text is written (engine/safe_sql.py).
        sql = written(tree, dialect)
    else:
        # copy=False: the tree was built for this call alone, and copying it cost 0.3 ms.
        sql = _dialect(dialect).generate(tree, copy=False, identify=True)
    area = plan.request.subject_area.name
    types = result_types(plan, model)
    return GeneratedQuery(sql, dialect, plan.database, columns, tree, area, tables, types, fetches)


def _dialect(name: str) -> Dialect:
    # sqlglot builds a new Dialect from its name on every call; its settings never change.
    found = _DIALECTS.get(name)
    if found is None:
        found = _DIALECTS[name] = Dialect.get_or_raise(name)
    return found


_DIALECTS: dict[str, Dialect] = {}


def build(plan: QueryPlan, model: Model) -> exp.Select:
    """The sqlglot tree of `plan`, before divisions are made safe and it is written for a
    dialect."""
    # Nodes are assembled directly: sqlglot's builder methods copy the whole tree on every
    # call, which made generation the slowest stage by far.
    if plan.top is not None:
        return _ranked(plan, model)
    request = plan.request
    grain = [request.outputs[i].expr for i in plan.grain]
    measure_columns: dict = {}  # logical measure -> stitched column; a special's under its SQL
    aliases = []
    joins = []
    main = [(n, f) for n, f in enumerate(plan.facts) if f.keys is None]
    # Time series over per-period totals written once (engine/timeseries.py).
    bases, derived = share_periods(plan.facts)
    main_bases = {b.main: b for b in bases if b.main is not None}
    if plan.dense is not None:
        # Every period the calendar holds (under the request's time conditions) drives the
        # rows; each fact is joined to it, so a period without facts is a row of NULLs.
        axis = exp.Select(
            expressions=[_alias(_physical(g, model), f"d{k}") for k, g in enumerate(grain)],
            from_=exp.From(this=_table(plan.dense.table, model)),
            group=exp.Group(expressions=[_physical(g, model) for g in grain]),
        )
        if plan.dense.filters:
            axis.set("where", _where(_physical(c, model) for c in plan.dense.filters))
        source = exp.From(this=exp.Subquery(this=axis, alias=exp.TableAlias(this=_identifier("a"))))
        aliases.append("a")
    for i, (n, fact) in enumerate(main):
        alias = f"f{i}"
        for j, measure in enumerate(fact.measures):
            measure_columns[measure.ref] = _column(f"m{j}", alias)
        if n in main_bases and main_bases[n].split:
            # The base holds every period, grouped by the request's time conditions as its
            # last column too: the main query is its groups where they hold.
            subquery = exp.Subquery(
                this=exp.Select(
                    expressions=[exp.Star()],
                    from_=exp.From(this=exp.Table(this=_identifier(main_bases[n].name))),
                    where=exp.Where(this=_column(f"d{len(grain)}")),
                ),
                alias=exp.TableAlias(this=_identifier(alias)),
            )
        elif n in main_bases:
            subquery = exp.Table(
                this=_identifier(main_bases[n].name),
                alias=exp.TableAlias(this=_identifier(alias)),
            )
        else:
            subquery = exp.Subquery(
                this=_fact_select(fact, grain, fact.filters, model),
                alias=exp.TableAlias(this=_identifier(alias)),
            )
        if i == 0 and plan.dense is None:
            source = exp.From(this=subquery)
        elif grain:
            on = exp.and_(
                *(
                    exp.NullSafeEQ(
                        this=_coalesce([_column(f"d{k}", a) for a in aliases]),
                        expression=_column(f"d{k}", alias),
                    )
                    for k in range(len(grain))
                ),
                copy=False,
            )
            side = "LEFT" if plan.dense is not None else "FULL"
            joins.append(
                exp.Join(this=subquery, on=on, side=side, kind=None if side == "LEFT" else "OUTER")
            )
        else:
            # Without a grain each side is one total row.
            joins.append(exp.Join(this=subquery, kind="CROSS"))
        if plan.dense is None:
            aliases.append(alias)
    sides = [(n, f) for n, f in enumerate(plan.facts) if f.keys is not None]
    for i, (n, fact) in enumerate(sides):
        # A side query (a measure at another grain) is joined to the stitched rows on the
        # grain columns it keeps; LEFT, so it never adds or removes a row.
        alias = f"s{i}"
        measure_columns[fact.special] = {
            m.ref: _column(f"m{j}", alias) for j, m in enumerate(fact.measures)
        }
        if n in derived:
            select = derived_select(fact, derived[n], lambda f=fact: _period_map(f.period, model))
        else:
            select = _fact_select(fact, grain, fact.filters, model)
        subquery = exp.Subquery(this=select, alias=exp.TableAlias(this=_identifier(alias)))
        if fact.keys:
            on = exp.and_(
                *(
                    exp.NullSafeEQ(
                        this=_coalesce([_column(f"d{k}", a) for a in aliases]),
                        expression=_column(f"d{k}", alias),
                    )
                    for k in fact.keys
                ),
                copy=False,
            )
            joins.append(exp.Join(this=subquery, on=on, side="LEFT"))
        else:
            joins.append(exp.Join(this=subquery, kind="CROSS"))
    keys = [_coalesce([_column(f"d{k}", a) for a in aliases]) for k in range(len(grain))]
    by_output = dict(zip(plan.grain, keys, strict=True))
    values = [
        by_output[i] if i in by_output else _outer(o.expr, measure_columns, model)
        for i, o in enumerate(request.outputs)
    ]
    outer = exp.Select(
        expressions=[
            _alias(v, o.name) for v, o in zip(values, request.outputs, strict=True) if not o.hidden
        ],
        from_=source,
        joins=joins,
    )
    if bases:
        ctes = [
            exp.CTE(
                this=_base_select(b, grain, model),
                alias=exp.TableAlias(this=_identifier(b.name)),
            )
            for b in bases
        ]
        outer.set("with_", exp.With(expressions=ctes))
    if request.measure_filters:
        outer.set(
            "where", _where(_outer(c, measure_columns, model) for c in request.measure_filters)
        )
    if request.order_by:
        outer.set(
            "order",
            exp.Order(
                expressions=[
                    exp.Ordered(
                        this=copied(values[o.output]), desc=o.desc, nulls_first=o.nulls_first
                    )
                    for o in request.order_by
                ]
            ),
        )
    if request.request.limit is not None:
        outer.set("limit", exp.Limit(expression=exp.Literal.number(request.request.limit)))
    if request.request.offset is not None:
        outer.set("offset", exp.Offset(expression=exp.Literal.number(request.request.offset)))
    return outer


def _ranked(plan: QueryPlan, model: Model) -> exp.Select:
    """Rank first, then look names up (engine/topn.py): the fact grouped by the foreign key,
    sorted and cut to the request's rows, then joined to the dimension for those rows only.

    The ranking sorts by the request's order and then by the key, so that ties at the N-th
    place always keep the members with the lowest keys, on every engine; the lookup sorts
    the same way by the dimension's own columns (equal to the key, the join never fails).
    """
    top = plan.top
    request = plan.request
    fact = plan.facts[0]
    guard = _guard(fact, model)
    many = top.hop.join.many
    keys = [_column(c, many) for c in top.hop.join.many_columns]
    aggregates = [_aggregate(m, fact.source.base, model) for m in fact.measures]
    in_rank = {m.ref: aggregates[j] for j, m in enumerate(fact.measures)}
    rank_keys = {i: keys[p] for i, p in top.keys}
    rank = exp.Select(
        expressions=[
            *(_alias(k, f"k{p}") for p, k in enumerate(keys)),
            *(_alias(m, f"m{j}") for j, m in enumerate(aggregates)),
        ],
        from_=exp.From(this=_base_table(fact, model)),
        joins=[
            exp.Join(
                this=_table(s.table, model),
                on=_join_condition(s.join, model),
                side=None if _inner(s) else "LEFT",
            )
            for s in top.rank_joins
        ],
        group=exp.Group(expressions=[copied(k) for k in keys]),
    )
    if fact.filters:
        rank.set("where", _where(_condition(c, fact, model, guard) for c in fact.filters))
    if request.measure_filters:
        rank.set(
            "having",
            exp.Having(
                this=exp.and_(
                    *(_outer(c, in_rank, model) for c in request.measure_filters), copy=False
                )
            ),
        )
    rank.set(
        "order",
        _top_order(
            request, rank_keys, lambda o: _outer(request.outputs[o.output].expr, in_rank, model)
        ),
    )
    rank.set("limit", exp.Limit(expression=exp.Literal.number(request.request.limit)))
    if request.request.offset is not None:
        rank.set("offset", exp.Offset(expression=exp.Literal.number(request.request.offset)))
    dimension = top.hop.table
    on = exp.and_(
        *(
            exp.EQ(this=_column(c, dimension), expression=_column(f"k{p}", "f0"))
            for p, c in enumerate(top.hop.join.one_columns)
        ),
        copy=False,
    )
    joins = [exp.Join(this=_table(dimension, model), on=on, side="LEFT")]
    # LEFT: a lookup never removes a ranked row, and many-to-one joins never repeat one.
    joins += [
        exp.Join(this=_table(s.table, model), on=_join_condition(s.join, model), side="LEFT")
        for s in top.lookup_joins
    ]
    in_outer = {m.ref: _column(f"m{j}", "f0") for j, m in enumerate(fact.measures)}
    values = [
        _outer(o.expr, in_outer, model) if o.is_measure else _physical(o.expr, model)
        for o in request.outputs
    ]
    lookup_keys = {i: values[i] for i, _ in top.keys}
    outer = exp.Select(
        expressions=[
            _alias(v, o.name) for v, o in zip(values, request.outputs, strict=True) if not o.hidden
        ],
        from_=exp.From(this=exp.Subquery(this=rank, alias=exp.TableAlias(this=_identifier("f0")))),
        joins=joins,
    )
    outer.set("order", _top_order(request, lookup_keys, lambda o: values[o.output]))
    return outer


def _top_order(request, keys: dict, measure) -> exp.Order:
    """The request's order with the dimension's key after it, over `keys` (output index ->
    key expression) and `measure` (an ordering of a measure -> its expression)."""
    items = [
        exp.Ordered(
            this=copied(measure(o) if request.outputs[o.output].is_measure else keys[o.output]),
            desc=o.desc,
            nulls_first=o.nulls_first,
        )
        for o in request.order_by
    ]
    ordered = {o.output for o in request.order_by}
    items += [
        exp.Ordered(this=copied(k), desc=False, nulls_first=False)
        for i, k in keys.items()
        if i not in ordered
    ]
    return exp.Order(expressions=items)


def _identifier(name: str) -> exp.Identifier:
    """A quoted identifier. The SQL is written with every identifier quoted anyway
    (`identify=True`); made quoted here, neither `exp.to_identifier` (a regular expression
    per name) nor the generator (`Dialect.can_quote` per identifier) has to decide."""
    return exp.Identifier(this=name, quoted=True)


def _column(name: str, table: str | None = None) -> exp.Column:
    """`exp.column(name, table)`, its identifiers quoted as `_identifier` makes them."""
    return exp.Column(
        this=_identifier(name), table=_identifier(table) if table is not None else None
    )


def _alias(tree: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=tree, alias=_identifier(name))


def _where(conditions) -> exp.Where:
    return exp.Where(this=exp.and_(*conditions, copy=False))


def _coalesce(columns: list[exp.Expression]) -> exp.Expression:
    return (
        columns[0] if len(columns) == 1 else exp.Coalesce(this=columns[0], expressions=columns[1:])
    )


def _base_select(base: Base, grain: list[exp.Expression], model: Model) -> exp.Select:
    """A per-period base of time series (engine/timeseries.py); one split by the main query's
    time conditions groups by them too, as its last column, and no longer filtered, it may
    pre-aggregate its fact as an unfiltered main query would."""
    if not base.split:
        return _fact_select(base.fact, grain, base.fact.filters, model)
    keys = [*grain, exp.and_(*(copied(c) for c in base.split), copy=False)]
    fact = with_preaggregation(replace(base.fact, preaggregate=()), keys, model)
    return _fact_select(fact, keys, fact.filters, model)


def _fact_select(fact: FactQuery, grain: list[exp.Expression], filters, model: Model) -> exp.Select:
    if fact.anchor is not None:
        return _anchored_select(fact, grain, filters, model)
    guard = _guard(fact, model)
    positions = range(len(grain)) if fact.keys is None else fact.keys
    dimensions = [_physical(grain[k], model, guard) for k in positions]
    base = fact.source.base
    if fact.preaggregate:
        source = _preaggregated(fact, model)
        measures = [_reaggregate(m, j, base) for j, m in enumerate(fact.measures)]
    elif len(fact.fragments) > 1:
        source = _table(base, model)  # replaced per fragment below
        measures = [_aggregate(m, base, model) for m in fact.measures]
    elif fact.source.is_aggregate:
        source = _table(base, model)
        measures = [_merged(m, partial(m, fact.source, model)) for m in fact.measures]
    else:
        source = _base_table(fact, model)
        measures = [_aggregate(m, base, model) for m in fact.measures]
    joins = [
        # LEFT: a fact row whose dimension key is NULL or dangling still counts in totals.
        # Inner where the model declares that no key is NULL or dangling: the same rows,
        # and the database may reorder inner joins (TPC-H SF 1 revenue by region and year:
        # 835 -> 676 ms of CPU, the hand SQL's 716).
        exp.Join(
            this=_table(step.table, model),
            on=_join_condition(step.join, model),
            side=None if _inner(step) and not fact.keep_left else "LEFT",
        )
        for step in fact.joins
    ]
    if fact.period is not None:
        # Each fact row counts for every target period its own period maps to.
        k = list(positions).index(fact.period.position)
        joins.append(
            exp.Join(
                this=_period_map(fact.period, model),
                on=exp.EQ(
                    this=_column("source", "__periods"),
                    expression=_physical(grain[fact.period.position], model),
                ),
            )
        )
        dimensions[k] = _column("target", "__periods")
    select = exp.Select(
        expressions=[
            *(_alias(d, f"d{k}") for k, d in zip(positions, dimensions, strict=True)),
            *(_alias(m, f"m{j}") for j, m in enumerate(measures)),
        ],
        from_=exp.From(this=source),
        joins=joins,
    )
    if filters:
        select.set("where", _where(_condition(c, fact, model, guard) for c in filters))
    if len(fact.fragments) > 1 or any(m.last_over for m in fact.measures):
        return _row_level(select, fact, list(positions), dimensions, model)
    if dimensions and (measures or not _has_key(base, dimensions, model)):
        select.set("group", exp.Group(expressions=[copied(d) for d in dimensions]))
    return select


def _row_level(
    select: exp.Select, fact: FactQuery, positions: list[int], dimensions: list, model: Model
) -> exp.Select:
    """Aggregate the fact's rows in a second step: for semi-additive measures, which need
    each group's last period beside every row, and for fragments, whose rows are combined
    by UNION ALL first (so a count distinct or an average is computed once, over all rows).

    Semi-additive: MAX(period) OVER (PARTITION BY the grain), which every engine has; such a
    measure aggregates only the rows at that period, the other measures every row.
    """
    semi = next((m for m in fact.measures if m.last_over), None)
    period = last_period(semi, model) if semi is not None else None
    items = [
        *(_alias(d, f"d{k}") for k, d in zip(positions, dimensions, strict=True)),
        *(_alias(copied(m.expr), f"v{j}") for j, m in enumerate(fact.measures)),
    ]
    if period is not None:
        items.append(_alias(copied(period), "__t"))
    select.set("expressions", items)
    if len(fact.fragments) > 1:
        parts = []
        for fragment in fact.fragments:
            part = copied(select)
            part.set("from_", exp.From(this=_table(fact.source.base, model, fragment.reads)))
            parts.append(part)
        rows: exp.Expression = parts[0]
        for part in parts[1:]:
            rows = exp.Union(this=rows, expression=part, distinct=False)
    else:
        rows = select
    if period is not None:
        keys = [_column(f"d{k}", "__all") for k in positions]
        window = exp.Window(this=exp.Max(this=_column("__t", "__all")), partition_by=keys or None)
        rows = exp.Select(
            expressions=[exp.Star(), _alias(window, "__last")],
            from_=exp.From(
                this=exp.Subquery(this=rows, alias=exp.TableAlias(this=_identifier("__all")))
            ),
        )
    rows = exp.Subquery(this=rows, alias=exp.TableAlias(this=_identifier("__rows")))
    at_last = exp.EQ(this=_column("__t", "__rows"), expression=_column("__last", "__rows"))
    measures = []
    for j, measure in enumerate(fact.measures):
        value = _column(f"v{j}", "__rows")
        if measure.last_over:
            value = exp.Case(ifs=[exp.If(this=copied(at_last), true=value)])
        measures.append(_AGGREGATES[measure.aggregation](value))
    keys = [_column(f"d{k}", "__rows") for k in positions]
    outer = exp.Select(
        expressions=[
            *(_alias(c, f"d{k}") for k, c in zip(positions, keys, strict=True)),
            *(_alias(m, f"m{j}") for j, m in enumerate(measures)),
        ],
        from_=exp.From(this=rows),
    )
    if keys:
        outer.set("group", exp.Group(expressions=[copied(k) for k in keys]))
    return outer


def _period_map(period: Period, model: Model) -> exp.Subquery:
    """(target, source) pairs of the query level's members, from the calendar table alone:
    ranks by chronological key (DENSE_RANK, which every engine has), never date arithmetic,
    so any calendar (fiscal years, 4-4-5 months) works.

    AGO n:          same position within the parent level, parent rank - n;
    TODATE:         same parent member, chronologically at or before the target;
    PERIODROLLING:  query-level rank between the target's + start and + end.
    """

    def ranked(alias: str) -> exp.Subquery:
        members = exp.Select(
            expressions=[
                _alias(copied(period.key), "q"),
                _alias(copied(period.chrono), "qc"),
                _alias(copied(period.parent), "pc"),
            ],
            from_=exp.From(this=_table(period.table, model)),
            distinct=exp.Distinct(),
        )
        over = {
            "qr": exp.Window(this=exp.DenseRank(), order=_order("qc")),
            "pr": exp.Window(this=exp.DenseRank(), order=_order("pc")),
            "pos": exp.Window(
                this=exp.DenseRank(),
                partition_by=[_column("pc")],
                order=_order("qc"),
            ),
        }
        select = exp.Select(
            expressions=[
                _column("q"),
                _column("qc"),
                _column("pc"),
                *(_alias(w, name) for name, w in over.items()),
            ],
            from_=exp.From(
                this=exp.Subquery(this=members, alias=exp.TableAlias(this=_identifier("m")))
            ),
        )
        return exp.Subquery(this=select, alias=exp.TableAlias(this=_identifier(alias)))

    def col(name: str, alias: str) -> exp.Column:
        return _column(name, alias)

    if period.kind == AGO:
        on = exp.and_(
            exp.EQ(
                this=col("pr", "s"),
                expression=exp.Sub(
                    this=col("pr", "t"), expression=exp.Literal.number(period.start)
                ),
            ),
            exp.EQ(this=col("pos", "s"), expression=col("pos", "t")),
        )
    elif period.kind == TODATE:
        on = exp.and_(
            exp.EQ(this=col("pc", "s"), expression=col("pc", "t")),
            exp.LTE(this=col("qc", "s"), expression=col("qc", "t")),
        )
    else:
        on = exp.Between(
            this=col("qr", "s"),
            low=exp.Add(this=col("qr", "t"), expression=exp.Literal.number(period.start)),
            high=exp.Add(this=col("qr", "t"), expression=exp.Literal.number(period.end)),
        )
    pairs = exp.Select(
        expressions=[_alias(col("q", "t"), "target"), _alias(col("q", "s"), "source")],
        from_=exp.From(this=ranked("t")),
        joins=[exp.Join(this=ranked("s"), on=on)],
    )
    return exp.Subquery(this=pairs, alias=exp.TableAlias(this=_identifier("__periods")))


def _order(name: str) -> exp.Order:
    return exp.Order(expressions=[exp.Ordered(this=_column(name), nulls_first=False)])


def _merged(measure: LogicalColumn, partial: exp.Expression) -> exp.Expression:
    """A measure merged from an aggregate source's partial aggregates: sums and counts are
    summed, minima and maxima taken again, an average is the sum of its sums over the sum of
    its counts. The planner never routes anything else here."""
    if measure.aggregation is Aggregation.count:
        return exp.Coalesce(this=exp.Sum(this=copied(partial)), expressions=[exp.Literal.number(0)])
    if measure.aggregation is Aggregation.sum:
        return exp.Sum(this=copied(partial))
    if measure.aggregation is Aggregation.avg:
        # Never an average of averages: the sums and the counts are summed separately.
        total = exp.Cast(this=exp.Sum(this=copied(partial.this)), to=exp.DataType.build("double"))
        return exp.Div(this=total, expression=exp.Sum(this=copied(partial.expression)))
    return _AGGREGATES[measure.aggregation](copied(partial))


def _anchored_select(
    fact: FactQuery, grain: list[exp.Expression], filters, model: Model
) -> exp.Select:
    """Distinct attribute rows of the anchor's tables that some fact row relates to."""
    anchor = fact.anchor
    paths = model.join_paths(fact.source.base)
    below = {t for t, path in paths.items() if path and path[0] == anchor}
    outer_steps = [s for s in fact.joins if s.table in below and s != anchor]
    inner_steps = [s for s in fact.joins if s.table not in below]
    guard = _guard(fact, model)
    outer_filters, inner_filters = [], []
    for condition in filters:
        tables = {c.table for c in _physical(condition, model).find_all(exp.Column)}
        side = outer_filters if tables <= below else inner_filters
        side.append(_condition(condition, fact, model, guard))
    related = exp.Select(
        expressions=[exp.Literal.number(1)],
        from_=exp.From(this=_table(fact.source.base, model)),
        joins=[
            exp.Join(this=_table(s.table, model), on=_join_condition(s.join, model), side="LEFT")
            for s in inner_steps
        ],
        where=_where([_join_condition(anchor.join, model), *inner_filters]),
    )
    dimensions = [_physical(g, model, guard) for g in grain]
    select = exp.Select(
        expressions=[_alias(d, f"d{k}") for k, d in enumerate(dimensions)],
        from_=exp.From(this=_table(anchor.table, model)),
        joins=[
            exp.Join(this=_table(s.table, model), on=_join_condition(s.join, model), side="LEFT")
            for s in outer_steps
        ],
        where=_where([*outer_filters, exp.Exists(this=related)]),
    )
    if dimensions and not _has_key(anchor.table, dimensions, model):
        select.set("group", exp.Group(expressions=[copied(d) for d in dimensions]))
    return select


def _has_key(table: str, dimensions: list[exp.Expression], model: Model) -> bool:
    """Whether `table`'s primary key is among the selected columns, making rows distinct
    already: the other tables are joined many-to-one, so they never repeat a row."""
    key = model.table(table).primary_key
    selected = {d.name for d in dimensions if isinstance(d, exp.Column) and d.table == table}
    return bool(key) and set(key) <= selected


def _inner(step: JoinStep) -> bool:
    """Whether the step may be an inner join: to the one side of a join whose keys the
    model declares always present (`assume_integrity`)."""
    return step.join.assume_integrity and step.table == step.join.one


def _join_condition(join, model: Model) -> exp.Expression:
    pairs = []
    for mc, oc in zip(join.many_columns, join.one_columns, strict=True):
        many, one = _column(mc, join.many), _column(oc, join.one)
        if join.federated:
            many, one = _federated_key(join, many, one, model)
        pairs.append(exp.EQ(this=many, expression=one))
    # Most joins have one key column: and_ of one condition is that condition, slower.
    return pairs[0] if len(pairs) == 1 else exp.and_(*pairs, copy=False)


def _federated_key(join, many: exp.Column, one: exp.Column, model: Model) -> tuple:
    """A key read from another database is compared as the running database's type: the
    campaign ledger keeps member keys as text, the warehouse's customer ids are integers,
    and DuckDB refuses to compare the two. (TRY_CAST on DuckDB: a key that is not a number
    matches no customer, as a dangling key would.)"""
    types = {side.table: dict(model.table(side.table).columns)[side.name] for side in (many, one)}
    if data_type(types[many.table]) == data_type(types[one.table]):
        return many, one
    if model.table(many.table).database == join.declared_in:
        return exp.Cast(this=many, to=data_type(types[one.table]).copy()), one
    return many, exp.Cast(this=one, to=data_type(types[many.table]).copy())


def _base_table(fact: FactQuery, model: Model) -> exp.Expression:
    """The fact's base table; a single fragment reads its own physical table under the base's
    name, so every expression and join of the model still applies."""
    reads = fact.fragments[0].reads if fact.fragments else fact.source.reads
    return _table(fact.source.base, model, reads)


def _table(name: str, model: Model, reads: str | None = None) -> exp.Expression:
    table = model.table(reads or name)
    return exp.Table(
        this=_identifier(table.table),
        db=_identifier(table.schema) if table.schema else None,
        alias=exp.TableAlias(this=_identifier(name)),
    )


def _guard(fact: FactQuery, model: Model) -> exp.Expression | None:
    """The session's row filters on this query, as one physical condition, if any."""
    if not fact.guard:
        return None
    return exp.and_(*(_physical(g, model) for g in fact.guard), copy=False)


def _condition(
    condition: exp.Expression, fact: FactQuery, model: Model, guard: exp.Expression | None
) -> exp.Expression:
    # The row filters themselves read the real columns; every other condition is the user's.
    is_row_filter = any(condition is g for g in fact.guard)
    return _physical(condition, model, None if is_row_filter else guard)


def _physical(
    tree: exp.Expression, model: Model, guard: exp.Expression | None = None
) -> exp.Expression:
    """Replace logical attribute references by their physical expressions.

    With a guard (the session's row filters), each becomes CASE WHEN guard THEN column END:
    DuckDB may evaluate a user's condition on a row before the row filter removes it, and an
    error there (an overflow) would tell the user something about a hidden row. Guarded, a
    user's expression only ever sees values of rows the user may see; the others are NULL,
    and the row filter removes them anyway.
    """

    if guard is not None and _cannot_fail(tree, model):
        guard = None

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            physical = copied(_model_expr(model.logical_column(node.table, node.name), model))
            if guard is None:
                return physical
            return exp.Case(ifs=[exp.If(this=copied(guard), true=physical)])
        return node

    if isinstance(tree, exp.Column):  # the common case, without copying the tree first
        return swap(tree)
    return transformed(tree, swap)


def _model_expr(column: LogicalColumn, model: Model, wrap: bool = True) -> exp.Expression:
    """`column`'s physical expression (parenthesized unless `wrap` is False), its columns'
    identifiers quoted as `_identifier` makes them, prepared once per model. Shared: copy it.

    A column of the plan that is not the model's own (the planner may rewrite one) is
    prepared on every call, never kept."""

    def prepare() -> exp.Expression:
        tree = copied(column.expr)
        for node in tree.find_all(exp.Column):
            # Only a column's parts: those are what the generator quotes under identify=True
            # (an identifier directly under a function, it leaves alone).
            for part in node.parts:
                part.set("quoted", True)
        return _wrapped(tree) if wrap else tree

    if model.logical_column(column.table, column.name) is not column:
        return prepare()
    return model.derived(("physical expression", column.table, column.name, wrap), prepare)


def _cannot_fail(tree: exp.Expression, model: Model) -> bool:
    """A plain column, or a plain column compared with constants: nothing that could raise
    an error depending on a row's values, so it needs no row-filter guard (the common case,
    and the cheap one to compile)."""
    if physical_column(tree, model) is not None:
        return True
    return compared_column(tree.this if isinstance(tree, exp.Not) else tree, model) is not None


def _aggregate(measure: LogicalColumn, base: str, model: Model) -> exp.Expression:
    expr = measure.expr
    if (
        measure.aggregation is Aggregation.count_distinct
        and isinstance(expr, exp.Column)
        and expr.table == base
        and model.table(base).primary_key == (expr.name,)
    ):
        # Joins never repeat a base row, so its key is already distinct: COUNT is 3x cheaper.
        return exp.Count(this=copied(expr))
    return _AGGREGATES[measure.aggregation](copied(_model_expr(measure, model, wrap=False)))


# What the inner query computes for a measure, and how the outer query combines it.
_PARTIALS = {
    Aggregation.sum: (("s", exp.Sum),),
    Aggregation.count: (("c", exp.Count),),
    Aggregation.min: (("n", exp.Min),),
    Aggregation.max: (("x", exp.Max),),
    Aggregation.avg: (("s", exp.Sum), ("c", exp.Count)),
    Aggregation.count_distinct: (),  # its columns are grouping keys of the inner query
}


def _preaggregated(fact: FactQuery, model: Model) -> exp.Subquery:
    """The fact aggregated by `fact.preaggregate`, aliased as the fact table itself, so that
    every physical expression of the outer query still reads `base.column`."""
    base = fact.source.base
    keys = [_column(k, base) for k in fact.preaggregate]
    partials = [
        _alias(function(this=copied(m.expr)), f"__{tag}{j}")
        for j, m in enumerate(fact.measures)
        for tag, function in _PARTIALS[m.aggregation]
    ]
    inner = exp.Select(
        expressions=[*(_alias(k, k.name) for k in keys), *partials],
        from_=exp.From(this=_base_table(fact, model)),
        group=exp.Group(expressions=[copied(k) for k in keys]),
    )
    return exp.Subquery(this=inner, alias=exp.TableAlias(this=_identifier(base)))


def _reaggregate(measure: LogicalColumn, j: int, base: str) -> exp.Expression:
    def part(tag: str) -> exp.Column:
        return _column(f"__{tag}{j}", base)

    aggregation = measure.aggregation
    if aggregation is Aggregation.sum:
        return exp.Sum(this=part("s"))
    if aggregation is Aggregation.count:
        # A count over no rows is 0, where a sum over no rows is NULL.
        return exp.Coalesce(this=exp.Sum(this=part("c")), expressions=[exp.Literal.number(0)])
    if aggregation is Aggregation.min:
        return exp.Min(this=part("n"))
    if aggregation is Aggregation.max:
        return exp.Max(this=part("x"))
    if aggregation is Aggregation.avg:
        total = exp.Cast(this=exp.Sum(this=part("s")), to=exp.DataType.build("double"))
        return exp.Div(this=total, expression=exp.Sum(this=part("c")))
    return _AGGREGATES[aggregation](copied(measure.expr))


def _outer(tree: exp.Expression, measures: dict, model: Model) -> exp.Expression:
    """Replace measure references by stitched columns, expanding derived measures."""

    def swap(node: exp.Expression) -> exp.Expression:
        if is_special(node):
            return _wrapped(_outer(measure_of(node), measures[node.sql()], model))
        if not isinstance(node, exp.Column):
            return node
        column = model.logical_column(node.table, node.name)
        if column.kind is ColumnKind.derived:
            return _wrapped(_outer(qualified_formula(column), measures, model))
        return copied(measures[column.ref])

    if isinstance(tree, exp.Column):
        return swap(tree)
    return transformed(tree, swap)


def _wrapped(tree: exp.Expression) -> exp.Expression:
    # Keeps `a - b` together when it is substituted into `x * (a - b)`.
    atomic = (exp.Column, exp.Literal, exp.Func, exp.Paren, exp.Case)
    return tree if isinstance(tree, atomic) else exp.Paren(this=tree)


def _safe_division(tree: exp.Select) -> exp.Select:
    """Every `x / y` and `x % y` gets `NULLIF(y, 0)`, for the dialects whose tree is rewritten
    before it is written (DuckDB and SQLite do it as they write: engine/safe_sql.py). Their
    backends have no TRY_CAST and must keep errors generic."""
    for node in list(tree.find_all(exp.Div, exp.Mod)):
        safe_divisor(node)
    return tree
