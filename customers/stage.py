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

from sqlglot import exp

from customers.attributes import ATTRIBUTE_NAMES
from customers.mapping import Mapping
from customers.transforms import field_sql


def stage_sql(mapping: Mapping, header: tuple[str, ...]) -> str:
    """SELECT … FROM chunk, for `mapping` over a file with `header`."""
    position = {name: i for i, name in enumerate(header)}
    by_target = {f.target: f for f in mapping.fields}
    values, reasons, flags = [], [exp.column("_shape")], {}
    for name in ATTRIBUTE_NAMES:
        field = by_target.get(name)
        if field is None:
            values.append(exp.alias_(exp.null(), name))
            continue
        sql = field_sql(field, exp.column(f"c{position[field.column]}"))
        values.append(exp.alias_(sql.value, name))
        reasons.append(sql.reason)
        flags[name] = sql.invalid
    for name in ("email", "phone"):
        flag = flags.get(name, exp.null())
        # Invalid only where a value was given: an empty e-mail is missing, not invalid.
        values.append(exp.alias_(flag, f"{name}_invalid"))
    raw = exp.Array(expressions=[exp.column(f"c{i}") for i in range(len(header))])
    inner = exp.select(
        exp.column("_row"),
        exp.column("_line"),
        *values,
        exp.alias_(
            exp.func(
                "LIST_FILTER",
                exp.Array(expressions=reasons),
                exp.Lambda(
                    this=exp.column("r").is_(exp.null()).not_(),
                    expressions=[exp.to_identifier("r")],
                ),
            ),
            "reasons",
        ),
        exp.alias_(raw, "raw"),
    ).from_("chunk")
    return inner.sql("duckdb")
