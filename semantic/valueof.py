"""`VALUEOF(NQ_SESSION.NAME)`: where a request or a row filter reads a session variable."""

from __future__ import annotations

from sqlglot import exp

SESSION = "NQ_SESSION"


def session_variable(node: exp.Expression) -> str | None:
    """The variable `node` reads, if it is a VALUEOF(NQ_SESSION.NAME) call.

    >>> import sqlglot
    >>> session_variable(sqlglot.parse_one("VALUEOF(NQ_SESSION.AREAS)"))
    'AREAS'
    >>> session_variable(sqlglot.parse_one("VALUEOF(x)")) is None
    True
    """
    if not (isinstance(node, exp.Anonymous) and node.name.upper() == "VALUEOF"):
        return None
    args = node.expressions
    if len(args) == 1 and isinstance(args[0], exp.Column) and args[0].table.upper() == SESSION:
        return args[0].name.upper()
    return None


def columns_outside_valueof(tree: exp.Expression) -> list[exp.Column]:
    """The column references of `tree`, leaving out the NQ_SESSION.NAME inside VALUEOF."""
    return [
        c
        for c in tree.find_all(exp.Column)
        if not (isinstance(c.parent, exp.Anonymous) and session_variable(c.parent))
    ]
