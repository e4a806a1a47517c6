"""Rank first, then look names up: a top-N request by a dimension's key ranks the fact's
groups by the foreign key that reaches the dimension, and joins the dimension for N rows.

"Top 10 customers by billed amount" groups 22 M invoices by customer; the plain plan then
joins every one of the million groups to its customer and groups again by id and name before
it can rank. Grouping by the invoice's own customer key gives the same groups, when every key
is found in the customer table: the id and name are functionally dependent on that key. So
the ranking reads the fact alone (and the tables its filters need), and only the N winners
are joined to their customers, as an analyst writes it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlglot import exp

from engine.plan import FactQuery, QueryPlan, physical_column, rejects_null
from semantic.model import JoinStep, Model


@dataclass(frozen=True)
class TopN:
    """How a plan's single fact query is ranked by a foreign key before the lookup."""

    hop: JoinStep  # the join into the dimension; its many side holds the foreign key
    rank_joins: tuple[JoinStep, ...]  # what the ranking reads besides the fact: the path to
    # the foreign key's table, and the tables the request's filters and row filters need
    lookup_joins: tuple[JoinStep, ...]  # from the dimension to the other grain tables
    # (output index, position in the hop's key) for each key column of the dimension selected
    keys: tuple[tuple[int, int], ...]


def rank_first(plan: QueryPlan, model: Model) -> QueryPlan:
    """`plan` with a TopN when ranking by the foreign key gives exactly its rows, else `plan`.

    It does when the request has a LIMIT and sorts by a measure; one fact query reads a detail
    source; the grain is plain attributes of one dimension and the tables beyond it, holding
    the dimension's whole primary key; sorting by attributes sorts by that key only; and no
    fact row can lose its dimension row (the join declares `assume_integrity`, or a condition
    that a missing dimension row fails, like a row filter on its area, removes such rows).
    Without that guarantee, a fact row with a dangling key joins a NULL member in the plain
    plan, while ranking by the key would rank it under its own key.

    >>> from engine.parse import parse
    >>> from engine.plan import plan
    >>> from engine.resolve import resolve
    >>> from engine.session import SYSTEM
    >>> from semantic.load import load_model
    >>> m = load_model("bench/tpch_model")
    >>> r = resolve(parse('SELECT "Customer"."Customer Key", "Customer"."Customer Name", '
    ...     '"Facts"."Revenue" FROM "TPC-H" ORDER BY 3 DESC LIMIT 10'), m, SYSTEM)
    >>> top = rank_first(plan(r, m), m).top
    >>> top.hop.join.many, top.hop.join.many_columns, [s.table for s in top.rank_joins]
    ('orders', ('o_custkey',), ['orders'])
    """
    request = plan.request
    if (
        request.request.limit is None
        or plan.dense is not None
        or len(plan.facts) != 1
        or not any(request.outputs[o.output].is_measure for o in request.order_by)
    ):
        return plan
    fact = plan.facts[0]
    if not _rankable(fact, model):
        return plan
    columns = [physical_column(request.outputs[i].expr, model) for i in plan.grain]
    if not columns or any(c is None for c in columns):
        return plan  # an expression of attributes (a CASE, a year of a date): not simple
    paths = model.join_paths(fact.source.base)
    for table in dict.fromkeys(c.table for c in columns):
        top = _top_n(table, columns, plan, fact, paths, model)
        if top is not None:
            return replace(plan, top=top)
    return plan


def _rankable(fact: FactQuery, model: Model) -> bool:
    """A detail query of the fact's rows, whose measures read the fact's own columns."""
    base = fact.source.base
    return (
        fact.keys is None
        and fact.anchor is None
        and fact.period is None
        and not fact.source.is_aggregate
        and len(fact.fragments) <= 1
        and bool(fact.measures)
        and not any(s.join.federated for s in fact.joins)
        and all(
            m.last_over is None
            and m.expr is not None
            and all(c.table == base for c in m.expr.find_all(exp.Column))
            for m in fact.measures
        )
    )


def _top_n(
    table: str, columns: list[exp.Column], plan: QueryPlan, fact: FactQuery, paths, model: Model
) -> TopN | None:
    """The ranking by `table`'s key, if `table` is the dimension the grain depends on."""
    path = paths.get(table)
    key = model.table(table).primary_key
    if not path or not key:
        return None
    hop = path[-1]
    join = hop.join
    if hop.table != join.one or set(join.one_columns) != set(key):
        return None  # not a many-to-one join onto the dimension's primary key
    depth = len(path)
    below = {t for t, p in paths.items() if p[:depth] == path}
    if any(c.table not in below for c in columns):
        return None  # an attribute not determined by the dimension's key
    if not join.assume_integrity and not any(rejects_null(f, below, model) for f in fact.filters):
        return None
    grain = plan.grain
    keys = tuple(
        (grain[k], join.one_columns.index(c.name))
        for k, c in enumerate(columns)
        if c.table == table and c.name in join.one_columns
    )
    if {p for _, p in keys} != set(range(len(join.one_columns))):
        return None  # the grain holds only part of a composite key
    by_key = {i for i, _ in keys}
    outputs = plan.request.outputs
    if any(
        not outputs[o.output].is_measure and o.output not in by_key for o in plan.request.order_by
    ):
        return None  # sorting by a name needs the names before ranking
    needed = [join.many, *_tables(fact.filters, model)]
    rank = {s.table: s for t in needed for s in paths.get(t, ())}
    lookup = {s.table: s for c in columns for s in paths[c.table][depth:]}
    return TopN(hop, tuple(rank.values()), tuple(lookup.values()), keys)


def _tables(trees, model: Model) -> list[str]:
    """The physical tables the logical columns of `trees` read."""
    return [
        physical.table
        for tree in trees
        for ref in tree.find_all(exp.Column)
        for physical in model.logical_column(ref.table, ref.name).expr.find_all(exp.Column)
    ]
