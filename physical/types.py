"""Results typed by the model, not by the driver.

The same logical column comes back as Decimal from PostgreSQL, as a DATE from Spark where
DuckDB gives a timestamp, as an int128 from DuckDB's SUM. sqlglot's type annotation over
the model's physical column types says what each output column *is*; every engine's Arrow
table is then cast to that one schema, so pandas sees the same dtypes whatever ran it.
"""

from __future__ import annotations

import functools

import pyarrow as pa
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

T = exp.DataType.Type
_INTEGERS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.UTINYINT, T.USMALLINT, T.UINT}
_NUMBERS = {T.DECIMAL, T.DOUBLE, T.FLOAT, T.BIGDECIMAL, T.INT128, T.UBIGINT, T.UINT128}
_TEXT = {T.VARCHAR, T.TEXT, T.CHAR, T.NVARCHAR, T.NCHAR}


def schema_of(model) -> dict:
    """The model's physical column types, as sqlglot's optimizer wants them.

    >>> from semantic import load_model
    >>> schema_of(load_model("tests/models/tiny"))["invoice"]["billed"]
    'decimal(10,2)'
    """
    schema: dict = {}
    for table in model.tables:
        columns = dict(table.columns)
        if table.schema:
            schema.setdefault(table.schema, {})[table.table] = columns
        else:
            schema[table.table] = columns
    return schema


def column_types(tree: exp.Select, schema: dict) -> tuple[str, ...]:
    """The SQL type of each output column of `tree` ("" where it cannot be known).

    Annotates `tree` in place (types are read as DuckDB's, the model's own dialect).

    >>> from sqlglot import parse_one
    >>> tree = parse_one("SELECT SUM(t.n) AS s, t.d AS d, COUNT(*) AS c FROM t AS t GROUP BY 2")
    >>> column_types(tree, {"t": {"n": "decimal(10,2)", "d": "date"}})
    ('DECIMAL(10, 2)', 'DATE', 'BIGINT')
    """
    annotated = annotate_types(tree, schema=schema, dialect="duckdb")
    out = []
    for select in annotated.selects:
        kind = select.type
        out.append("" if kind is None or kind.is_type(T.UNKNOWN, T.NULL) else kind.sql())
    return tuple(out)


@functools.lru_cache(maxsize=1024)  # a model has few type names; sqlglot parses each once
def data_type(sql_type: str) -> exp.DataType:
    """sqlglot's type for the type name `sql_type`, parsed once per name and shared: read
    it, never change it or put it in a tree (copy it for that).

    >>> data_type("decimal(10,2)").sql(), data_type("INT").is_type(*exp.DataType.INTEGER_TYPES)
    ('DECIMAL(10, 2)', True)
    """
    return exp.DataType.build(sql_type)


def arrow_type(sql_type: str) -> pa.DataType | None:
    """The one Arrow type a column of this SQL type has in results, on every engine.

    Decimals become doubles: pandas would hold Python Decimal objects, which charts and most
    users handle badly (docs/decisions.md).

    >>> arrow_type("DECIMAL(12, 2)"), arrow_type("INT"), arrow_type("DATE"), arrow_type("")
    (DataType(double), DataType(int64), DataType(date32[day]), None)
    """
    if not sql_type:
        return None
    kind = data_type(sql_type).this
    if kind in _INTEGERS:
        return pa.int64()
    if kind in _NUMBERS:
        return pa.float64()
    if kind in _TEXT:
        return pa.string()
    if kind is T.BOOLEAN:
        return pa.bool_()
    if kind is T.DATE:
        return pa.date32()
    if kind in (T.TIMESTAMP, T.DATETIME, T.TIMESTAMPNTZ):
        return pa.timestamp("us")
    if kind in (T.TIMESTAMPTZ, T.TIMESTAMPLTZ):
        return pa.timestamp("us", tz="UTC")
    return None


def typed(table: pa.Table, sql_types: tuple[str, ...]) -> pa.Table:
    """`table` cast to the model's types; a column of unknown type gets the driver's type,
    with decimals as doubles and big integers as int64.

    >>> from decimal import Decimal
    >>> t = pa.table({"a": [Decimal("1.50")], "b": [Decimal("7")]})
    >>> typed(t, ("DECIMAL(10, 2)", "BIGINT")).schema.types
    [DataType(double), DataType(int64)]
    """
    columns = []
    for i, column in enumerate(table.columns):
        target = arrow_type(sql_types[i]) if i < len(sql_types) else None
        target = target or _fallback(column.type)
        columns.append(_cast(column, target) if target is not None else column)
    return pa.table(columns, names=table.column_names)


def _fallback(kind: pa.DataType) -> pa.DataType | None:
    if pa.types.is_decimal(kind):
        return pa.float64() if kind.scale > 0 else pa.int64()
    if pa.types.is_integer(kind):
        return pa.int64()
    if pa.types.is_floating(kind):
        return pa.float64()
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        return pa.timestamp("us", tz="UTC")
    return None


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), target)
    if pa.types.is_timestamp(column.type) and column.type.tz and target.tz is None:
        # A wall-clock time in UTC (the sessions run in UTC), as DuckDB returns it.
        column = column.cast(pa.timestamp(column.type.unit))
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # The model's type and the engine's value disagree (a fraction the model calls an
        # integer): keep the value rather than lose it.
        fallback = _fallback(column.type)
        return column.cast(fallback) if fallback is not None else column
