"""SQL text written so that no division and no cast can raise an error, in the same pass.

Every `x / y` and `x % y` is written with `NULLIF(y, 0)`: no engine then fails or returns
infinity. On DuckDB every CAST is written as TRY_CAST: a failed cast is NULL, not an error
quoting the value. DuckDB may test a user's condition on a row before the row filter
removes it, so an error would reveal a hidden row. (SQLite has no TRY_CAST, and its casts
never fail.)

The rewrite is done by the generator as it writes each node, not by a walk of the finished
tree first: the generator reaches every node of the tree (that is how the text is made), so
no division or cast can reach the SQL by a path that skipped the rewrite, and the separate
walk (6-7 % of the TPC-H Europe question's compile) is gone. The tree is changed as the
walk changed it, so `GeneratedQuery.pretty` writes the same SQL.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

DIALECTS = ("duckdb", "sqlite")  # the others rewrite the tree first (engine/dialects.py)


def written(tree: exp.Expression, dialect: str) -> str:
    """`tree` as SQL for `dialect` (one of `DIALECTS`), identifiers quoted, divisions
    and (on DuckDB) casts made safe. `tree` is changed as the text says.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT a / b, a % 2, a / 0, CAST(c AS INT) FROM t")
    >>> written(tree, "duckdb")
    'SELECT "a" / NULLIF("b", 0), "a" % 2, "a" / NULLIF(0, 0), TRY_CAST("c" AS INT) FROM "t"'
    >>> tree.sql("duckdb")
    'SELECT a / NULLIF(b, 0), a % 2, a / NULLIF(0, 0), TRY_CAST(c AS INT) FROM t'
    >>> written(sqlglot.parse_one("SELECT a % b, CAST(c AS INT)"), "sqlite")
    'SELECT "a" % NULLIF("b", 0), CAST("c" AS INTEGER)'
    """
    found = _WRITERS.get(dialect)
    if found is None:
        found = _WRITERS[dialect] = _writer(Dialect.get_or_raise(dialect), dialect == "duckdb")
    return _generator(*found, identify=True).generate(tree, copy=False)


def _generator(dialect: Dialect, dispatch: dict, **options: object):
    generator = dialect.generator(**options)
    # sqlglot's generator is compiled and cannot be subclassed from Python; it looks each
    # node's writer up in this table (by the node's exact class), so the safe writers go there.
    generator._dispatch = dispatch
    return generator


_WRITERS: dict[str, tuple[Dialect, dict]] = {}


def safe_divisor(node: exp.Div | exp.Mod) -> None:
    """`NULLIF(divisor, 0)` in place of `node`'s divisor, unless it is a nonzero number."""
    divisor = node.expression
    literal = isinstance(divisor, exp.Literal) and not divisor.is_string
    if not isinstance(divisor, exp.Nullif) and not (literal and float(divisor.this) != 0):
        node.set("expression", exp.Nullif(this=divisor, expression=exp.Literal.number(0)))


def _writer(dialect: Dialect, try_cast: bool) -> tuple[Dialect, dict]:
    """`dialect` and its generator's table of writers, with divisions (and casts) safe."""
    dispatch = dict(dialect.generator()._dispatch)
    for kind in _with_subclasses(exp.Div) + _with_subclasses(exp.Mod):

        def divide(self, node, write: Callable = dispatch[kind]) -> str:
            safe_divisor(node)
            return write(self, node)

        dispatch[kind] = divide
    if try_cast:

        def cast(self, node) -> str:
            safe = exp.TryCast(**node.args)
            node.replace(safe)
            return self.sql(safe)

        for kind in _with_subclasses(exp.Cast):
            if not issubclass(kind, exp.TryCast):
                dispatch[kind] = cast
    # The table is sqlglot's internals: if a new version stopped reading it, the SQL would
    # silently lose its guards. Checked once per dialect, loudly.
    probe = exp.Div(this=exp.column("a"), expression=exp.column("b"))
    check = exp.Cast(this=probe, to=exp.DataType.build("int"))
    text = _generator(dialect, dispatch).generate(check, copy=False)
    if "NULLIF" not in text or (try_cast and "TRY_CAST" not in text):
        raise RuntimeError(f"sqlglot no longer writes through its dispatch table: {text}")
    return dialect, dispatch


def _with_subclasses(kind: type) -> list[type]:
    found = [kind]
    for sub in kind.__subclasses__():
        found += _with_subclasses(sub)
    return found
