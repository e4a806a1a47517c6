"""Plan a resolved request: one aggregate query per fact, each over a source that reaches
every table the request needs without fan-out; the generator stitches them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sqlglot import exp

from engine.errors import LogicalSQLError, quoted
from engine.fragments import may_overlap
from engine.functions import (
    AGO,
    LEVEL,
    ROLLING,
    TIME_FUNCTIONS,
    TODATE,
    by_fact,
    is_special,
    level_node,
    measure_of,
    read,
    time_function,
)
from engine.resolve import Output, ResolvedRequest
from semantic.model import ColumnKind, JoinStep, LogicalColumn, LogicalSource, Model
from semantic.spec import Aggregation, TableKind
from semantic.trees import copied, transformed

if TYPE_CHECKING:
    from engine.topn import TopN


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
    # A side query (a level-based measure, a time series) groups by these grain positions
    # only and is joined to the stitched rows on them; None: the request's whole grain.
    keys: tuple[int, ...] | None = None
    special: str | None = None  # the node it computes (engine.functions), as SQL
    period: Period | None = None  # time series: how periods map onto the query's periods
    # A fragmented source: the fragments this query reads (UNION ALL when several).
    fragments: tuple[LogicalSource, ...] = ()
    # Keep LEFT joins even where the model declares integrity: the grain holds the key of a
    # table two joins away, and DuckDB aggregates below that join only when all are LEFT.
    keep_left: bool = False


@dataclass(frozen=True)
class Period:
    """Pairs (target, source) of members of the query's time level, from the calendar table:
    a target period's value aggregates the fact rows of its source periods."""

    kind: str  # engine.functions AGO, TODATE or ROLLING
    position: int  # grain position of the query's time level key
    table: str  # the physical calendar table
    key: exp.Expression = field(compare=False)  # the query level's key, physical
    chrono: exp.Expression = field(compare=False)  # its chronological key
    parent: exp.Expression = field(compare=False)  # the function level's chronological key
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Candidate:
    """A logical table source considered for a fact query, and why it was not chosen."""

    fact: str  # the logical fact, with the level or time-series function it computes
    source: str
    chosen: bool
    reason: str
    aggregate: bool = False  # an aggregate source (a routed query, when chosen)


@dataclass(frozen=True)
class QueryPlan:
    request: ResolvedRequest
    facts: tuple[FactQuery, ...]
    grain: tuple[int, ...]  # indexes of the attribute outputs
    database: str
    candidates: tuple[Candidate, ...] = ()
    # Dense time axis: every period of the calendar the request's time conditions keep,
    # as (physical calendar table, its conditions), with or without facts.
    dense: DenseAxis | None = None
    # Top-N by a dimension's key: rank the fact by its foreign key, then look up N members
    # (engine/topn.py); None: the plain plan.
    top: TopN | None = None


@dataclass(frozen=True)
class DenseAxis:
    table: str  # the physical calendar table
    filters: tuple[exp.Expression, ...] = field(compare=False)  # logical, time columns only


def plan(
    request: ResolvedRequest, model: Model, navigate: bool = True, dense: bool = False
) -> QueryPlan:
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
    Billing agg_invoice_month ['area']
    Customer Facts customer ['municipality', 'area']
    """
    request = _per_fact(_expanded(request, model), model)
    grain = tuple(i for i, o in enumerate(request.outputs) if not o.is_measure)
    grain_exprs = [request.outputs[i].expr for i in grain]
    attributes = grain_exprs + list(request.filters)
    needed = _physical_tables(attributes, model)
    trees = [o.expr for o in request.outputs if o.is_measure] + list(request.measure_filters)
    specials = _specials(trees)
    full: dict[str, tuple] = {}
    if request.row_filters and specials:
        request, full = _rollup(request, specials, model)
        trees = [o.expr for o in request.outputs if o.is_measure] + list(request.measure_filters)
        specials = _specials(trees)
    measures = _base_measures(trees, model)
    candidates: list[Candidate] = []
    if measures or specials:
        by_fact: dict[str, list[LogicalColumn]] = {}
        for measure in measures or _base_measures([measure_of(specials[0])], model):
            by_fact.setdefault(measure.table, []).append(measure)
        main = [
            _with_join_kind(
                with_preaggregation(
                    _with_filters(
                        _fact_query(
                            fact, group, needed, attributes, request, model, navigate, candidates
                        ),
                        request,
                        model,
                    ),
                    grain_exprs,
                    model,
                ),
                grain_exprs,
                model,
            )
            for fact, group in by_fact.items()
        ]
        sides = [
            _side_query(node, grain, request, model, navigate, candidates, full.get(node.sql()))
            for node in specials
        ]
        facts = tuple(main + sides)
    else:
        query = _with_filters(_dimension_query(attributes, needed, request, model), request, model)
        if model.logical_table(query.table).kind is TableKind.fact:
            selected = [o.expr for o in request.outputs]
            query = replace(query, anchor=_anchor(query, selected, query.filters, model))
        facts = (query,)
    axis = _dense_axis(request, grain, model) if dense else None
    database = _database(facts, axis, model)
    return QueryPlan(request, facts, grain, database, tuple(candidates), axis)


def plan_tables(facts: Iterable[FactQuery], axis: DenseAxis | None = None) -> tuple[str, ...]:
    """The physical tables (model handles) the fact queries read, in order of first use."""
    found = dict.fromkeys(
        t
        for f in facts
        for t in (
            f.source.base,
            *(s.table for s in f.joins),
            *((f.anchor.table,) if f.anchor else ()),
            *((f.period.table,) if f.period else ()),
            *(x.reads for x in (f.source, *f.fragments) if x.reads),
        )
    )
    if axis is not None:
        found[axis.table] = None
    return tuple(found)


def _database(facts: tuple[FactQuery, ...], axis: DenseAxis | None, model: Model) -> str:
    """The one database that runs the request: the tables' own, or, when they span several,
    the DuckDB database that every other one is federated into by a declared join."""
    databases = {model.table(t).database for t in plan_tables(facts, axis)}
    if len(databases) == 1:
        return databases.pop()
    into = {(j.declared_in, j.to_database) for j in model.joins if j.federated}
    for host in sorted(databases):
        if all((d, host) in into for d in databases - {host}):
            dialect = model.database(host).dialect
            if dialect != "duckdb":
                raise LogicalSQLError(
                    f"the request reads tables of {', '.join(sorted(databases - {host}))} into "
                    f"'{host}', and federated requests run on DuckDB only ('{host}' is "
                    f"{dialect})",
                    "leave out the columns of the other database",
                )
            return host
    raise LogicalSQLError(
        "the request combines tables of several databases: " + ", ".join(sorted(databases)),
        "query each database's facts separately, or declare a join with 'to_database' between them",
    )


def _dense_axis(request: ResolvedRequest, grain: tuple[int, ...], model: Model):
    """The calendar periods a dense request shows, or None if it selects no time column.

    Only requests whose attributes are all time columns are densified: with other columns,
    the empty rows would be a cross product of every period with every other member.
    """
    time_tables = {h.table for h in model.hierarchies if h.time}
    exprs = [request.outputs[i].expr for i in grain]
    logical = {r[0] for e in exprs for r in _refs_of(e)}
    if not exprs or not logical & time_tables:
        return None
    if logical - time_tables:
        raise LogicalSQLError(
            "dense time axes need a request whose attributes are all time columns",
            "remove the other attributes, or turn dense off",
        )
    physical = set(_physical_tables(exprs, model))
    if len(physical) != 1:
        raise LogicalSQLError("dense time axes need the time columns of one calendar table")
    filters = tuple(
        f for f in request.filters if {r[0] for r in _refs_of(f)} <= time_tables and _refs_of(f)
    )
    return DenseAxis(physical.pop(), filters)


# ---------------------------------------------------------------- level-based measures


def _expanded(request: ResolvedRequest, model: Model) -> ResolvedRequest:
    """Derived measures replaced by their formulas, and level-based measures by level nodes
    grouped for this request's grain; a level key the grain implies is added, hidden, so
    that a level's totals can be joined back (Area for a request by Municipality)."""
    outputs = list(request.outputs)
    if not any(
        _needs_expansion(n, model) for o in outputs if o.is_measure for n in o.expr.walk()
    ) and not any(_needs_expansion(n, model) for f in request.measure_filters for n in f.walk()):
        return request
    # _expand appends hidden level keys to `outputs`, so walk a copy and keep the additions.
    for i, o in enumerate(list(outputs)):
        if o.is_measure:
            outputs[i] = replace(o, expr=_expand(o.expr, outputs, model))
    measure_filters = tuple(_expand(f, outputs, model) for f in request.measure_filters)
    return replace(request, outputs=tuple(outputs), measure_filters=measure_filters)


def _per_fact(request: ResolvedRequest, model: Model) -> ResolvedRequest:
    """Functions over measures of several facts split into one per fact (functions.by_fact)."""

    def fact_of(column: exp.Column) -> str:
        return model.logical_column(column.table, column.name).table

    def split(tree: exp.Expression) -> exp.Expression:
        return transformed(tree, lambda n: by_fact(n, fact_of)) if _specials([tree]) else tree

    trees = [o.expr for o in request.outputs if o.is_measure] + list(request.measure_filters)
    if not _specials(trees):
        return request
    outputs = tuple(replace(o, expr=split(o.expr)) if o.is_measure else o for o in request.outputs)
    measure_filters = tuple(split(f) for f in request.measure_filters)
    return replace(request, outputs=outputs, measure_filters=measure_filters)


def _needs_expansion(node: exp.Expression, model: Model) -> bool:
    if is_special(node):
        return True
    if isinstance(node, exp.Column):
        column = model.logical_column(node.table, node.name)
        return column.kind is ColumnKind.derived or bool(column.levels)
    return False


def qualified_formula(column: LogicalColumn) -> exp.Expression:
    """A derived column's formula with each bare measure name qualified by the column's table."""
    return transformed(
        column.formula,
        lambda n: (
            exp.column(n.name, n.table or column.table, quoted=True)
            if isinstance(n, exp.Column)
            else n
        ),
    )


def _expand(tree: exp.Expression, outputs: list, model: Model) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if is_special(node):
            if read(node).kind == LEVEL:
                _grain_keys(read(node).by, outputs, model)
            return node
        if not isinstance(node, exp.Column):
            return node
        column = model.logical_column(node.table, node.name)
        if column.kind is ColumnKind.derived:
            formula = qualified_formula(column)
            expanded = _expand(_time_functions(formula, model), outputs, model)
            return (
                expanded
                if isinstance(expanded, (exp.Column, exp.Func))
                else exp.Paren(this=expanded)
            )
        if column.levels:
            by = _level_by(column, outputs, model)
            if by is None:
                return exp.Null()  # the request is above the measure's level
            _grain_keys(by, outputs, model)
            return level_node(copied(node), by)
        return node

    return transformed(tree, swap)


def _time_functions(formula: exp.Expression, model: Model) -> exp.Expression:
    """AGO, TODATE and PERIODROLLING in a derived measure's formula, as planner nodes."""

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.upper() in TIME_FUNCTIONS:
            measure = _time_functions(node.expressions[0], model)
            return time_function(node, model, measure)
        return node

    if not any(
        isinstance(n, exp.Anonymous) and n.name.upper() in TIME_FUNCTIONS for n in formula.walk()
    ):
        return formula
    return transformed(formula, swap)


def _level_by(column: LogicalColumn, outputs: list, model: Model):
    """The attributes a measure fixed at its levels groups by in this request, or None if
    the request is above one of its levels (no member of that level to fix it at)."""
    by: list[tuple[str, str]] = []
    grain = [o for o in outputs if not o.is_measure]
    fixed = {model.hierarchy(h).name: model.hierarchy(h).depth(lv) for h, lv in column.levels}
    adds: list[tuple[str, str]] = []
    for hierarchy_name, depth in fixed.items():
        hierarchy = model.hierarchy(hierarchy_name)
        deepest = max(
            (
                d
                for o in grain
                for ref in _refs_of(o.expr)
                for h, d in model.levels_of(*ref)
                if h.name == hierarchy_name
            ),
            default=None,
        )
        if depth >= 0 and (deepest is None or deepest < depth):
            return None
        if depth >= 0 and deepest > depth:
            adds.append((hierarchy.table, hierarchy.levels[depth].key))
    for o in grain:
        refs = _refs_of(o.expr)
        below = any(
            h.name in fixed and d > fixed[h.name] for ref in refs for h, d in model.levels_of(*ref)
        )
        if below:
            continue
        if not isinstance(o.expr, exp.Column):
            raise LogicalSQLError(
                f"the level-based measure {quoted(column.table, column.name)} needs plain "
                f"columns in the SELECT list, not {o.name}",
                "select the column itself, or drop the level-based measure",
            )
        by.extend(r for r in refs if r not in by)
    by.extend(a for a in adds if a not in by)
    return tuple(by)


def _grain_keys(by, outputs: list, model: Model) -> None:
    """Make sure each attribute of `by` is a plain column of the grain, adding a hidden one
    when a lower level of its hierarchy is selected (so adding it keeps the same rows)."""
    grain_refs = {_plain(o.expr) for o in outputs if not o.is_measure}
    for ref in by:
        if ref in grain_refs:
            continue
        implied = any(
            h.levels[d].key == ref[1]
            and any(
                h2.name == h.name and d2 > d
                for o in outputs
                if not o.is_measure
                for r in _refs_of(o.expr)
                for h2, d2 in model.levels_of(*r)
            )
            for h, d in model.levels_of(*ref)
        )
        if not implied:
            raise LogicalSQLError(
                f"AGGREGATE BY {quoted(*ref)}: the request neither selects it nor a lower level "
                "of its hierarchy",
                "add it (or a level below it) to the SELECT list",
            )
        outputs.append(
            Output(f"__level{len(outputs)}", exp.column(ref[1], ref[0], quoted=True), False, True)
        )
        grain_refs.add(ref)


def _plain(tree: exp.Expression) -> tuple[str, str] | None:
    return (tree.table, tree.name) if isinstance(tree, exp.Column) else None


def _refs_of(tree: exp.Expression) -> list[tuple[str, str]]:
    return [(c.table, c.name) for c in tree.find_all(exp.Column)]


def _specials(trees: Iterable[exp.Expression]) -> list[exp.Expression]:
    found: dict[str, exp.Expression] = {}
    for tree in trees:
        for node in tree.walk():
            if is_special(node):
                found.setdefault(node.sql(), node)
    return list(found.values())


def _side_query(
    node: exp.Expression,
    grain: tuple[int, ...],
    request: ResolvedRequest,
    model: Model,
    navigate: bool,
    candidates: list,
    row_filters: tuple | None = None,
) -> FactQuery:
    """The query computing a level node or a time series, at its own grain; `row_filters`
    replaces the session's (a 'full' roll-up policy drops those its total rises above)."""
    spec = read(node)
    measures = _base_measures([measure_of(node)], model)
    facts = {m.table for m in measures}
    if len(facts) != 1:
        raise LogicalSQLError(
            f"{spec.measure}: a level or time-series function over measures of "
            f"{len(facts)} facts is not supported",
            "apply the function to each fact's measure separately",
        )
    exprs = [request.outputs[i].expr for i in grain]
    period = None
    filters = list(request.filters)
    if spec.kind == LEVEL:
        plain = [_plain(e) for e in exprs]
        keys = tuple(plain.index(ref) for ref in spec.by)
    else:
        keys, period, filters = _time_series(spec, exprs, filters, request, model)
    touched = [exprs[k] for k in keys] + filters
    found: list[Candidate] = []
    fact = facts.pop()
    query = _fact_query(
        fact,
        measures,
        _physical_tables(touched, model),
        touched,
        request,
        model,
        navigate,
        found,
    )
    label = f"{fact} for {_label(spec)}"
    candidates.extend(replace(c, fact=label) for c in found)
    query = replace(query, keys=keys, special=node.sql(), period=period)
    if row_filters is not None:
        request = replace(request, row_filters=row_filters)
    return _with_filters(query, request, model, filters)


_POLICY_ORDER = ("hidden", "partial", "full")


def _rollup(request: ResolvedRequest, specials: list, model: Model):
    """Apply the session's roll-up policies to level-based totals above a row filter's level:
    partial (the default) keeps the row filter, full drops it for that total, hidden shows
    no total (NULL). The same request on an aggregate source gets the same policy, since the
    policy changes the plan before a source is chosen.
    """
    session = request.session
    policies: dict[str, str] = {}
    for role, hierarchy, policy in model.security.rollups:
        if role in session.roles:
            current = policies.get(hierarchy, "hidden")
            policies[hierarchy] = max(current, policy, key=_POLICY_ORDER.index)
    if not policies:
        return request, {}
    filtered: dict[str, int] = {}  # hierarchy -> depth of the row filter's level
    by_filter: list[tuple[tuple, set[str]]] = []
    for rule in request.row_filters:
        hierarchies = set()
        for ref in _refs_of(rule[1]):
            for h, d in model.levels_of(*ref):
                filtered[h.name] = max(filtered.get(h.name, -1), d)
                hierarchies.add(h.name)
        by_filter.append((rule, hierarchies))
    hidden: set[str] = set()
    full: dict[str, tuple] = {}
    for node in specials:
        spec = read(node)
        if spec.kind != LEVEL:
            continue
        above = set()
        for name, depth in filtered.items():
            held = [d for ref in spec.by for h, d in model.levels_of(*ref) if h.name == name]
            if not held or max(held) < depth:
                above.add(name)
        rule_set = {policies.get(name, "partial") for name in above}
        if "hidden" in rule_set:
            hidden.add(node.sql())
        elif "full" in rule_set:
            dropped = {n for n in above if policies.get(n) == "full"}
            full[node.sql()] = tuple(r for r, hs in by_filter if not hs & dropped)
    if hidden:

        def blank(n: exp.Expression) -> exp.Expression:
            return exp.Null() if is_special(n) and n.sql() in hidden else n

        outputs = tuple(
            replace(o, expr=transformed(o.expr, blank)) if o.is_measure else o
            for o in request.outputs
        )
        measure_filters = tuple(transformed(f, blank) for f in request.measure_filters)
        request = replace(request, outputs=outputs, measure_filters=measure_filters)
    return request, full


def _label(spec) -> str:
    if spec.kind == LEVEL:
        by = ", ".join(quoted(*ref) for ref in spec.by)
        return f"{spec.measure} by {by}" if by else f"{spec.measure}, grand total"
    name = {AGO: "AGO", TODATE: "TODATE", ROLLING: "PERIODROLLING"}[spec.kind]
    if spec.kind == ROLLING:
        return f"{name}({spec.measure}, {spec.start}, {spec.end})"
    level = f"{spec.hierarchy}.{spec.level}"
    return f"{name}({spec.measure}, {level}" + (f", {spec.start})" if spec.kind == AGO else ")")


def _time_series(spec, exprs, filters, request: ResolvedRequest, model: Model):
    hierarchy = model.hierarchy(spec.hierarchy)
    level_depth = hierarchy.depth(spec.level) if spec.level else 0
    name = {AGO: "AGO", TODATE: "TODATE", ROLLING: "PERIODROLLING"}[spec.kind]
    best = None
    for k, tree in enumerate(exprs):
        ref = _plain(tree)
        for h, d in model.levels_of(*ref) if ref else ():
            level_key = h.name == hierarchy.name and h.levels[d].key == ref[1]
            if level_key and d >= level_depth and (best is None or d > best[1]):
                best = (k, d)
    if best is None:
        lowest = hierarchy.levels[level_depth].key
        raise LogicalSQLError(
            f"{name} needs the level {quoted(hierarchy.table, lowest)} or a lower one of "
            f"hierarchy '{hierarchy.name}' in the SELECT list",
            "time-series functions are computed per period of the request's time level",
        )
    position, depth = best
    time_tables = {hierarchy.table}
    keys = []
    for k, tree in enumerate(exprs):
        tables = {r[0] for r in _refs_of(tree)}
        if k == position:
            keys.append(k)
        elif tables & time_tables:
            for ref in _refs_of(tree):
                levels = [d for h, d in model.levels_of(*ref) if h.name == hierarchy.name]
                if not levels or min(levels) > depth:
                    raise LogicalSQLError(
                        f"{name}: {request.names.get(ref, quoted(*ref))} is below the request's "
                        "time level",
                        "select time columns at or above the lowest time level selected",
                    )
        else:
            keys.append(k)
    kept = []
    for condition in filters:
        tables = {r[0] for r in _refs_of(condition)}
        if not tables & time_tables:
            kept.append(condition)
        elif tables - time_tables:
            raise LogicalSQLError(
                f"{name}: a condition mixes time and other columns: {condition.sql()}",
                "write time conditions and other conditions separately, joined by AND",
            )
        # A condition on time picks the periods shown, not the periods a value reads: it
        # applies to the stitched rows, which the time series is joined to.
    level = hierarchy.levels[depth]
    parent = hierarchy.levels[level_depth]

    def physical(column: str) -> exp.Expression:
        return model.logical_column(hierarchy.table, column).expr

    trees = [
        physical(level.key),
        physical(level.chronological_key),
        physical(parent.chronological_key),
    ]
    tables = {c.table for t in trees for c in t.find_all(exp.Column)}
    if len(tables) != 1:
        raise LogicalSQLError(
            f"{name}: the levels of hierarchy '{hierarchy.name}' must come from one calendar "
            f"table, found {', '.join(sorted(tables))}"
        )
    period = Period(
        spec.kind, position, tables.pop(), trees[0], trees[1], trees[2], spec.start, spec.end
    )
    return tuple(keys), period, kept


def _physical_tables(trees: Iterable[exp.Expression], model: Model) -> dict[str, tuple[str, str]]:
    """Each physical table the attributes use, with one logical column that needs it."""
    tables: dict[str, tuple[str, str]] = {}
    for tree in trees:
        for ref in tree.find_all(exp.Column):
            column = model.logical_column(ref.table, ref.name)
            for table in _tables_of(column, model):
                tables.setdefault(table, column.ref)
    return tables


def _tables_of(column: LogicalColumn, model: Model) -> tuple[str, ...]:
    """The physical tables a logical column's expression reads, walked once per model: the
    planner asks for every attribute and condition, several times per request."""
    return model.derived(
        ("tables of", column.ref),
        lambda: tuple(dict.fromkeys(c.table for c in column.expr.find_all(exp.Column))),
    )


def _base_measures(trees: Iterable[exp.Expression], model: Model) -> list[LogicalColumn]:
    found: list[LogicalColumn] = []
    # By reference, not `column in found`: comparing whole dataclasses made 80 measures
    # cost 80 x 80 field-by-field comparisons (a tenth of the compile, bench/compile_scale).
    seen: set[tuple[str, str]] = set()
    stack = [
        ref for tree in trees for ref in tree.walk(prune=is_special) if isinstance(ref, exp.Column)
    ]
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
        elif column.ref not in seen:
            seen.add(column.ref)
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


def partial(measure: LogicalColumn, source: LogicalSource, model: Model) -> exp.Expression | None:
    """The aggregate source's column holding `measure`'s partial aggregate, if any. A
    level-based measure reads the mapping of the plain measure it repeats (same expression
    and rule): fixing it at a level changes its grouping, not what it adds up."""
    mapped = dict(source.measures)
    if measure.name in mapped:
        return mapped[measure.name]
    if measure.levels:
        for other in model.logical_table(measure.table).columns:
            same = (
                other.kind is ColumnKind.measure
                and not other.levels
                and other.aggregation is measure.aggregation
                and other.expr is not None
                and other.expr.sql() == measure.expr.sql()
            )
            if same and other.name in mapped:
                return mapped[other.name]
    return None


def _measure_tables(
    measures: list[LogicalColumn], source: LogicalSource, model: Model
) -> list[str]:
    trees = [partial(m, source, model) if source.is_aggregate else m.expr for m in measures]
    trees += [last_period(m, model) for m in measures if m.last_over is not None]
    return [t.table for tree in trees for t in tree.find_all(exp.Column)]


def last_period(measure: LogicalColumn, model: Model) -> exp.Expression:
    """The physical chronological key of the lowest level of a semi-additive measure's time
    hierarchy: the rows at its latest value in a group are the group's last period."""
    hierarchy = model.hierarchy(measure.last_over)
    level = hierarchy.levels[-1]
    return model.logical_column(hierarchy.table, level.chronological_key or level.key).expr


def _fact_query(
    fact: str,
    measures: list[LogicalColumn],
    needed: dict,
    attributes: list[exp.Expression],
    request: ResolvedRequest,
    model: Model,
    navigate: bool = True,
    candidates: list | None = None,
) -> FactQuery:
    """The fact query over the cheapest source that answers it: an aggregate source whose
    content is at or below every level the query touches and that maps every measure with a
    mergeable rule, else the first detail source that reaches every table."""
    touched = [*attributes, *(condition for _, condition in request.row_filters)]
    missing = None
    usable: list[tuple[float, int, LogicalSource, tuple]] = []
    notes: list[tuple[LogicalSource, str]] = []
    sources = model.logical_table(fact).sources
    fragments = tuple(s for s in sources if s.fragment is not None)
    needed_fragments = _needed_fragments(fragments, [*attributes, *touched])
    for order, source in enumerate(sources):
        if source.fragment is not None and source is not fragments[0]:
            continue  # the fragments are one candidate, considered at the first one
        if source.is_aggregate and not navigate:
            notes.append((source, "aggregate navigation is off"))
            continue
        problem = _aggregate_problem(source, measures, touched, model)
        if problem is not None:
            notes.append((source, problem))
            continue
        tables = _measure_tables(measures, source, model)
        joins, lost = _reach(source, [*tables, *needed], model)
        if joins is None:
            missing = missing or lost
            notes.append((source, f"no many-to-one join path from '{source.base}' to '{lost}'"))
            continue
        cost = _cost(source, model) if source.is_aggregate else float("inf")
        usable.append((cost, order, source, joins))
    if usable:
        _, _, chosen, joins = min(usable, key=lambda u: (u[0], u[1]))
        chosen_fragments = needed_fragments if chosen.fragment is not None else ()
        if candidates is not None:
            for _, _, source, _ in usable:
                if source is not chosen:
                    reason = (
                        "answers too, but holds more rows"
                        if source.is_aggregate
                        else ("answers too, but an aggregate source holds fewer rows")
                    )
                    notes.append((source, reason))
            name = " + ".join(f.name for f in chosen_fragments) or chosen.name
            candidates.append(Candidate(fact, name, True, _why(chosen, model), chosen.is_aggregate))
            candidates.extend(Candidate(fact, s.name, False, r, s.is_aggregate) for s, r in notes)
        for fragment in fragments:
            if (
                chosen.fragment is not None
                and fragment not in chosen_fragments
                and candidates is not None
            ):
                candidates.append(
                    Candidate(
                        fact,
                        fragment.name,
                        False,
                        "its fragment condition excludes the request's conditions",
                    )
                )
        return FactQuery(fact, chosen, joins, tuple(measures), fragments=chosen_fragments)
    names = request.names
    measure = names.get(measures[0].ref, quoted(*measures[0].ref))
    if missing is None:
        raise LogicalSQLError(
            f"no source of '{fact}' answers {measure}: "
            + "; ".join(f"{s.name}: {r}" for s, r in notes)
        )
    attribute = names.get(needed[missing], quoted(*needed[missing])) if missing in needed else None
    raise LogicalSQLError(
        f"{measure} cannot be combined with {attribute or missing}: "
        f"no join path from the fact '{fact}' to table '{missing}'",
        "remove one of them, or model a join that reaches it without multiplying rows",
    )


# avg merges as SUM(sums) / SUM(counts) from a mapping written `sums / counts`.
_MERGEABLE = {
    Aggregation.sum,
    Aggregation.count,
    Aggregation.min,
    Aggregation.max,
    Aggregation.avg,
}


def _aggregate_problem(
    source: LogicalSource, measures: list[LogicalColumn], touched: list, model: Model
) -> str | None:
    """Why an aggregate source cannot answer, or None if it can (detail sources always can)."""
    if not source.is_aggregate:
        return None
    for measure in measures:
        if measure.last_over is not None:
            return f"'{measure.name}' is semi-additive (last over time): detail rows only"
        if measure.aggregation not in _MERGEABLE:
            return (
                f"'{measure.name}' ({measure.aggregation.value}) cannot be merged from "
                "partial aggregates"
            )
        if partial(measure, source, model) is None:
            return f"holds no partial aggregate of '{measure.name}'"
    held = {name: model.hierarchy(name).depth(level) for name, level in source.content}
    for tree in touched:
        for ref in tree.find_all(exp.Column):
            levels = model.levels_of(ref.table, ref.name)
            if not levels:
                return f"{quoted(ref.table, ref.name)} is in no hierarchy level (detail only)"
            if not any(h.name in held and held[h.name] >= d for h, d in levels):
                h, d = levels[0]
                return (
                    f"{quoted(ref.table, ref.name)} is at level '{h.levels[d].name}' of "
                    f"'{h.name}', below the source's content "
                    f"('{dict(source.content).get(h.name, 'not held')}')"
                )
    return None


def _needed_fragments(
    fragments: tuple[LogicalSource, ...], conditions: list[exp.Expression]
) -> tuple[LogicalSource, ...]:
    """The fragments whose condition may hold together with the request's conditions (at
    least one, so that the query still has a table to read)."""
    if not fragments:
        return ()
    found = tuple(f for f in fragments if may_overlap(f.fragment, conditions))
    return found or fragments[:1]


def _cost(source: LogicalSource, model: Model) -> float:
    """Estimated rows: the product of member counts at the source's content levels."""
    cost = 1.0
    for name, level in source.content:
        hierarchy = model.hierarchy(name)
        depth = hierarchy.depth(level)
        if depth >= 0:
            members = hierarchy.levels[depth].members
            cost *= members if members else 10 ** (depth + 1)
    return cost


def _why(source: LogicalSource, model: Model) -> str:
    if source.fragment is not None:
        return "fragments of the detail whose conditions meet the request's (UNION ALL)"
    if not source.is_aggregate:
        return "detail source: answers every level"
    content = ", ".join(f"{h}: {lv}" for h, lv in source.content)
    return f"aggregate at {content}; about {_cost(source, model):,.0f} rows"


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
    # A row filter declared on a requested dimension may read other tables (campaigns the
    # user may see are those sent to their customers): then only a source that reaches them
    # can answer, so the dimension is read through a fact, as for several dimensions.
    bound = [c for table, c in request.row_filters if table in logical]
    required = {**needed, **_physical_tables(bound, model)}
    for table, source in candidates:
        joins, _ = _reach(source, required, model)
        if joins is not None:
            return FactQuery(table, source, joins, ())
    if bound and any(_reach(source, needed, model)[0] is not None for _, source in candidates):
        raise _unenforceable(next(t for t, _ in request.row_filters if t in logical), request)
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


def _with_filters(
    query: FactQuery, request: ResolvedRequest, model: Model, filters: list | None = None
) -> FactQuery:
    """Attach the request's filters and every row filter whose table the query can reach.

    A row filter on customers applies to billing by year too, joining the customers in
    if the request did not: a restricted user's totals are totals over their rows. A row
    filter on a table the query reads or reaches must apply: if its condition's tables are out
    of reach (campaigns restricted to those sent to the user's customers, read without the
    ledger), the request is refused rather than answered unfiltered.
    """
    guard: list[exp.Expression] = []
    steps = {step.table: step for step in query.joins}
    kept = list(request.filters if filters is None else filters)
    read = _logical_tables_read(query, request, kept)
    for table, condition in request.row_filters:
        joins, missing = _reach(query.source, _physical_tables([condition], model), model)
        if missing is not None:
            if table in read or _reaches_table(query.source, table, model):
                raise _unenforceable(table, request)
            continue  # this query never reaches the filtered table (a service catalogue)
        if any(condition == g for g in guard):
            continue  # the same condition declared on two tables applies once
        guard.append(condition)
        for step in joins:
            steps.setdefault(step.table, step)
    return replace(
        query,
        joins=tuple(steps.values()),
        filters=(*kept, *guard),
        guard=tuple(guard),
    )


def _logical_tables_read(
    query: FactQuery, request: ResolvedRequest, filters: list[exp.Expression]
) -> set[str]:
    """The logical tables whose columns the query reads: its grain (a side query's keys
    only), its conditions, and the fact (or dimension) it aggregates."""
    grain = [o.expr for o in request.outputs if not o.is_measure]
    positions = range(len(grain)) if query.keys is None else query.keys
    trees = [grain[k] for k in positions if k < len(grain)] + filters
    return {query.table} | {table for tree in trees for table, _ in _refs_of(tree)}


def _reaches_table(source: LogicalSource, table: str, model: Model) -> bool:
    """Whether `source` reaches the base table of a source of the logical `table`."""
    paths = model.join_paths(source.base)
    return any(s.base in paths for s in model.logical_table(table).sources)


def _unenforceable(table: str, request: ResolvedRequest) -> LogicalSQLError:
    return LogicalSQLError(
        f"the rows of {quoted(table)} you may see are limited by a row filter that this "
        "request cannot apply (its condition is not reachable from what the request reads)",
        f"add a measure of {quoted(request.subject_area.name)} that relates {quoted(table)} "
        "to the filter's columns, or ask an administrator",
    )


def with_preaggregation(fact: FactQuery, grain: list[exp.Expression], model: Model) -> FactQuery:
    """Aggregate the fact by the base columns the rest of the query needs, then join.

    DuckDB does not push an aggregate below a chain of joins: summing 22 M invoices by
    customer first and joining the million sums to their areas is 2.5x faster than joining
    22 M rows. Worth it when the fact has joins and the keys are coarser than its rows.
    Not when the fact is filtered: the filter would then apply only after every row was
    summed, where DuckDB filters rows as it joins them (TPC-H SF 1, Europe in 1995-1996:
    4x slower than the hand SQL with it, level with it without). Nor when every join is
    inner (`assume_integrity`) and nothing is counted distinct: the database may then build
    the dimensions' joins once and probe them with the fact's rows, and summing the fact by
    its first join's key first only adds a large aggregation (TPC-H SF 1, revenue by region
    and year: 706 ms of CPU with it, 666 without, the hand SQL's 670). A count distinct
    still gains, since grouping removes the duplicates early (orders' customers by segment:
    55 ms with it, 121 without).
    """
    base = fact.source.base
    if (
        not fact.joins
        or fact.filters
        or fact.source.is_aggregate
        or fact.keys is not None
        or len(fact.fragments) > 1
        or any(
            m.aggregation not in _DECOMPOSABLE
            or m.last_over is not None
            or any(c.table != base for c in m.expr.find_all(exp.Column))
            for m in fact.measures
        )
    ):
        return fact
    if all(_declared_inner(step) for step in fact.joins) and not any(
        m.aggregation is Aggregation.count_distinct for m in fact.measures
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
    grain_columns = _physical_columns(grain, model)
    if _grain_holds_a_key(grain_columns, fact, model):
        return fact
    physical = grain_columns + _physical_columns(list(fact.filters), model)
    distinct = [m.expr for m in fact.measures if m.aggregation is Aggregation.count_distinct]
    for tree in [*physical, *distinct]:
        keys.update(dict.fromkeys(c.name for c in tree.find_all(exp.Column) if c.table == base))
    primary_key = model.table(base).primary_key
    if primary_key and set(primary_key) <= set(keys):
        return fact  # one row per base row: nothing to gain
    return replace(fact, preaggregate=tuple(keys))


def _declared_inner(step: JoinStep) -> bool:
    """Whether the generator joins `step` inner (engine/generate.py `_inner`): to the one
    side of a join that declares `assume_integrity`."""
    return step.join.assume_integrity and step.table == step.join.one


def _with_join_kind(fact: FactQuery, grain: list[exp.Expression], model: Model) -> FactQuery:
    """Keep every join LEFT when the grain holds the key of a table two joins away.

    DuckDB 2.0 then aggregates the line items by the orders' customer key below the customer
    join; with inner joins (assume_integrity) it does not, and TPC-H SF 1 top-10-customers
    took 1,074 ms of CPU instead of 740 (the hand SQL's: 782), with the same rows.
    """
    if _grain_holds_a_key(_physical_columns(grain, model), fact, model):
        return replace(fact, keep_left=True)
    return fact


def _physical_columns(trees: list[exp.Expression], model: Model) -> list[exp.Expression]:
    """The physical expression of every logical column the trees refer to."""
    return [
        model.logical_column(ref.table, ref.name).expr
        for tree in trees
        for ref in tree.find_all(exp.Column)
    ]


def _grain_holds_a_key(grain: list[exp.Expression], fact: FactQuery, model: Model) -> bool:
    """Whether the grain holds the whole primary key of a table the fact reaches through
    another table (top customers by line-item revenue: line items -> orders -> customer).

    The final GROUP BY then has one group per member, so pre-aggregating by the first
    hop's key adds a second large grouping instead of removing work: TPC-H SF 1
    top-10-customers summed 6 M line items into 1.5 M orders and regrouped them into 100,000
    customers, 1.1 s of CPU against the hand SQL's 0.73 s; grouped once, 0.68 s (DuckDB then
    aggregates below the customer join by itself). A key one hop away (invoices by customer)
    is the pre-aggregation's own key, which groups once either way, and stays as it was.
    """
    base = fact.source.base
    columns = {(c.table, c.name) for tree in grain for c in tree.find_all(exp.Column)}
    for step in fact.joins:
        key = model.table(step.table).primary_key
        first_hop = base in (step.join.many, step.join.one)
        if key and not first_hop and all((step.table, k) in columns for k in key):
            return True
    return False


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
    if hop.join.many != fact.source.base or not any(rejects_null(f, below, model) for f in filters):
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


def rejects_null(condition: exp.Expression, tables: set[str], model: Model) -> bool:
    """Whether `condition` is false or NULL when every column of `tables` is NULL: a plain
    column of those tables compared with constants (IS NULL excepted)."""
    column = compared_column(condition, model)
    return column is not None and not isinstance(condition, exp.Is) and column.table in tables
