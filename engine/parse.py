"""Parse a Logical SQL request into a LogicalRequest; refuse everything that is not one."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Tokenizer, TokenType

from engine.errors import LogicalSQLError
from semantic.valueof import session_variable


class LogicalSQL(Dialect):
    """Oracle BI's Logical SQL as sqlglot reads it: the default dialect, except that
    `ORDER BY x` means NULLS LAST, as on DuckDB and Oracle, unless written otherwise."""

    NULL_ORDERING = "nulls_are_last"


# One instance for every request: naming the class made sqlglot build a new one per parse.
_LOGICAL_SQL = LogicalSQL()
# A tokenizer and a parser per thread, reused: both reset themselves for each text, and
# building them was a quarter of reading a request (184 -> 137 us for the TPC-H Europe one).
_readers = threading.local()


def _statements(text: str) -> list[exp.Expression | None]:
    """`text` read as Logical SQL, as `sqlglot.parse(text, read=LogicalSQL)` reads it."""
    reader = getattr(_readers, "pair", None)
    if reader is None:
        reader = _readers.pair = (_LOGICAL_SQL.tokenizer(), _LOGICAL_SQL.parser())
    tokenizer, parser = reader
    return parser.parse(tokenizer.tokenize(text), text)


@dataclass(frozen=True)
class SelectItem:
    expr: exp.Expression
    alias: str | None


@dataclass(frozen=True)
class OrderItem:
    expr: exp.Expression
    desc: bool
    nulls_first: bool | None


@dataclass(frozen=True)
class LogicalRequest:
    text: str
    subject_area: str
    select: tuple[SelectItem, ...]
    where: exp.Expression | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


# The portable expression language of Logical SQL: anything else is refused by name.
_ALLOWED = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Escape,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
    exp.Coalesce,
    exp.Nullif,
    exp.DPipe,
    exp.Concat,
    exp.Upper,
    exp.Lower,
    exp.Length,
    exp.Substring,
    exp.Trim,
    exp.Round,
    exp.Abs,
    exp.Floor,
    exp.Ceil,
    exp.Extract,
    exp.Var,
    exp.Year,
    exp.Month,
    exp.Day,
    exp.CurrentDate,
    exp.Greatest,
    exp.Least,
    exp.Tuple,
)
# DISTINCT is accepted and changes nothing: results are one row per attribute combination.
# Names that sqlglot writes back as raw text: only these may appear (EXTRACT's part, types).
_DATE_PARTS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"}
_TYPES = {
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.CHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.BOOLEAN,
}
_USAGE = {
    "AGGREGATE": 'AGGREGATE("Facts"."Billed" BY "Customer"."Area"); BY nothing: the grand total',
    "AGO": 'AGO("Facts"."Billed", "Time"."Month", 12): the value 12 months earlier',
    "TODATE": 'TODATE("Facts"."Billed", "Time"."Year"): from the start of the year',
    "PERIODROLLING": 'PERIODROLLING("Facts"."Billed", -2, 0): this period and the two before',
}
_CLAUSES = {"expressions", "from_", "where", "order", "limit", "offset", "distinct"}
_CLAUSE_NAMES = {"joins": "JOIN", "group": "GROUP BY", "with_": "WITH", "order": "ORDER BY"}


def parse(text: str) -> LogicalRequest:
    """Parse one Logical SQL SELECT.

    >>> r = parse('SELECT "Customer"."Region" FROM "Retail" FETCH FIRST 5 ROWS ONLY')
    >>> r.subject_area, r.limit, r.select[0].expr.sql()
    ('Retail', 5, '"Customer"."Region"')
    """
    try:
        statements = [s for s in _statements(_aggregate_by(text)) if s is not None]
    except RecursionError:
        raise LogicalSQLError("the request is nested too deeply to read") from None
    except sqlglot.errors.ParseError as e:
        first = e.errors[0] if e.errors else {}
        # sqlglot's description ends with a token's repr; the highlighted text reads better.
        what = str(first.get("description", e)).split(" but got ")[0]
        near = f" near '{first['highlight']}'" if first.get("highlight") else ""
        raise LogicalSQLError(
            f"syntax error: {what}{near}", line=first.get("line"), col=first.get("col")
        ) from None
    except sqlglot.errors.TokenError as e:
        raise LogicalSQLError(f"syntax error: {e}") from None
    if len(statements) != 1:
        raise LogicalSQLError(
            f"one statement at a time, got {len(statements)}",
            "send each request separately; ';' ends a request",
        )
    stmt = statements[0]
    if not isinstance(stmt, exp.Select):
        # sqlglot may read an unknown command as something else (INSTALL x as an alias):
        # the first word is what the user wrote.
        word = text.split()[0].upper()
        raise LogicalSQLError(
            f"only SELECT requests are allowed in Logical SQL, not {word}",
            "Logical SQL reads subject areas; it never changes data or the model",
        )
    return LogicalRequest(
        text=text,
        subject_area=_subject_area(stmt),
        select=tuple(_select_item(e) for e in stmt.expressions),
        where=_checked(stmt.args["where"].this) if stmt.args.get("where") else None,
        order_by=_order_by(stmt),
        limit=_count(stmt.args.get("limit")),
        offset=_count(stmt.args.get("offset")),
    )


# Logical SQL functions over measures, resolved by name: AGGREGATE(m BY cols), AGO(m, level, n),
# TODATE(m, level), PERIODROLLING(m, start, end).
FUNCTIONS = {"AGGREGATE": (1, None), "AGO": (3, 3), "TODATE": (2, 2), "PERIODROLLING": (3, 3)}


def _aggregate_by(text: str) -> str:
    """`AGGREGATE(m BY a, b)` as sqlglot can read it: `AGGREGATE(m , a, b)`, same length, so
    positions in error messages still point at what the user wrote.

    >>> _aggregate_by('SELECT AGGREGATE("F"."m" BY "C"."a") FROM "S"')
    'SELECT AGGREGATE("F"."m" ,  "C"."a") FROM "S"'
    >>> _aggregate_by('SELECT AGGREGATE("F"."m" BY) FROM "S"')
    'SELECT AGGREGATE("F"."m"   ) FROM "S"'
    """
    upper = text.upper()
    if "BY" not in upper or "AGGREGATE" not in upper:
        # Nothing to rewrite, and tokenizing twice made every ORDER BY request's parse slower
        # by a half: only a BY inside AGGREGATE( ... ) is rewritten.
        return text
    try:
        tokens = Tokenizer().tokenize(text)
    except sqlglot.errors.TokenError:
        return text
    stack: list[bool] = []
    out = list(text)
    for i, token in enumerate(tokens):
        if token.token_type is TokenType.L_PAREN:
            previous = tokens[i - 1] if i else None
            stack.append(previous is not None and previous.text.upper() == "AGGREGATE")
        elif token.token_type is TokenType.R_PAREN and stack:
            stack.pop()
        elif stack and stack[-1] and token.text.upper() == "BY" and token.end == token.start + 1:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            closing = following is not None and following.token_type is TokenType.R_PAREN
            out[token.start : token.end + 1] = "  " if closing else ", "
    return "".join(out)


def _subject_area(stmt: exp.Select) -> str:
    unsupported = sorted(k for k, v in stmt.args.items() if v and k not in _CLAUSES)
    if unsupported:
        clause = _CLAUSE_NAMES.get(unsupported[0], unsupported[0].upper())
        hints = {
            "JOIN": "a request reads one subject area; its columns are already joined",
            "GROUP BY": "grouping is implicit: every attribute selected is a grouping column",
            "HAVING": "put conditions on measures in WHERE",
        }
        raise LogicalSQLError(f"{clause} is not supported in Logical SQL", hints.get(clause))
    distinct = stmt.args.get("distinct")
    if distinct is not None and distinct.args.get("on"):
        raise LogicalSQLError("DISTINCT ON is not supported in Logical SQL")
    fetch = stmt.args.get("limit")
    options = fetch.args.get("limit_options") if isinstance(fetch, exp.Fetch) else None
    if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
        raise LogicalSQLError(
            "FETCH FIRST ... PERCENT and WITH TIES are not supported",
            "use FETCH FIRST n ROWS ONLY",
        )
    source = stmt.args.get("from_")
    table = source.this if source else None
    if not isinstance(table, exp.Table) or not table.name:
        raise LogicalSQLError("FROM must name one subject area", 'e.g. SELECT ... FROM "Campaigns"')
    if table.args.get("db") or table.args.get("catalog"):
        raise LogicalSQLError(
            f"FROM {table.sql()} is not a subject area name",
            "physical schemas and tables cannot be queried; name a subject area",
        )
    return table.name


def _select_item(node: exp.Expression) -> SelectItem:
    if isinstance(node, exp.Star) or node.find(exp.Star):
        raise LogicalSQLError("SELECT * is not supported", "list the presentation columns you want")
    if isinstance(node, exp.Alias):
        return SelectItem(_checked(node.this), node.alias)
    return SelectItem(_checked(node), None)


def _order_by(stmt: exp.Select) -> tuple[OrderItem, ...]:
    order = stmt.args.get("order")
    if not order:
        return ()
    return tuple(
        OrderItem(_checked(o.this), bool(o.args.get("desc")), o.args.get("nulls_first"))
        for o in order.expressions
    )


def _count(node: exp.Expression | None) -> int | None:
    if node is None:
        return None
    value = node.args.get("count") if isinstance(node, exp.Fetch) else node.expression
    if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
        raise LogicalSQLError(f"{node.key.upper()} needs a whole number, got {node.sql()}")
    return int(value.this)


def _checked(tree: exp.Expression) -> exp.Expression:
    """`tree`, if it holds only what Logical SQL allows, without the parser's source positions
    (semantic/trees.py `without_positions`, in the same walk): a compile copies these trees.
    Comments are dropped too: sqlglot writes a node's comments back into the SQL, and
    nothing the user writes may reach the database as text."""
    for node in tree.walk():
        node._meta = None
        node.comments = None
        kind = _KINDS.get(type(node)) or _kind(type(node))
        if kind is _PLAIN:
            continue
        if kind is _COLUMN:
            if node.args.get("db") or node.args.get("catalog"):
                raise LogicalSQLError(
                    f"{node.sql()} is not a presentation column",
                    'write "Folder"."Column"; physical names are not allowed',
                )
            continue
        if kind is _TRY_CAST:
            raise LogicalSQLError("TRY_CAST is not supported", "use CAST")
        if kind is _RAW:
            _check_raw_text(node)
            continue
        if kind is _ANONYMOUS and session_variable(node):
            continue  # VALUEOF(NQ_SESSION.NAME): bound to literals when resolved
        if kind is _ANONYMOUS and node.name.upper() in FUNCTIONS:
            low, high = FUNCTIONS[node.name.upper()]
            count = len(node.expressions)
            if count < low or (high is not None and count > high):
                raise LogicalSQLError(
                    f"{node.name.upper()} takes {low if low == high else f'at least {low}'} "
                    f"arguments, got {count}",
                    _USAGE[node.name.upper()],
                )
            continue
        raise _refusal(node)
    return tree


_TRY_CAST, _RAW, _ANONYMOUS, _COLUMN, _PLAIN, _REFUSED = (
    "try_cast", "raw", "anonymous", "column", "plain", "refused"
)  # fmt: skip
# What each node class is to _checked, decided once per class: testing every node against
# the whitelist's fifty classes was a third of reading a request.
_KINDS: dict[type, str] = {}


def _kind(cls: type) -> str:
    if issubclass(cls, exp.TryCast):
        kind = _TRY_CAST
    elif issubclass(cls, (exp.Var, exp.DataType, exp.DataTypeParam)):
        kind = _RAW
    elif issubclass(cls, exp.Anonymous):
        kind = _ANONYMOUS
    elif issubclass(cls, exp.Column):
        kind = _COLUMN
    elif issubclass(cls, _ALLOWED):
        kind = _PLAIN
    else:
        kind = _REFUSED
    _KINDS[cls] = kind
    return kind


def _check_raw_text(node: exp.Expression) -> None:
    """sqlglot writes a Var or a type's name back as it was read, so a whitelist is all that
    stands between user text and the database here."""
    if isinstance(node, exp.Var):
        if isinstance(node.parent, exp.Extract) and node.name.upper() in _DATE_PARTS:
            return
        raise LogicalSQLError(
            f"'{node.name}' is not allowed here",
            f"EXTRACT takes one of {', '.join(sorted(_DATE_PARTS))}",
        )
    if isinstance(node, exp.DataTypeParam):
        value = node.this
        if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
            return
        raise LogicalSQLError(f"type parameter {node.sql()} must be a whole number")
    if node.this not in _TYPES or node.args.get("kind"):
        raise LogicalSQLError(
            f"CAST to {node.sql()} is not supported",
            "types: " + ", ".join(sorted(t.value for t in _TYPES)),
        )


def _refusal(node: exp.Expression) -> LogicalSQLError:
    if isinstance(node, exp.Anonymous) and node.name.upper() in {"EVALUATE", "EVALUATE_AGGR"}:
        return LogicalSQLError(
            f"{node.name.upper()} passes raw SQL to the database and is refused",
            "use presentation columns and portable functions",
        )
    if isinstance(node, exp.AggFunc):
        return LogicalSQLError(
            f"aggregate function {node.sql()} is not allowed",
            'measures aggregate themselves: select a measure such as "Facts"."# Customers"',
        )
    if isinstance(node, (exp.Select, exp.Subquery, exp.Exists)):
        return LogicalSQLError("subqueries are not supported in Logical SQL")
    name = node.name.upper() if isinstance(node, exp.Anonymous) else node.key.upper()
    return LogicalSQLError(f"{name} is not supported in Logical SQL")
