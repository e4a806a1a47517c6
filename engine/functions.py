"""Measures computed at another grain than the request's: level-based aggregates and time
series. In a resolved request each is one node whose first argument is the measure
expression and whose other arguments are literals, so that the tree compares and copies
like any other; these helpers build and read them.

>>> from sqlglot import exp
>>> node = level_node(exp.column("Billed", "Sales", quoted=True), (("Customer", "Area"),))
>>> node.sql()
'STRATA_LEVEL("Sales"."Billed", \\'Customer.Area\\')'
>>> read(node).kind, read(node).by
('level', (('Customer', 'Area'),))
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

LEVEL, AGO, TODATE, ROLLING = "level", "ago", "todate", "rolling"
_NAMES = {
    LEVEL: "STRATA_LEVEL",
    AGO: "STRATA_AGO",
    TODATE: "STRATA_TODATE",
    ROLLING: "STRATA_ROLLING",
}
_KINDS = {v: k for k, v in _NAMES.items()}


@dataclass(frozen=True)
class Special:
    kind: str
    measure: str  # the measure expression, as SQL (for messages)
    by: tuple[tuple[str, str], ...] = ()  # level: the logical attributes it groups by
    hierarchy: str | None = None  # time series: the time hierarchy ...
    level: str | None = None  # ... and the function's level (AGO, TODATE)
    start: int = 0  # AGO: periods back; PERIODROLLING: first and last offsets
    end: int = 0


def is_special(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and node.name in _KINDS


def level_node(measure: exp.Expression, by: tuple[tuple[str, str], ...]) -> exp.Expression:
    """`measure` grouped by exactly the attributes `by` (none: the grand total)."""
    args = [exp.Literal.string(f"{t}.{c}") for t, c in by]
    return exp.Anonymous(this=_NAMES[LEVEL], expressions=[measure, *args])


def time_node(
    kind: str, measure: exp.Expression, hierarchy: str, level: str | None, start: int, end: int
) -> exp.Expression:
    args = [
        exp.Literal.string(hierarchy),
        exp.Literal.string(level or ""),
        exp.Literal.string(str(start)),
        exp.Literal.string(str(end)),
    ]
    return exp.Anonymous(this=_NAMES[kind], expressions=[measure, *args])


def measure_of(node: exp.Expression) -> exp.Expression:
    return node.expressions[0]


def read(node: exp.Expression) -> Special:
    kind = _KINDS[node.name]
    measure, *args = node.expressions
    values = [a.this for a in args]
    if kind == LEVEL:
        by = tuple(tuple(v.split(".", 1)) for v in values)
        return Special(kind, measure.sql(), by=by)
    hierarchy, level, start, end = values
    return Special(kind, measure.sql(), (), hierarchy, level or None, int(start), int(end))


TIME_FUNCTIONS = {"AGO": AGO, "TODATE": TODATE, "PERIODROLLING": ROLLING}


def time_function(node: exp.Expression, model, measure: exp.Expression) -> exp.Expression:
    """A time-series call written in the business model (a derived measure's formula) as the
    node the planner reads; `measure` is its first argument, already expanded.

    >>> import sqlglot
    >>> from semantic import load_model
    >>> call = sqlglot.parse_one('AGO("Billing"."Billed Amount", "Time"."Month", 12)')
    >>> print(time_function(call, load_model("models/demo"), call.expressions[0]).sql())
    STRATA_AGO("Billing"."Billed Amount", 'Time', 'Month', '12', '0')
    """
    name = node.name.upper()
    kind = TIME_FUNCTIONS[name]
    args = node.expressions[1:]
    if kind == ROLLING:
        start, end = (int(a.sql()) for a in args)
        hierarchy = next(h for h in model.hierarchies if h.time)
        return time_node(kind, measure, hierarchy.name, None, start, end)
    hierarchy, level = time_level(args[0], model)
    periods = int(args[1].sql()) if kind == AGO else 0
    return time_node(kind, measure, hierarchy, level, periods, 0)


def time_level(node: exp.Expression, model) -> tuple[str, str]:
    """(hierarchy, level) of a time level named by its key column, "Table"."Column"."""
    if isinstance(node, exp.Column) and node.table:
        for hierarchy, depth in model.levels_of(node.table, node.name):
            if hierarchy.time and hierarchy.levels[depth].key == node.name:
                return hierarchy.name, hierarchy.levels[depth].name
    raise KeyError(node.sql())


def by_fact(node: exp.Expression, fact_of) -> exp.Expression:
    """A level or time-series function of an expression over measures of several facts, as
    that expression of the function of each measure: the function's value is the expression
    evaluated over the measures aggregated at its level or periods, so AGO(a / b) is
    AGO(a) / AGO(b) and AGGREGATE(a - b BY x) is AGGREGATE(a BY x) - AGGREGATE(b BY x).
    Each fact's measures are then one side query, as a single fact's are. `fact_of` names
    the fact of a measure column; a node over one fact (or nesting another function) is
    returned as it is.

    >>> import sqlglot
    >>> node = level_node(sqlglot.parse_one('"A"."x" - "B"."y"'), (("Customer", "Area"),))
    >>> by_fact(node, lambda c: c.table).sql()
    '(STRATA_LEVEL("A"."x", \\'Customer.Area\\') - STRATA_LEVEL("B"."y", \\'Customer.Area\\'))'
    """
    if not is_special(node):
        return node
    measure, *args = node.expressions
    columns = list(measure.find_all(exp.Column))
    if len({fact_of(c) for c in columns}) < 2 or any(is_special(n) for n in measure.walk()):
        return node

    def wrap(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column):
            return exp.Anonymous(this=node.name, expressions=[n.copy(), *(a.copy() for a in args)])
        return n

    return exp.Paren(this=measure.transform(wrap))
