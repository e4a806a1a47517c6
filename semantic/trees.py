"""Expression trees kept by the model and by requests, made cheap to copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlglot import exp


def without_positions(tree: exp.Expression) -> exp.Expression:
    """`tree` with the parser's source positions dropped from every node, in place.

    sqlglot keeps a dict of line, column and offsets on each identifier and literal, and
    every copy deep-copies those dicts one by one: two thirds of the time to copy a
    condition, and a request's compile copies its model expressions dozens of times. Only a
    parse error reports a position, and it is raised before any tree is kept.

    >>> import sqlglot
    >>> tree = without_positions(sqlglot.parse_one("orders.o_totalprice > 10"))
    >>> [n.meta for n in tree.walk() if n.meta], tree.sql()
    ([], 'orders.o_totalprice > 10')
    """
    for node in tree.walk():
        node._meta = None
    return tree


E = TypeVar("E", bound=exp.Expression)


def copied(tree: E) -> E:
    """A deep copy of `tree`, as `tree.copy()` makes it, without `copy.deepcopy`'s bookkeeping.

    `Expression.copy()` calls `copy.deepcopy`, whose memo dictionary and keep-alive list
    cost more than the copy itself for the small trees a compile copies most (a column:
    7.6 us through `copy()`, 2.1 us here). sqlglot's `__deepcopy__` never reads the memo: it
    walks the tree with its own stack.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("a.b + 1")
    >>> twin = copied(tree)
    >>> twin == tree, twin is tree, twin.this.parent is twin
    (True, False, True)
    """
    return tree.__deepcopy__(None)


def transformed(tree: exp.Expression, swap: Callable[[exp.Expression], exp.Expression]):
    """`tree.transform(swap)` (the tree left alone, a changed copy returned), copied as
    `copied` does.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("a + 1")
    >>> one = lambda n: sqlglot.exp.Literal.number(2) if n.is_number else n
    >>> transformed(tree, one).sql(), tree.sql()
    ('a + 2', 'a + 1')
    """
    return copied(tree).transform(swap, copy=False)
