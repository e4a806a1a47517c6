"""Which saved analyses a model change breaks or alters: those naming a presentation column
(or its subject area) that was removed, renamed or remapped."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from engine.errors import LogicalSQLError
from engine.parse import parse
from semantic.diff import Change


def affected_analyses(changes: Iterable[Change], analyses: Iterable) -> list[tuple[object, Change]]:
    """Pairs of (saved analysis, the change that touches it).

    >>> from types import SimpleNamespace as A
    >>> change = Change("presentation", "removed", 'column "Retail"."Customer"."Region"')
    >>> old = A(name="by region", logical_sql='SELECT "Customer"."Region" FROM "Retail"')
    >>> [(a.name, c.kind) for a, c in affected_analyses([change], [old])]
    [('by region', 'removed')]
    """
    touched = {}
    for change in changes:
        if change.layer != "presentation" or change.kind == "added":
            continue
        noun, _, name = change.item.partition(" ")
        if noun == "subject":  # 'subject area "Campaigns"'
            noun, name = "area", name.removeprefix("area ")
        touched[(noun, tuple(name.strip('"').split('"."')))] = change
    found = []
    for analysis in analyses:
        try:
            request = parse(analysis.logical_sql)
        except LogicalSQLError:
            continue  # it no longer parses: not a model change's doing
        area = request.subject_area
        trees = [i.expr for i in request.select] + [o.expr for o in request.order_by]
        trees += [request.where] if request.where is not None else []
        names = {(c.table, c.name) for t in trees for c in t.find_all(exp.Column)}
        hits = [touched.get(("area", (area,)))]
        hits += [touched.get(("column", (area, folder, column))) for folder, column in names]
        hits += [touched.get(("folder", (area, folder))) for folder, _ in names]
        found += [(analysis, c) for c in dict.fromkeys(h for h in hits if h is not None)]
    return found
