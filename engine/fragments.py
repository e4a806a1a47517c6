"""Which fragments of a fragmented source a request needs: a fragment whose condition cannot
hold together with the request's conditions is left out of the UNION ALL.

Only plain comparisons of one column with constants are reasoned about (=, <, <=, >, >=,
BETWEEN, IN); anything else keeps the fragment, so a fragment is dropped only when it
provably holds no row the request reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def may_overlap(fragment: exp.Expression, filters: Iterable[exp.Expression]) -> bool:
    """Whether some row could satisfy both `fragment` and every condition of `filters`.

    >>> import sqlglot
    >>> c = sqlglot.parse_one
    >>> may_overlap(c("y <= 2024"), [c("y = 2025")])
    False
    >>> may_overlap(c("y <= 2024"), [c("y BETWEEN 2024 AND 2026")])
    True
    >>> may_overlap(c("y >= 2025"), [c("y IN (2023, 2024)")])
    False
    >>> may_overlap(c("y >= 2025"), [c("UPPER(z) = 'A'")])
    True
    """
    bounds: dict[str, _Range] = {}
    for condition in [*_conjuncts(fragment), *(c for f in filters for c in _conjuncts(f))]:
        found = _constraint(condition)
        if found is None:
            continue
        key, constraint = found
        current = bounds.setdefault(key, _Range())
        if not current.add(*constraint):
            return True  # values of different types: cannot tell
        if current.empty():
            return False
    return True


class _Range:
    def __init__(self):
        self.low = self.high = None  # (value, inclusive)
        self.members: set | None = None

    def add(self, kind: str, value) -> bool:
        try:
            if kind == "in_range":
                return self.add("low", (value[0], True)) and self.add("high", (value[1], True))
            if kind == "in":
                self.members = set(value) if self.members is None else self.members & set(value)
            elif kind == "low" and _tighter(value, self.low, above=True):
                self.low = value
            elif kind == "high" and _tighter(value, self.high, above=False):
                self.high = value
            self.empty()
        except TypeError:
            return False
        return True

    def _inside(self, v) -> bool:
        if self.low is not None and (v < self.low[0] or (v == self.low[0] and not self.low[1])):
            return False
        return not (
            self.high is not None and (v > self.high[0] or (v == self.high[0] and not self.high[1]))
        )

    def empty(self) -> bool:
        if self.members is not None:
            return not any(self._inside(v) for v in self.members)
        if self.low is None or self.high is None:
            return False
        (lo, lo_in), (hi, hi_in) = self.low, self.high
        return lo > hi or (lo == hi and not (lo_in and hi_in))


def _tighter(new: tuple, old: tuple | None, above: bool) -> bool:
    """Whether bound `new` (value, inclusive) narrows the range more than `old`."""
    if old is None:
        return True
    if new[0] == old[0]:
        return not new[1]
    return new[0] > old[0] if above else new[0] < old[0]


def _conjuncts(tree: exp.Expression) -> list[exp.Expression]:
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif isinstance(node, exp.And):
            stack.extend((node.this, node.expression))
        else:
            found.append(node)
    return found


def _constant(node: exp.Expression):
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else float(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -float(node.this.this)
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        return node.this.this  # a date as text: ISO dates compare correctly as strings
    raise ValueError


def _constraint(condition: exp.Expression):
    """(column key, (kind, value)) for a plain comparison, else None."""
    try:
        if isinstance(condition, exp.In) and isinstance(condition.this, exp.Column):
            if condition.args.get("query") or condition.args.get("unnest"):
                return None
            values = [_constant(v) for v in condition.expressions]
            return condition.this.sql(), ("in", values)
        if isinstance(condition, exp.Between) and isinstance(condition.this, exp.Column):
            low, high = _constant(condition.args["low"]), _constant(condition.args["high"])
            return condition.this.sql(), ("in_range", (low, high))
        kind = type(condition)
        if kind not in _FLIP:
            return None
        left, right = condition.this, condition.expression
        if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
            left, right, kind = right, left, _FLIP[kind]
        if not isinstance(left, exp.Column):
            return None
        value = _constant(right)
    except (ValueError, KeyError):
        return None
    key = left.sql()
    if kind is exp.EQ:
        return key, ("in", [value])
    if kind in (exp.GT, exp.GTE):
        return key, ("low", (value, kind is exp.GTE))
    return key, ("high", (value, kind is exp.LTE))
