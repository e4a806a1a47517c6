"""The compile pipeline, stage by stage: parse, resolve, plan, generate."""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.errors import LogicalSQLError
from engine.generate import GeneratedQuery, generate
from engine.parse import parse
from engine.plan import Candidate, plan
from engine.resolve import resolve
from engine.route import Route, routes
from engine.session import Session
from engine.topn import rank_first
from semantic.model import Model


@dataclass(frozen=True)
class Compiled:
    query: GeneratedQuery
    timings: tuple[tuple[str, float], ...]  # (stage, milliseconds)
    # The sources considered per fact query, chosen or not and why (`strata explain --why`).
    candidates: tuple[Candidate, ...] = ()
    # The source each fact query with a choice read, for the query log (engine/route.py).
    routes: tuple[Route, ...] = ()


def compile_request(
    text: str,
    model: Model,
    session: Session,
    dialect: str | None = None,
    navigate: bool = True,
    dense: bool = False,
) -> Compiled:
    """Compile Logical SQL for `session` to physical SQL for `dialect` (default: the database's).

    Every path to data (a query, explain, an export, a campaign list) compiles here, so the
    session's permissions and row filters cannot be skipped. `navigate=False` keeps every
    fact on its detail source (tests compare both paths); `dense=True` shows every period of the
    calendar, with facts or not, when the request's attributes are all time columns.

    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> model = load_model("models/demo")
    >>> c = compile_request('SELECT "Time"."Year" FROM "Billing"', model, SYSTEM)
    >>> c.query.sql.startswith('SELECT "f0"."d0" AS "Year" FROM (SELECT "calendar"."year"')
    True
    >>> [stage for stage, _ in c.timings]
    ['parse', 'resolve', 'plan', 'generate']
    """
    clock = time.perf_counter
    t0 = clock()
    request = parse(text)
    t1 = clock()
    try:
        resolved = resolve(request, model, session)
        t2 = clock()
        planned = rank_first(plan(resolved, model, navigate, dense), model)
        t3 = clock()
        query = generate(planned, model, dialect or model.database(planned.database).dialect)
        t4 = clock()
    except RecursionError:
        # sqlglot walks some trees recursively; a thousand nested conditions exhaust it.
        raise LogicalSQLError("the request is nested too deeply to compile") from None
    stages = ("parse", "resolve", "plan", "generate")
    marks = (t0, t1, t2, t3, t4)
    return Compiled(
        query,
        tuple((s, (marks[i + 1] - marks[i]) * 1000) for i, s in enumerate(stages)),
        planned.candidates,
        routes(planned, model),
    )
