"""Make a generated tree mean the same on PostgreSQL and Spark as on DuckDB, or refuse it.

sqlglot writes every dialect from one tree, but some constructs come out silently wrong
(shared/notes/engines.md measured them on PostgreSQL 15 and Spark 4.3 with sqlglot 30.30):
Spark's `date - date` is an interval, its DAYOFWEEK counts from 1, its `CAST(2.5 AS INT)`
truncates, its month `DATEDIFF` counts whole months; PostgreSQL has no DATE_FROM_PARTS,
DAY_OF_WEEK or `round(double, int)`; QUALIFY is rewritten with ORDER BY and LIMIT in the
wrong place. Model expressions are DuckDB SQL, so DuckDB's meaning is the reference, and
each such construct is rewritten here into one that the fidelity tests
(tests/test_engines_fidelity.py) run on all three engines. What cannot be made portable is
refused at generation time, with the reason, rather than answered differently.
"""

from __future__ import annotations

import re
import threading

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.schema import MappingSchema

from engine.errors import LogicalSQLError
from physical.types import data_type, schema_of
from semantic.model import ColumnKind
from semantic.spec import Aggregation

# Functions sqlglot does not know (it passes them through by name): DuckDB's own, so they
# would fail, or worse, mean something else elsewhere.
_REFUSED = {exp.Qualify: "QUALIFY (its rewrite leaves ORDER BY and LIMIT before the filter)"}
# strftime patterns that every engine's formatting function writes the same way.
_FORMATS = {"%Y", "%m", "%d", "%H", "%M", "%S", "%b"}


def result_types(plan, model) -> tuple[str, ...]:
    """The SQL type of each visible output, from the model: "" where only the engine knows.

    A plain attribute has its physical column's type; a measure the type its aggregation
    gives (counts BIGINT, averages DOUBLE, sums of integers BIGINT, min, max and other sums
    the column's type). Anything else is typed from the driver's answer, normalised the same
    way on every engine (physical/types.py). This reads the plan, not the SQL: sqlglot's
    `annotate_types` would say more but costs 15-40 ms a request (a compile is about 2 ms).

    >>> from engine.parse import parse
    >>> from engine.plan import plan
    >>> from engine.resolve import resolve
    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> m = load_model("tests/models/tiny")
    >>> p = plan(resolve(parse('SELECT "Customer"."Name", "Facts"."Billed", "Facts"."kWh", '
    ...     '"Facts"."# Customers", "Facts"."Average kWh", "Facts"."Average Bill" FROM "Tiny"'),
    ...     m, SYSTEM), m)
    >>> result_types(p, m)
    ('varchar', 'decimal(10,2)', 'BIGINT', 'BIGINT', 'DOUBLE', '')
    """
    return tuple(_type(o.expr, model) for o in plan.request.outputs if not o.hidden)


def _type(tree: exp.Expression, model) -> str:
    if isinstance(tree, exp.Cast):
        return tree.to.sql("duckdb")
    if not isinstance(tree, exp.Column):
        return ""
    try:
        column = model.logical_column(tree.table, tree.name)
    except KeyError:
        return ""
    if column.kind is ColumnKind.derived:
        return ""
    physical = _physical_type(column.expr, model)
    aggregation = column.aggregation
    if aggregation is None or aggregation in (Aggregation.min, Aggregation.max):
        return physical
    if aggregation in (Aggregation.count, Aggregation.count_distinct):
        return "BIGINT"
    if aggregation is Aggregation.avg:
        return "DOUBLE"
    if physical and data_type(physical).is_type(*exp.DataType.INTEGER_TYPES):
        return "BIGINT"  # a sum of integers; DuckDB's is an int128, PostgreSQL's a numeric
    return physical


def _physical_type(tree: exp.Expression | None, model) -> str:
    if not isinstance(tree, exp.Column):
        return ""
    try:
        table = model.table(tree.table)
    except KeyError:
        return ""
    types = model.derived(("column types", table.name), lambda: dict(table.columns))
    return types.get(tree.name, "")


def annotate(tree: exp.Select, dialect: str, model) -> exp.Select:
    """Type annotations on the tree for a dialect other than DuckDB, in place.

    sqlglot then writes divisions without the double casts that PostgreSQL cannot round
    (engines.md Q06), and `portable` reads the types. DuckDB's tree is left alone: its SQL
    stays exactly as it was, and the 15-40 ms of annotation is paid only by the other
    engines, once per distinct request (the engine caches compiled requests).
    """
    if dialect in ("duckdb", "sqlite"):
        return tree
    with _lock:
        schema = _schemas.get(model.hash)
        if schema is None:
            schema = _schemas[model.hash] = MappingSchema(schema_of(model), dialect="duckdb")
    return annotate_types(tree, schema=schema, dialect="duckdb")


_schemas: dict[str, MappingSchema] = {}
_lock = threading.Lock()


def portable(tree: exp.Select, dialect: str) -> exp.Select:
    """Rewrite `tree` in place so that `dialect` computes what DuckDB computes.

    DuckDB's tree is returned unchanged. The tree should carry sqlglot's type annotations
    (engine/generate.py annotates it), which the days-between rewrite reads.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT dayofweek(d), make_date(2024, 2, 1) FROM t", "duckdb")
    >>> portable(tree, "postgres").sql("postgres")
    'SELECT CAST(EXTRACT(DOW FROM d) AS INT), MAKE_DATE(2024, 2, 1) FROM t'
    >>> portable(sqlglot.parse_one("SELECT CAST(x AS INT) FROM t"), "spark").sql("spark")
    'SELECT CAST(ROUND(x) AS INT) FROM t'
    """
    if dialect in ("duckdb", "sqlite"):
        return tree
    for node in list(tree.walk()):
        _refuse(node, dialect)
    rewrite = _REWRITES.get(dialect, {})
    for node in list(tree.walk()):
        for kind, function in rewrite.items():
            if isinstance(node, kind):
                replacement = function(node)
                if replacement is not node:
                    node.replace(replacement)
                break
    return tree


def _refuse(node: exp.Expression, dialect: str) -> None:
    for kind, what in _REFUSED.items():
        if isinstance(node, kind):
            raise LogicalSQLError(f"cannot generate {what} for {dialect} portably")
    if isinstance(node, exp.Anonymous):
        raise LogicalSQLError(
            f"function {node.name}() is not known to be portable to {dialect}; "
            "the model's expressions may use only functions sqlglot translates"
        )
    if isinstance(node, exp.TimeToStr):
        pattern = node.args["format"].name
        unknown = set(re.findall(r"%.", pattern)) - _FORMATS
        if unknown:
            raise LogicalSQLError(
                f"strftime pattern {', '.join(sorted(unknown))} is not portable to {dialect}; "
                f"use {' '.join(sorted(_FORMATS))}"
            )
    if isinstance(node, exp.DateDiff) and _unit(node) not in ("DAY", "MONTH", "YEAR"):
        raise LogicalSQLError(
            f"date_diff by {_unit(node).lower()} has no portable form for {dialect}; "
            "use days, months or years"
        )


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return (unit.name if unit is not None else "DAY").upper()


# ---------------------------------------------------------------- rewrites, by meaning


def _integer_cast(node: exp.Cast) -> exp.Expression:
    """CAST(2.5 AS INT) rounds on DuckDB and PostgreSQL, truncates on Spark: round first."""
    if not node.to.is_type(*exp.DataType.INTEGER_TYPES):
        return node
    value = node.this
    if value.type is not None and value.type.is_type(*exp.DataType.INTEGER_TYPES):
        return node
    return exp.Cast(this=exp.Round(this=value), to=node.to, safe=node.args.get("safe"))


def _day_of_week(dialect: str):
    def rewrite(node: exp.DayOfWeek) -> exp.Expression:
        day = node.this
        if dialect == "postgres":  # DuckDB and PostgreSQL's dow: 0 = Sunday
            return _int(exp.Extract(this=exp.var("DOW"), expression=day))
        return exp.Sub(this=exp.DayOfWeek(this=day), expression=exp.Literal.number(1))

    return rewrite


def _iso_day_of_week(dialect: str):
    def rewrite(node: exp.DayOfWeekIso) -> exp.Expression:
        day = node.this
        if dialect == "postgres":
            return _int(exp.Extract(this=exp.var("ISODOW"), expression=day))
        # Spark: 1 = Sunday .. 7 = Saturday; ISO: 1 = Monday .. 7 = Sunday.
        shifted = exp.Paren(
            this=exp.Add(this=exp.DayOfWeek(this=day), expression=exp.Literal.number(5))
        )
        return exp.Add(
            this=exp.Paren(this=exp.Mod(this=shifted, expression=exp.Literal.number(7))),
            expression=exp.Literal.number(1),
        )

    return rewrite


def _make_date(node: exp.DateFromParts) -> exp.Expression:
    # sqlglot writes DATE_FROM_PARTS for PostgreSQL, which has make_date.
    return exp.Anonymous(
        this="MAKE_DATE",
        expressions=[node.args.get("year"), node.args.get("month"), node.args.get("day")],
    )


def _date_diff(node: exp.DateDiff) -> exp.Expression:
    """Boundaries crossed, as DuckDB counts (2024-01-31 to 2024-03-01 is 2 months); Spark
    counts whole months elapsed (1). Years and months from EXTRACT are the same everywhere."""
    unit, start, end = _unit(node), node.expression, node.this
    if unit == "DAY":
        return node
    years = exp.Sub(this=_part("YEAR", end), expression=_part("YEAR", start))
    if unit == "YEAR":
        return years
    months = exp.Sub(this=_part("MONTH", end), expression=_part("MONTH", start))
    return exp.Add(
        this=exp.Mul(this=exp.Paren(this=years), expression=exp.Literal.number(12)),
        expression=exp.Paren(this=months),
    )


def _days_between(node: exp.Sub) -> exp.Expression:
    """`date - date` is a number of days on DuckDB and PostgreSQL, an interval on Spark."""
    left, right = node.this, node.expression
    if all(side.type is not None and side.type.is_type("date") for side in (left, right)):
        return exp.DateDiff(this=left, expression=right, unit=exp.var("DAY"))
    return node


def _round_numeric(node: exp.Round) -> exp.Expression:
    """PostgreSQL has round(numeric, int) but no round(double precision, int)."""
    if node.args.get("decimals") is None or isinstance(node.this, exp.Cast):
        return node
    node.set("this", exp.Cast(this=node.this, to=exp.DataType.build("decimal")))
    return node


def _quantile_spark(node: exp.PercentileCont) -> exp.Expression:
    # Spark 4.3 rejects PERCENTILE_CONT(x, p); its PERCENTILE interpolates the same way.
    return exp.Anonymous(
        this="PERCENTILE", expressions=[_double(node.this), node.args["expression"]]
    )


def _quantile_postgres(node: exp.PercentileCont) -> exp.Expression:
    # Continuous quantiles of doubles: DuckDB rounds a DECIMAL's quantile to its scale.
    node.set("this", _double(node.this))
    return node


def _median_postgres(node: exp.Median) -> exp.Expression:
    return exp.PercentileCont(this=_double(node.this), expression=exp.Literal.number(0.5))


def _full_join_keys(node: exp.Join) -> exp.Expression:
    """PostgreSQL runs a FULL JOIN only on equalities it can hash or merge, which
    `a IS NOT DISTINCT FROM b` is not. `(a IS NULL) = (b IS NULL) AND COALESCE(a, z) =
    COALESCE(b, z)` is two such equalities and means the same: NULL meets only NULL, and
    the stand-in z never meets a real value, because the first equality tells them apart."""
    if node.side != "FULL" or node.args.get("on") is None:
        return node
    for test in list(node.args["on"].find_all(exp.NullSafeEQ)):
        left, right = test.this, test.expression
        stand_in = _stand_in(left.type or right.type)
        test.replace(
            exp.and_(
                exp.EQ(
                    this=exp.Paren(this=exp.Is(this=left.copy(), expression=exp.Null())),
                    expression=exp.Paren(this=exp.Is(this=right.copy(), expression=exp.Null())),
                ),
                exp.EQ(
                    this=exp.Coalesce(this=stand_in(left), expressions=[stand_in(None)]),
                    expression=exp.Coalesce(this=stand_in(right), expressions=[stand_in(None)]),
                ),
                copy=False,
            )
        )
    return node


def _stand_in(kind: exp.DataType | None):
    """f(value) for one side of the COALESCE, f(None) for the stand-in of the same type."""
    if kind is not None and kind.is_type(*exp.DataType.TEXT_TYPES):
        return lambda v: v if v is not None else exp.Literal.string("")
    if kind is not None and kind.is_type(*exp.DataType.NUMERIC_TYPES):
        return lambda v: v if v is not None else exp.Literal.number(0)
    if kind is not None and kind.is_type("date"):
        return lambda v: v if v is not None else exp.cast(exp.Literal.string("1970-01-01"), "date")
    # Unknown or other types: compare as text (slower, always right).
    return lambda v: exp.cast(v, "text") if v is not None else exp.Literal.string("")


def _part(part: str, value: exp.Expression) -> exp.Expression:
    return _int(exp.Extract(this=exp.var(part), expression=value.copy()))


def _int(value: exp.Expression) -> exp.Expression:
    return exp.Cast(this=value, to=exp.DataType.build("int"))


def _double(value: exp.Expression) -> exp.Expression:
    return exp.Cast(this=value, to=exp.DataType.build("double"))


_REWRITES = {
    "postgres": {
        exp.DayOfWeek: _day_of_week("postgres"),
        exp.DayOfWeekIso: _iso_day_of_week("postgres"),
        exp.DateFromParts: _make_date,
        exp.DateDiff: _date_diff,
        exp.Round: _round_numeric,
        exp.PercentileCont: _quantile_postgres,
        exp.Median: _median_postgres,
        exp.Cast: _integer_cast,
        exp.Join: _full_join_keys,
    },
    "spark": {
        exp.DayOfWeek: _day_of_week("spark"),
        exp.DayOfWeekIso: _iso_day_of_week("spark"),
        exp.DateDiff: _date_diff,
        exp.Sub: _days_between,
        exp.PercentileCont: _quantile_spark,
        exp.Cast: _integer_cast,
    },
    "trino": {exp.Cast: _integer_cast},
}
