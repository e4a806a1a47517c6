"""Which tables a base table reaches without fan-out, and by which joins.

Only many-to-one joins (walked from the many side) and one-to-one joins (either way)
are followed, so every table reached holds at most one row per base row: joining it can
never multiply a measure. A table reached by two different routes is ambiguous; the
modeler resolves that with an alias (a second role for the table).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from semantic.model import Join, JoinStep
from semantic.spec import Cardinality


@dataclass(frozen=True)
class Ambiguity:
    table: str
    first: tuple[JoinStep, ...]
    second: tuple[JoinStep, ...]


def join_paths(
    base: str, joins: Iterable[Join]
) -> tuple[dict[str, tuple[JoinStep, ...]], tuple[Ambiguity, ...]]:
    """Breadth-first walk from `base`; shortest route first, ambiguities reported.

    >>> from semantic.errors import SourceSpan
    >>> s, n1 = SourceSpan("p.yaml", 1, 1), Cardinality.many_to_one
    >>> j = [Join("invoice", ("customer_id",), "customer", ("customer_id",), n1, s),
    ...      Join("customer", ("area_id",), "area", ("area_id",), n1, s)]
    >>> paths, ambiguous = join_paths("invoice", j)
    >>> [step.table for step in paths["area"]], ambiguous
    (['customer', 'area'], ())
    >>> sorted(join_paths("area", j)[0])     # nothing is reachable from the one side
    ['area']
    """
    edges: dict[str, list[tuple[str, Join]]] = {}
    for join in joins:
        edges.setdefault(join.many, []).append((join.one, join))
        if join.cardinality is Cardinality.one_to_one:
            edges.setdefault(join.one, []).append((join.many, join))
    paths: dict[str, tuple[JoinStep, ...]] = {base: ()}
    ambiguities: list[Ambiguity] = []
    queue = deque([base])
    while queue:
        here = queue.popleft()
        for there, join in edges.get(here, ()):
            route = (*paths[here], JoinStep(there, join))
            if there not in paths:
                paths[there] = route
                queue.append(there)
            elif there != base and not _same_join(paths[there], paths[here], join):
                ambiguities.append(Ambiguity(there, paths[there], route))
    return paths, tuple(ambiguities)


def _same_join(known: tuple[JoinStep, ...], here: tuple[JoinStep, ...], join: Join) -> bool:
    # Walking a one-to-one join back the way we came is not a second route.
    return (bool(known) and known[-1].join is join) or (bool(here) and here[-1].join is join)
