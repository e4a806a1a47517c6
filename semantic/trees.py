"""Expression trees kept by the model and by requests, made cheap to copy."""

from __future__ import annotations

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
