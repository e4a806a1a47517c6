"""Time series from per-period totals: AGO, TODATE and PERIODROLLING read the fact once.

A time-series side query (engine/plan.py, `FactQuery.period`) maps each fact row's period to
the target periods it counts for. Joined to the fact's rows, every function rescans the fact
and multiplies its rows (PERIODROLLING -2..0 triples them). When every measure of the side
query re-aggregates from per-period results (sum, count, min, max), the fact is aggregated
once per period instead, in a common table expression, and each function maps those few
rows through the calendar. That CTE is the main query's own fact subquery when the two
read the same rows (same source, joins and conditions), so the request scans the fact once.
When the main query has conditions the side queries drop (a time condition: AGO of January
reads last January), the CTE reads every period and groups by those conditions too, and the
main query keeps its groups where they hold: still one scan, and exact for any aggregation,
since each group is wholly kept or wholly dropped.

Count distinct, averages and semi-additive measures are not re-aggregable from per-period
results (a customer billed in two months counts once in the quarter; an average of averages
is wrong; a balance is the last period, not a sum), so their side queries keep reading rows.

>>> from engine.compile import compile_request
>>> from engine.session import SYSTEM
>>> from semantic import load_model
>>> sql = compile_request('SELECT "Time"."Month", "Facts"."Billed Amount", '
...     'TODATE("Facts"."Billed Amount", "Time"."Year") FROM "Billing"',
...     load_model("models/demo"), SYSTEM, navigate=False).query.sql
>>> sql.startswith('WITH "__p0" AS'), sql.count('"invoice" AS')
(True, 1)
>>> sql = compile_request('SELECT "Time"."Month", "Facts"."Billed Amount", '
...     'AGO("Facts"."Billed Amount", "Time"."Month", 12) FROM "Billing" '
...     'WHERE "Time"."Year" = 2025', load_model("models/demo"), SYSTEM).query.sql
>>> sql.count('"agg_invoice_month" AS'), 'FROM (SELECT * FROM "__p0" WHERE "d1")' in sql
(1, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlglot import exp

from engine.plan import FactQuery
from semantic.spec import Aggregation
from semantic.trees import copied

# How a per-period result is aggregated again over the periods a target reads. A count is
# the sum of the periods' counts; a target with no source rows has no row (inner join), as
# before, so the LEFT JOIN above it still gives NULL, not 0.
_MERGE: dict[Aggregation, type[exp.AggFunc]] = {
    Aggregation.sum: exp.Sum,
    Aggregation.count: exp.Sum,
    Aggregation.min: exp.Min,
    Aggregation.max: exp.Max,
}


@dataclass(frozen=True)
class Base:
    """A per-period aggregate the generator writes once, as the CTE `name`: the select of
    `fact`, the main query's own fact subquery (with the side queries' other measures
    appended) or a time series' without its period mapping."""

    name: str
    fact: FactQuery
    main: int | None  # index of the main fact query it serves as is, if any
    # The main query's conditions that its side queries drop (a time condition): the base
    # reads every period and also groups by these conditions (ANDed, its last column), and
    # the main query keeps the groups where they hold. () when the rows are the same.
    split: tuple[exp.Expression, ...] = ()


@dataclass(frozen=True)
class Derived:
    """A time-series side query answered from `base`: its measure j is the base's column
    `columns[j]` (an index into the base fact's measures)."""

    base: str
    columns: tuple[int, ...]


def share_periods(
    facts: Sequence[FactQuery],
) -> tuple[tuple[Base, ...], dict[int, Derived]]:
    """The per-period bases to write once, and each re-aggregable time-series side query
    (by its index in `facts`) answered from one of them.

    >>> share_periods(())
    ((), {})
    """
    sides = [(n, f) for n, f in enumerate(facts) if f.period is not None and _reaggregable(f)]
    bases: list[Base] = []
    for n, main in enumerate(facts):
        if main.keys is not None or main.anchor is not None:
            continue
        # The main query's fact subquery groups by the whole grain, which holds every key
        # of a side query, so it serves as the base when both read the same rows; the side
        # queries' other measures are added to it (a column the main query ignores).
        served = [f for _, f in sides if _same_rows(main, f) and _appendable(main, f)]
        split: tuple[exp.Expression, ...] = ()
        if not served and sides:
            served, split = _split(main, [f for _, f in sides])
        if served:
            measures = {m.ref: m for m in main.measures}
            for side in served:
                for m in side.measures:
                    measures.setdefault(m.ref, m)
            fact = replace(main, measures=tuple(measures.values()))
            if split:
                fact = replace(fact, filters=tuple(c for c in main.filters if c not in split))
            bases.append(Base(f"__p{len(bases)}", fact, n, split))
    derived: dict[int, Derived] = {}
    for n, fact in sides:
        found = next((b for b in bases if _answers(b, fact)), None)
        if found is None:
            found = Base(f"__p{len(bases)}", _plain(fact), None)
            bases.append(found)
        refs = [m.ref for m in found.fact.measures]
        derived[n] = Derived(found.name, tuple(refs.index(m.ref) for m in fact.measures))
    return tuple(bases), derived


def _split(
    main: FactQuery, sides: list[FactQuery]
) -> tuple[list[FactQuery], tuple[exp.Expression, ...]]:
    """The side queries that read the main query's rows but for conditions of its own (the
    request's time conditions, which side queries drop), and those conditions.

    Grouping by a condition as well as by the grain and keeping the groups where it holds
    aggregates exactly the rows it keeps, whatever the aggregation (a group is all in or all
    out), so the main query can be read from a base without it: one scan of the fact serves
    both. Only for a plain fact query (no pre-aggregation, fragment union or semi-additive
    measure, whose SQL computes rows in other shapes)."""
    if (
        main.preaggregate
        or len(main.fragments) > 1
        or any(m.last_over is not None for m in main.measures)
    ):
        return [], ()
    found: list[FactQuery] = []
    split: tuple[exp.Expression, ...] = ()
    for side in sides:
        extra = tuple(c for c in main.filters if c not in side.filters)
        rest = tuple(c for c in main.filters if c in side.filters)
        if not extra or rest != side.filters or (split and extra != split):
            continue
        if _same_rows(replace(main, filters=rest), side):
            found.append(side)
            split = extra
    return found, split


def _answers(base: Base, fact: FactQuery) -> bool:
    keys = base.main is not None or base.fact.keys == fact.keys
    return keys and _same_rows(base.fact, fact) and _covers(base.fact, fact)


def _appendable(main: FactQuery, side: FactQuery) -> bool:
    """Whether the side query's measures can join the main query's subquery: a
    pre-aggregated main query sums its base table's rows first, so an added measure must
    read that table alone (its other measures did, or it would not pre-aggregate)."""
    if not main.preaggregate:
        return True
    base = main.source.base
    return all(c.table == base for m in side.measures for c in m.expr.find_all(exp.Column))


def _same_rows(a: FactQuery, b: FactQuery) -> bool:
    """Whether two fact queries aggregate the same rows: same source, fragments, joins and
    conditions (a side query drops the request's time conditions, so a filtered main query
    never serves as its base). How they aggregate (pre-aggregation) does not matter."""
    return (
        a.table == b.table
        and a.source == b.source
        and a.fragments == b.fragments
        and a.filters == b.filters
        and a.guard == b.guard
        and len(a.joins) == len(b.joins)
        and all(j in b.joins for j in a.joins)
    )


def derived_select(
    fact: FactQuery,
    derived: Derived,
    period_map: Callable[[], exp.Expression],
) -> exp.Select:
    """The side query `fact` as an aggregate of its base's rows mapped through the calendar:
    SELECT target, keys, merge(m) FROM base JOIN periods ON source = base's period GROUP BY.
    The base groups by the side query's keys at least (the main query's: by every one).
    """
    assert fact.period is not None and fact.keys is not None
    position = fact.period.position
    dimensions = [
        exp.column("target", "__periods") if k == position else exp.column(f"d{k}", "__base")
        for k in fact.keys
    ]
    measures = [
        _MERGE[m.aggregation](this=exp.column(f"m{c}", "__base"))
        for m, c in zip(fact.measures, derived.columns, strict=True)
    ]
    return exp.Select(
        expressions=[
            *(_alias(d, f"d{k}") for k, d in zip(fact.keys, dimensions, strict=True)),
            *(_alias(m, f"m{j}") for j, m in enumerate(measures)),
        ],
        from_=exp.From(
            this=exp.Table(
                this=exp.to_identifier(derived.base),
                alias=exp.TableAlias(this=exp.to_identifier("__base")),
            )
        ),
        joins=[
            exp.Join(
                this=period_map(),
                on=exp.EQ(
                    this=exp.column("source", "__periods"),
                    expression=exp.column(f"d{position}", "__base"),
                ),
            )
        ],
        group=exp.Group(expressions=[copied(d) for d in dimensions]),
    )


def _reaggregable(fact: FactQuery) -> bool:
    return (
        fact.anchor is None
        and bool(fact.measures)
        and all(m.aggregation in _MERGE and m.last_over is None for m in fact.measures)
    )


def _plain(fact: FactQuery) -> FactQuery:
    """A time series' fact query without its period mapping: the per-period aggregate."""
    return replace(fact, period=None, special=None)


def _covers(main: FactQuery, side: FactQuery) -> bool:
    """Whether the main query's measures include every measure of the side query."""
    refs = {m.ref for m in main.measures}
    return all(m.ref in refs for m in side.measures)


def _alias(tree: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=tree, alias=exp.to_identifier(name))
