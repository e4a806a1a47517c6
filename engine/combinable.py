"""Which columns can join the current selection, and why the others cannot.

The answer comes from compiling the selection with each candidate added, so the builder greys
out exactly what the engine would refuse, with the engine's own reason.

>>> from engine.session import SYSTEM
>>> from semantic import load_model
>>> model = load_model("models/demo")
>>> reasons = combinable(model, "Campaigns", (("Facts", "# Customers"),), SYSTEM)
>>> reasons[("Customer", "Distribution Area")] is None
True
>>> print(reasons[("E-Services", "Service")].splitlines()[0])  # doctest: +ELLIPSIS
"Facts"."# Customers" cannot be combined with "E-Services"."Service"...
"""

from __future__ import annotations

from sqlglot import exp

from engine.columns import column_tree
from engine.errors import LogicalSQLError
from engine.parse import LogicalSQL, parse
from engine.plan import plan
from engine.resolve import resolve
from engine.session import Session
from semantic.model import Model


def combinable(
    model: Model, subject_area: str, selected: tuple[tuple[str, str], ...], session: Session
) -> dict[tuple[str, str], str | None]:
    """For every column `session` sees in `subject_area`: None if it can be added to
    `selected`, else the reason. Selected columns map to None."""
    out: dict[tuple[str, str], str | None] = {}
    for folder in column_tree(model, subject_area, session):
        for column in folder.columns:
            ref = (column.folder, column.name)
            if not selected or ref in selected:
                out[ref] = None
                continue
            out[ref] = _refusal(model, subject_area, (*selected, ref), session)
    return out


def _refusal(
    model: Model, subject_area: str, refs: tuple[tuple[str, str], ...], session: Session
) -> str | None:
    select = exp.Select(expressions=[exp.column(c, table=f, quoted=True) for f, c in refs]).from_(
        exp.to_table(exp.to_identifier(subject_area, quoted=True).sql())
    )
    try:
        # Planning is where a combination is refused; generating SQL would add nothing.
        plan(resolve(parse(select.sql(dialect=LogicalSQL)), model, session), model)
    except LogicalSQLError as e:
        return str(e)
    return None
