"""What the query log keeps of aggregate navigation: for every fact query that had a choice
of sources, the source chosen and what it covered per hierarchy level.

>>> from engine.compile import compile_request
>>> from engine.session import SYSTEM
>>> from semantic import load_model
>>> m = load_model("models/demo")
>>> c = compile_request('SELECT "Time"."Year", "Facts"."Billed Amount" FROM "Billing"', m, SYSTEM)
>>> [(r.source, r.aggregate, r.coverage) for r in c.routes]
[('monthly by area and tariff', True, 'Time: Year from Month')]
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from engine.functions import AGO, LEVEL, ROLLING, TODATE, read
from engine.plan import FactQuery, QueryPlan
from semantic.model import Model


@dataclass(frozen=True)
class Route:
    fact: str  # the logical fact, with the function a side query computes
    source: str  # fragments as "archive + current"
    aggregate: bool
    coverage: str  # "Time: Year from Month; Geography: Area from detail"


def routes(plan: QueryPlan, model: Model) -> tuple[Route, ...]:
    """One route per fact query of `plan` whose logical table has several sources."""
    grain = [plan.request.outputs[i].expr for i in plan.grain]
    found = []
    for fact in plan.facts:
        if len(model.logical_table(fact.table).sources) < 2:
            continue
        positions = range(len(grain)) if fact.keys is None else fact.keys
        touched = [grain[k] for k in positions] + list(fact.filters)
        source = " + ".join(f.name for f in fact.fragments) or fact.source.name
        found.append(
            Route(
                _fact_name(fact),
                source,
                fact.source.is_aggregate,
                _coverage(touched, fact.source.content, model),
            )
        )
    return tuple(found)


_KINDS = {LEVEL: "level of", AGO: "AGO of", TODATE: "TODATE of", ROLLING: "PERIODROLLING of"}


def _fact_name(fact: FactQuery) -> str:
    """The fact, and for a side query the function it computes ("Sales for AGO of ...")."""
    if fact.special is None:
        return fact.table
    spec = read(sqlglot.parse_one(fact.special))
    return f"{fact.table} for {_KINDS[spec.kind]} {spec.measure}"


def _coverage(touched: list[exp.Expression], content: tuple, model: Model) -> str:
    """Per hierarchy the trees touch: its lowest level touched, and the source's level."""
    lowest: dict[str, int] = {}
    for tree in touched:
        for ref in tree.find_all(exp.Column):
            for hierarchy, depth in model.levels_of(ref.table, ref.name):
                lowest[hierarchy.name] = max(lowest.get(hierarchy.name, -1), depth)
    held = dict(content)
    parts = []
    for name, depth in lowest.items():
        level = model.hierarchy(name).levels[depth].name
        parts.append(f"{name}: {level} from {held.get(name, 'detail')}")
    return "; ".join(parts) or "no level (totals)"
