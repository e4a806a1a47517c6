"""A mapped field as SQL: its cleaned value, whether it is valid, and why a row is rejected.

Templates are constants; a mapping's arguments (date formats, country codes) enter them only
as sqlglot literals, never as text.

>>> from customers.mapping import FieldMap
>>> sql = field_sql(FieldMap("phone", "Mobitel", ("phone:387",)), exp.column("c0"))
>>> import duckdb
>>> duckdb.sql(f"SELECT {sql.value.sql('duckdb')} FROM (SELECT '061 234-567' AS c0)").fetchall()
[('+38761234567',)]
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from customers.attributes import ATTRIBUTES, Kind
from customers.mapping import FieldMap, OnError

DEFAULT_COUNTRY_CODE = "387"  # the demo utility's country; `phone:CC` overrides it per field
# Deliberately plain: a syntax check, not RFC 5322. One @, a dot in the domain, no spaces.
EMAIL_PATTERN = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# E.164: a plus, a country code not starting with 0, at most 15 digits in all.
E164_PATTERN = r"\+[1-9][0-9]{7,14}"


def _t(template: str) -> exp.Expression:
    return sqlglot.parse_one(template, dialect="duckdb")


_TEXT = {
    "trim": _t("TRIM(:x)"),
    "upper": _t("UPPER(:x)"),
    "lower": _t("LOWER(:x)"),
    "title": _t(
        "ARRAY_TO_STRING(LIST_TRANSFORM(STRING_SPLIT(LOWER(:x), ' '),"
        " w -> UPPER(w[1]) || w[2:]), ' ')"
    ),
}
_DATE = _t("TRY_CAST(TRY_STRPTIME(:x, :fmt) AS DATE)")
_ISO_DATE = _t("TRY_CAST(:x AS DATE)")
_PHONE_DIGITS = _t("REGEXP_REPLACE(:x, '[^0-9+]', '', 'g')")
_PHONE = _t(
    "CASE WHEN :d LIKE '+%' THEN '+' || REPLACE(SUBSTR(:d, 2), '+', '')"
    " WHEN :d LIKE '00%' THEN '+' || SUBSTR(:d, 3)"
    " WHEN :d LIKE '0%' THEN '+' || :cc || SUBSTR(:d, 2)"
    " ELSE '+' || :cc || :d END"
)
_MATCHES = _t("REGEXP_FULL_MATCH(:x, :pattern)")
_EMPTY_TO_NULL = _t("NULLIF(TRIM(:x), '')")


@dataclass(frozen=True)
class FieldSQL:
    value: exp.Expression  # the cleaned value (NULL when empty or unreadable and not kept)
    invalid: exp.Expression  # TRUE when a non-empty source value could not be read
    reason: exp.Expression  # the rejection reason for this field, NULL when the row may pass


def field_sql(field: FieldMap, source: exp.Expression) -> FieldSQL:
    """The SQL that cleans one mapped field from the raw text column `source`."""
    raw = _fill(_EMPTY_TO_NULL, x=source)
    value, ok = raw, exp.true()
    for transform in field.transforms:
        name, _, arg = transform.partition(":")
        if name in _TEXT:
            value = _fill(_EMPTY_TO_NULL, x=_fill(_TEXT[name], x=value))
        elif name == "date":
            value = _fill(_DATE, x=value, fmt=arg)
            ok = exp.and_(ok, value.is_(exp.null()).not_())
        elif name == "phone":
            digits = _fill(_PHONE_DIGITS, x=value)
            value = _fill(_PHONE, d=digits, cc=arg or DEFAULT_COUNTRY_CODE)
            ok = exp.and_(ok, _fill(_MATCHES, x=value, pattern=E164_PATTERN))
        elif name == "email":
            value = _fill(_TEXT["lower"], x=_fill(_TEXT["trim"], x=value))
            ok = exp.and_(ok, _fill(_MATCHES, x=value, pattern=EMAIL_PATTERN))
    if ATTRIBUTES[field.target].kind is Kind.DATE and not any(
        t.startswith("date:") for t in field.transforms
    ):
        # A date column without a format must already be ISO (YYYY-MM-DD).
        value = _fill(_ISO_DATE, x=value)
        ok = exp.and_(ok, value.is_(exp.null()).not_())
    invalid = exp.and_(raw.is_(exp.null()).not_(), exp.not_(exp.paren(ok)))
    invalid = exp.func("COALESCE", invalid, exp.true())
    clean = exp.Case(
        ifs=[exp.If(this=invalid.copy(), true=_on_error_value(field, raw))], default=value
    )
    reasons = []
    if field.on_error is OnError.REJECT:
        what = "a date" if ATTRIBUTES[field.target].kind is Kind.DATE else f"a valid {field.target}"
        fmt = next((t[5:] for t in field.transforms if t.startswith("date:")), "")
        detail = f" as {fmt}" if fmt else ""
        message = exp.DPipe(
            this=exp.Literal.string(f"{field.target} ({field.column}): '"),
            expression=exp.DPipe(
                this=raw.copy(), expression=exp.Literal.string(f"' is not {what}{detail}")
            ),
        )
        reasons.append(exp.If(this=invalid.copy(), true=message))
    if field.required:
        message = exp.Literal.string(f"{field.target} ({field.column}) is required but empty")
        reasons.append(exp.If(this=raw.copy().is_(exp.null()), true=message))
    reason = exp.Case(ifs=reasons) if reasons else exp.null()
    return FieldSQL(clean, invalid, reason)


def _on_error_value(field: FieldMap, raw: exp.Expression) -> exp.Expression:
    if field.on_error is OnError.KEEP:
        return raw.copy()
    return exp.null()


def _fill(template: exp.Expression, **values: object) -> exp.Expression:
    # copy(): templates are module constants and replace_placeholders edits in place.
    return exp.replace_placeholders(template.copy(), **values)
