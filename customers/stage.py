"""The SQL that validates and cleans one chunk of raw CSV rows.

A chunk is an Arrow table `chunk` with the raw text columns c0..cN (in header order), the
row's number `_row`, its first physical line `_line`, and `_shape`, a reason set by the reader
when the row's field count is wrong. The query gives, per row, its number and line, every
customer attribute cleaned, the e-mail and phone validity flags, its reasons (empty: accepted)
and its raw values; it is pure text generated from the mapping, with no parameters.

>>> from customers.mapping import FieldMap, Mapping
>>> m = Mapping("m", (FieldMap("email", "Mail", ("email",)),))
>>> "REGEXP_FULL_MATCH" in stage_sql(m, ("Id", "Mail"))
True
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from customers.attributes import ATTRIBUTE_NAMES
from customers.mapping import Mapping
from customers.transforms import FieldSQL, field_sql


def stage_sql(
    mapping: Mapping, header: tuple[str, ...], carry: Sequence[str] = ("_row", "_line")
) -> str:
    """SELECT … FROM chunk, for `mapping` over a file with `header`; the `carry` columns of
    `chunk` come out first, unchanged (the CSV reader carries what it needs to number rows)."""
    position = {name: i for i, name in enumerate(header)}
    by_target = {f.target: f for f in mapping.fields}
    fields: list[FieldSQL] = []
    values, reasons, flags = [], [exp.column("_shape")], {}
    for name in ATTRIBUTE_NAMES:
        field = by_target.get(name)
        if field is None:
            values.append(exp.alias_(exp.null(), name))
            continue
        sql = field_sql(field, exp.column(f"c{position[field.column]}"), name)
        fields.append(sql)
        values.append(exp.alias_(sql.value, name))
        reasons.append(sql.reason)
        flags[name] = sql.invalid
    for name in ("email", "phone"):
        flag = flags.get(name, exp.null())
        # Invalid only where a value was given: an empty e-mail is missing, not invalid.
        values.append(exp.alias_(flag, f"{name}_invalid"))
    raw = exp.Array(expressions=[exp.column(f"c{i}") for i in range(len(header))])
    reasons = [r for r in reasons if not isinstance(r, exp.Null)]  # fields that never reject
    every = exp.func(
        "LIST_FILTER",
        exp.Array(expressions=reasons),
        exp.Lambda(
            this=exp.column("r").is_(exp.null()).not_(), expressions=[exp.to_identifier("r")]
        ),
    )
    # Most rows pass: a list is built and filtered only for a row that has a reason.
    passes = exp.and_(*(r.copy().is_(exp.null()) for r in reasons))
    no_reasons = exp.cast(exp.Array(expressions=[]), "VARCHAR[]", dialect="duckdb")
    reasons_list = exp.Case(ifs=[exp.If(this=passes, true=no_reasons)], default=every)
    select = [
        *(exp.column(c) for c in carry),
        *values,
        exp.alias_(reasons_list, "reasons"),
        *(exp.column(f"c{i}") for i in range(len(header))),
    ]
    # The raw values are kept for rejected rows only (the rejects file shows them): building
    # a list per accepted row cost as much as cleaning two fields.
    outer = exp.select(
        exp.Star(except_=[exp.column(f"c{i}") for i in range(len(header))]),
        exp.alias_(
            exp.Case(ifs=[exp.If(this=exp.func("LEN", exp.column("reasons")).__gt__(0), true=raw)]),
            "raw",
        ),
    ).from_(exp.maybe_parse(stacked_sql(fields, "chunk", select), dialect="duckdb").subquery("r"))
    return outer.sql("duckdb")


def stacked_sql(fields: Sequence[FieldSQL], source: str, select: Sequence[exp.Expression]) -> str:
    """`select` over `source` with the fields' layers stacked as subqueries in between.

    Layer k holds every field's k-th step; a field with fewer steps adds nothing there.

    >>> stacked_sql([], "t", [exp.column("a")])
    'SELECT a FROM t'
    """
    query: exp.Expression = exp.to_table(source)
    depth = max((len(f.layers) for f in fields), default=0)
    for k in range(depth):
        layer = [f.layers[k] for f in fields if k < len(f.layers)]
        added = [exp.alias_(e.copy(), n) for columns in layer for n, e in columns]
        query = exp.select(exp.Star(), *added).from_(_from(query, k))
    return exp.select(*select).from_(_from(query, depth)).sql("duckdb")


def _from(query: exp.Expression, k: int) -> exp.Expression:
    return query if isinstance(query, exp.Table) else query.subquery(f"_layer{k}")
