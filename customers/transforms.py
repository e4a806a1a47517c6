"""A mapped field as SQL: its cleaned value, whether it is valid, and why a row is rejected.

Templates are constants; a mapping's arguments (date formats, country codes) enter them only
as sqlglot literals, never as text. A field is computed in layers (`FieldSQL.layers`), each
step a column of its own that the next layer reads: an expensive step (a regular expression,
a date parse) runs once per row, not once per place that uses its result.

>>> from customers.mapping import FieldMap
>>> from customers.stage import stacked_sql
>>> sql = field_sql(FieldMap("phone", "Mobitel", ("phone:387",)), exp.column("c0"), "p")
>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE t AS SELECT '061 234-567' AS c0")
>>> con.sql(stacked_sql([sql], "t", [sql.value])).fetchall()
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
}
# Title case of an already lower-cased value. Most names are one or two words: the list
# functions (split, a lambda per word, join) cost ten times the plain string functions, so
# they run only on values of three words or more; all branches agree where they overlap.
# SUBSTR, not a slice (`x[2:]`): the same characters, at half the CPU.
_TITLE = _t(
    "CASE WHEN NOT CONTAINS(:x, ' ') THEN UPPER(LEFT(:x, 1)) || SUBSTR(:x, 2)"
    " WHEN NOT CONTAINS(SUBSTR(:x, STRPOS(:x, ' ') + 1), ' ') THEN UPPER(LEFT(:x, 1))"
    " || SUBSTR(:x, 2, STRPOS(:x, ' ') - 1) || UPPER(SUBSTR(:x, STRPOS(:x, ' ') + 1, 1))"
    " || SUBSTR(:x, STRPOS(:x, ' ') + 2)"
    " ELSE ARRAY_TO_STRING(LIST_TRANSFORM(STRING_SPLIT(:x, ' '),"
    " w -> UPPER(LEFT(w, 1)) || SUBSTR(w, 2)), ' ') END"
)
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
# TRIM removes Unicode spaces (Zs) and copies every value it is given: a tenth of a CPU
# second per field and million rows. An ASCII value (as many bytes as characters) can only
# start or end with the plain space among them, so one that does not is kept as it is.
_EMPTY_TO_NULL = _t(
    "CASE WHEN STRLEN(:x) = LENGTH(:x) AND NOT STARTS_WITH(:x, ' ') AND NOT ENDS_WITH(:x, ' ')"
    " THEN NULLIF(:x, '') ELSE NULLIF(TRIM(:x), '') END"
)


@dataclass(frozen=True)
class FieldSQL:
    # Columns to add, layer by layer: an expression reads the source columns and the columns
    # of earlier layers only. The last layer holds the field's `invalid` flag.
    layers: tuple[tuple[tuple[str, exp.Expression], ...], ...]
    value: exp.Expression  # the cleaned value (NULL when empty or unreadable and not kept)
    invalid: exp.Expression  # TRUE when a non-empty source value could not be read
    reason: exp.Expression  # the rejection reason for this field, NULL when the row may pass


def field_sql(field: FieldMap, source: exp.Expression, prefix: str) -> FieldSQL:
    """The SQL that cleans one mapped field from the raw text column `source`; the columns
    it adds are named `_{prefix}_…`."""
    steps: list[tuple[str, exp.Expression]] = []

    def step(template: exp.Expression, **values: object) -> str:
        name = f"_{prefix}_{len(steps)}"
        steps.append((name, _fill(template, **values)))
        return name

    def col(name: str) -> exp.Expression:
        return exp.column(name)  # a new node per use: a sqlglot node has one parent

    raw = step(_EMPTY_TO_NULL, x=source)
    # `clean`: the value is text with no spaces at either end, and NULL rather than empty.
    # Trimming it again or emptying it to NULL changes nothing, so those steps are left out
    # (upper, lower and title case turn no character into a space and none into nothing).
    value, checks, clean = raw, [], True
    for transform in field.transforms:
        name, _, arg = transform.partition(":")
        if name == "title":
            lower = step(_text_step("lower", col(value), clean))
            value, clean = step(_TITLE, x=col(lower)), True
        elif name == "trim" and clean:
            continue  # the value is trimmed already
        elif name in _TEXT:
            value, clean = step(_text_step(name, col(value), clean)), True
        elif name == "date":
            value, clean = step(_DATE, x=col(value), fmt=arg), False
            checks.append(col(value).is_(exp.null()).not_())
        elif name == "phone":
            digits = step(_PHONE_DIGITS, x=col(value))
            value, clean = step(_PHONE, d=col(digits), cc=arg or DEFAULT_COUNTRY_CODE), False
            checks.append(_fill(_MATCHES, x=col(value), pattern=E164_PATTERN))
        elif name == "email":
            trimmed = col(value) if clean else _fill(_TEXT["trim"], x=col(value))
            value = step(_TEXT["lower"], x=trimmed)  # clean stays what it was
            checks.append(_fill(_MATCHES, x=col(value), pattern=EMAIL_PATTERN))
    if ATTRIBUTES[field.target].kind is Kind.DATE and not any(
        t.startswith("date:") for t in field.transforms
    ):
        # A date column without a format must already be ISO (YYYY-MM-DD).
        value = step(_ISO_DATE, x=col(value))
        checks.append(col(value).is_(exp.null()).not_())
    layers = tuple((s,) for s in steps)  # a step in a layer of its own: it reads the one before
    if not checks:
        # Nothing can make the value unreadable: the field never rejects its row.
        return FieldSQL(layers, col(value), exp.false(), _reason(_required(field, col(raw))))
    ok = exp.and_(exp.true(), *checks)
    flag = exp.and_(col(raw).is_(exp.null()).not_(), exp.not_(exp.paren(ok)))
    invalid = f"_{prefix}_invalid"
    # ... then the flag, after the last step.
    layers = (*layers, ((invalid, exp.func("COALESCE", flag, exp.true())),))
    cleaned = exp.Case(
        ifs=[exp.If(this=col(invalid), true=_on_error_value(field, col(raw)))], default=col(value)
    )
    reasons = []
    if field.on_error is OnError.REJECT:
        what = "a date" if ATTRIBUTES[field.target].kind is Kind.DATE else f"a valid {field.target}"
        fmt = next((t[5:] for t in field.transforms if t.startswith("date:")), "")
        detail = f" as {fmt}" if fmt else ""
        message = exp.DPipe(
            this=exp.Literal.string(f"{field.target} ({field.column}): '"),
            expression=exp.DPipe(
                this=col(raw), expression=exp.Literal.string(f"' is not {what}{detail}")
            ),
        )
        reasons.append(exp.If(this=col(invalid), true=message))
    reasons += _required(field, col(raw))
    return FieldSQL(layers, cleaned, col(invalid), _reason(reasons))


def _required(field: FieldMap, raw: exp.Expression) -> list[exp.If]:
    if not field.required:
        return []
    message = exp.Literal.string(f"{field.target} ({field.column}) is required but empty")
    return [exp.If(this=raw.is_(exp.null()), true=message)]


def _reason(reasons: list[exp.If]) -> exp.Expression:
    return exp.Case(ifs=reasons) if reasons else exp.null()


def _text_step(name: str, value: exp.Expression, clean: bool) -> exp.Expression:
    # A text step on a clean value keeps it clean; on any other it trims and empties to NULL.
    changed = _fill(_TEXT[name], x=value)
    return changed if clean else _fill(_EMPTY_TO_NULL, x=changed)


def _on_error_value(field: FieldMap, raw: exp.Expression) -> exp.Expression:
    return raw if field.on_error is OnError.KEEP else exp.null()


def _fill(template: exp.Expression, **values: object) -> exp.Expression:
    # copy(): templates are module constants and replace_placeholders edits in place.
    return exp.replace_placeholders(template.copy(), **values)
