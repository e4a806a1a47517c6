"""Plan a resolved request: one aggregate query per fact, each over a source that reaches
every table the request needs without fan-out; the generator stitches them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlglot import exp

from engine.errors import LogicalSQLError, quoted
from engine.resolve import ResolvedRequest
from semantic.model import ColumnKind, JoinStep, LogicalColumn, LogicalSource, Model
from semantic.spec import Aggregation, TableKind


@dataclass(frozen=True)
class FactQuery:
    """Aggregate `measures` over `source` at the request's grain (no measures: distinct rows)."""

    table: str  # the logical fact (or, dimension-only, the dimension)
    source: LogicalSource
    joins: tuple[JoinStep, ...]
    measures: tuple[LogicalColumn, ...]
    # Base-table columns to aggregate by before joining the dimensions; () when not worth it.
    preaggregate: tuple[str, ...] = ()
    # Without measures: read this first-hop table's rows and keep those that some fact row
    # relates to (EXISTS), instead of grouping the fact's rows. None: group the fact.
    anchor: JoinStep | None = None
    # Conditions on attributes, applied before aggregation: the request's, and the session's
    # row filters on every table this query can reach.
    filters: tuple[exp.Expression, ...] = ()
    # The row filters among them: the user's own expressions see only rows they keep.
    guard: tuple[exp.Expression, ...] = ()


@dataclass(frozen=True)
class QueryPlan:
    request: ResolvedRequest
    facts: tuple[FactQuery, ...]
    grain: tuple[int, ...]  # indexes of the attribute outputs
    database: str


def plan(request: ResolvedRequest, model: Model) -> QueryPlan:
    """Choose the fact queries and join paths for `request`.

    >>> from engine.parse import parse
    >>> from engine.resolve import resolve
    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> m = load_model("models/demo")
    >>> p = plan(resolve(parse('SELECT "Customer"."Distribution Area", "Facts"."Billed Amount", '
    ...     '"Facts"."# Customers" FROM "Campaigns"'), m, SYSTEM), m)
    >>> for f in p.facts:
    ...     print(f.table, f.source.base, [s.table for s in f.joins])
    Billing invoice ['customer', 'municipality', 'area']
    Customer Facts customer ['municipality', 'area']
    """
    grain = tuple(i for i, o in enumerate(request.outputs) if not o.is_measure)
    attributes = [request.outputs[i].expr for i in grain] + list(request.filters)
    needed = _physical_tables(attributes, model)
    measures = _base_measures(
        [o.expr for o in request.outputs if o.is_measure] + list(request.measure_filters), model
    )
    if measures:
        by_fact: dict[str, list[LogicalColumn]] = {}
        for measure in measures:
            by_fact.setdefault(measure.table, []).append(measure)
        facts = tuple(
            _with_preaggregation(
                _with_filters(_fact_query(fact, group, needed, request, model), request, model),
                [request.outputs[i].expr for i in grain],
                model,
            )
            for fact, group in by_fact.items()
        )
    else:
        query = _with_filters(_dimension_query(attributes, needed, request, model), request, model)
        if model.logical_table(query.table).kind is TableKind.fact:
            selected = [o.expr for o in request.outputs]
            query = replace(query, anchor=_anchor(query, selected, query.filters, model))
        facts = (query,)
    databases = {model.table(f.source.base).database for f in facts}
    if len(databases) > 1:
        raise LogicalSQLError(
            "the request combines facts from several databases: " + ", ".join(sorted(databases)),
            "query each database's facts separately",
        )
    return QueryPlan(request, facts, grain, databases.pop())


def _physical_tables(trees: Iterable[exp.Expression], model: Model) -> dict[str, tuple[str, str]]:
    """Each physical table the attributes use, with one logical column that needs it."""
    tables: dict[str, tuple[str, str]] = {}
    for tree in trees:
        for ref in tree.find_all(exp.Column):
            column = model.logical_column(ref.table, ref.name)
            for physical in column.expr.find_all(exp.Column):
                tables.setdefault(physical.table, column.ref)
    return tables


def _base_measures(trees: Iterable[exp.Expression], model: Model) -> list[LogicalColumn]:
    found: list[LogicalColumn] = []
    stack = [ref for tree in trees for ref in tree.find_all(exp.Column)]
    stack.reverse()
    while stack:
        ref = stack.pop()
        column = model.logical_column(ref.table, ref.name)
        if column.kind is ColumnKind.derived:
            refs = [
                exp.column(r.name, r.table or column.table)
                for r in column.formula.find_all(exp.Column)
            ]
            stack.extend(reversed(refs))
        elif column not in found:
            found.append(column)
    return found


def _reach(
    source: LogicalSource, tables: Iterable[str], model: Model
) -> tuple[tuple[JoinStep, ...] | None, str | None]:
    """The joins from the source's base to every table, or the first table it cannot reach."""
    paths = model.join_paths(source.base)
    steps: dict[str, JoinStep] = {}
    for table in tables:
        if table not in paths:
            return None, table
        for step in paths[table]:
            steps.setdefault(step.table, step)
    return tuple(steps.values()), None


def _measure_tables(measures: list[LogicalColumn]) -> list[str]:
    return [t.table for m in measures for t in m.expr.find_all(exp.Column)]


def _fact_query(
    fact: str, measures: list[LogicalColumn], needed: dict, request: ResolvedRequest, model: Model
) -> FactQuery:
    missing = None
    for source in model.logical_table(fact).sources:
        joins, missing = _reach(source, [*_measure_tables(measures), *needed], model)
        if joins is not None:
            return FactQuery(fact, source, joins, tuple(measures))
    names = request.names
    measure = names.get(measures[0].ref, quoted(*measures[0].ref))
    attribute = names.get(needed[missing], quoted(*needed[missing])) if missing in needed else None
    raise LogicalSQLError(
        f"{measure} cannot be combined with {attribute or missing}: "
        f"no join path from the fact '{fact}' to table '{missing}'",
        "remove one of them, or model a join that reaches it without multiplying rows",
    )


def _dimension_query(
    attributes: list[exp.Expression], needed: dict, request: ResolvedRequest, model: Model
) -> FactQuery:
    logical = {ref.table for tree in attributes for ref in tree.find_all(exp.Column)}
    # One dimension alone is read from its own source, as BI EE does; several dimensions
    # are related through a fact, so that only combinations that exist come back.
    candidates = []
    if len(logical) == 1:
        table = model.logical_table(next(iter(logical)))
        candidates += [(table.name, s) for s in table.sources]
    area = request.subject_area
    facts = area.implicit_facts or tuple(
        dict.fromkeys(
            c.table for c in area.columns() if model.logical_table(c.table).kind is TableKind.fact
        )
    )
    candidates += [(f, s) for f in facts for s in model.logical_table(f).sources]
    for table, source in candidates:
        joins, _ = _reach(source, needed, model)
        if joins is not None:
            return FactQuery(table, source, joins, ())
    shown = ", ".join(sorted(request.names.get(ref, quoted(*ref)) for ref in set(needed.values())))
    raise LogicalSQLError(
        f"these columns are not related through any fact of {quoted(area.name)}: {shown}",
        "add a measure that relates them, or declare an implicit fact for the subject area",
    )


_DECOMPOSABLE = {
    Aggregation.sum,
    Aggregation.count,
    Aggregation.min,
    Aggregation.max,
    Aggregation.avg,
    Aggregation.count_distinct,
}


def _with_filters(query: FactQuery, request: ResolvedRequest, model: Model) -> FactQuery:
    """Attach the request's filters and every row filter whose table the query can reach.

    A row filter on customers applies to billing by year too, joining the customers in
    if the request did not: a restricted user's totals are totals over their rows.
    """
    guard = []
    steps = {step.table: step for step in query.joins}
    for _table, condition in request.row_filters:
        joins, missing = _reach(query.source, _physical_tables([condition], model), model)
        if missing is not None:
            continue  # this query never reaches the filtered table (a service catalogue)
        guard.append(condition)
        for step in joins:
            steps.setdefault(step.table, step)
    return replace(
        query,
        joins=tuple(steps.values()),
        filters=(*request.filters, *guard),
        guard=tuple(guard),
    )


def _with_preaggregation(fact: FactQuery, grain: list[exp.Expression], model: Model) -> FactQuery:
    """Aggregate the fact by the base columns the rest of the query needs, then join.

    DuckDB does not push an aggregate below a chain of joins: summing 22 M invoices by
    customer first and joining the million sums to their areas is 2.5x faster than joining
    22 M rows. Worth it when the fact has joins and the keys are coarser than its rows.
    """
    base = fact.source.base
    if not fact.joins or any(
        m.aggregation not in _DECOMPOSABLE
        or any(c.table != base for c in m.expr.find_all(exp.Column))
        for m in fact.measures
    ):
        return fact
    keys: dict[str, None] = {}
    foreign_keys = 0
    for step in fact.joins:
        join = step.join
        if join.many == base and step.table == join.one:
            keys.update(dict.fromkeys(join.many_columns))
        elif join.one == base and step.table == join.many:
            keys.update(dict.fromkeys(join.one_columns))
        else:
            continue
        foreign_keys += 1
    if foreign_keys > 1:
        # Combinations of two foreign keys (customer x service) come close to one per row:
        # the extra aggregation then costs more than it saves (measured 1.04x -> 1.38x).
        return fact
    physical = [
        model.logical_column(ref.table, ref.name).expr
        for tree in [*grain, *fact.filters]
        for ref in tree.find_all(exp.Column)
    ]
    distinct = [m.expr for m in fact.measures if m.aggregation is Aggregation.count_distinct]
    for tree in [*physical, *distinct]:
        keys.update(dict.fromkeys(c.name for c in tree.find_all(exp.Column) if c.table == base))
    primary_key = model.table(base).primary_key
    if primary_key and set(primary_key) <= set(keys):
        return fact  # one row per base row: nothing to gain
    return replace(fact, preaggregate=tuple(keys))


def _anchor(fact: FactQuery, grain: list[exp.Expression], filters, model: Model) -> JoinStep | None:
    """The first-hop table below which every selected attribute lies, if reading it and
    testing EXISTS on the fact returns exactly what grouping the fact's rows returns.

    The seed question selects customer columns and filters on the e-service: reading the
    customers and testing EXISTS on their subscriptions does the work once per customer,
    where grouping the subscriptions does it once per subscription and dedups text keys.
    The two differ only for a fact row whose customer is missing (a NULL or dangling key),
    where every customer column is NULL; a filter that rejects NULL customer columns (Customer
    Type = 'Household') removes that row from both, so only then is the anchor used.
    """
    tables = set(_physical_tables(grain, model))
    paths = model.join_paths(fact.source.base)
    hops = {paths[t][0] for t in tables if paths.get(t)}
    if len(hops) != 1 or fact.source.base in tables:
        return None
    (hop,) = hops
    below = {t for t, path in paths.items() if path and path[0] == hop}
    if hop.join.many != fact.source.base or not any(
        _rejects_null(f, below, model) for f in filters
    ):
        return None
    return hop


_COMPARISONS = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between,
    exp.Is,
)  # fmt: skip


def physical_column(node: exp.Expression, model: Model) -> exp.Column | None:
    """The physical column a logical reference stands for, if it is a bare column."""
    if isinstance(node, exp.Column):
        physical = model.logical_column(node.table, node.name).expr
        if isinstance(physical, exp.Column):
            return physical
    return None


def compared_column(condition: exp.Expression, model: Model) -> exp.Column | None:
    """The physical column of a condition that only compares a plain attribute with
    constants (Area = 'Zenica', Type IN (...), Email IS NULL), else None."""
    if not isinstance(condition, _COMPARISONS):
        return None
    column = physical_column(condition.this, model)
    others = [n for n in condition.iter_expressions() if n is not condition.this]
    if column is None or any(o.find(exp.Column) for o in others):
        return None
    return column


def _rejects_null(condition: exp.Expression, tables: set[str], model: Model) -> bool:
    """Whether `condition` is false or NULL when every column of `tables` is NULL: a plain
    column of those tables compared with constants (IS NULL excepted)."""
    column = compared_column(condition, model)
    return column is not None and not isinstance(condition, exp.Is) and column.table in tables
