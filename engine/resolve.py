"""Resolve a parsed request against a subject area: presentation names become logical columns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlglot import exp

from engine.errors import LogicalSQLError, quoted
from engine.functions import AGO, ROLLING, TODATE, is_special, level_node, time_node
from engine.parse import _USAGE, FUNCTIONS, LogicalRequest, OrderItem
from engine.session import Session
from semantic.errors import did_you_mean
from semantic.model import ColumnKind, Model, PresentationColumn, SubjectArea
from semantic.trees import transformed
from semantic.valueof import session_variable


@dataclass(frozen=True)
class Output:
    """One result column; `expr` refers to logical columns as "Table"."Column"."""

    name: str
    expr: exp.Expression
    is_measure: bool  # computed after aggregation
    hidden: bool = False  # only there to sort by


@dataclass(frozen=True)
class Ordering:
    output: int
    desc: bool
    nulls_first: bool


@dataclass(frozen=True)
class ResolvedRequest:
    request: LogicalRequest
    subject_area: SubjectArea
    outputs: tuple[Output, ...]
    filters: tuple[exp.Expression, ...]  # on attributes: applied before aggregation
    measure_filters: tuple[exp.Expression, ...]  # on measures: applied after aggregation
    order_by: tuple[Ordering, ...]
    names: Mapping[tuple[str, str], str]  # logical column -> how the request named it
    session: Session
    # The session's row filters: (logical table, condition over its columns). The planner
    # applies each to every query that can reach the table.
    row_filters: tuple[tuple[str, exp.Expression], ...] = ()


def resolve(request: LogicalRequest, model: Model, session: Session) -> ResolvedRequest:
    """Map every presentation column of `request` that `session` may see to its logical column.

    >>> from engine.parse import parse
    >>> from engine.session import SYSTEM
    >>> from semantic import load_model
    >>> r = resolve(parse('SELECT "Customer"."Distribution Area" FROM "Campaigns"'),
    ...             load_model("models/demo"), SYSTEM)
    >>> r.outputs[0].name, r.outputs[0].expr.sql()
    ('Distribution Area', '"Customer"."Distribution Area"')
    """
    area = _subject_area(request.subject_area, model, session)
    scope = _Scope(area, model, session)
    outputs = [_output(item.expr, item.alias, scope) for item in request.select]
    if not any(_refs(o.expr) for o in outputs):
        raise LogicalSQLError("select at least one presentation column")
    filters: list[exp.Expression] = []
    measure_filters: list[exp.Expression] = []
    for condition in _conjuncts(request.where):
        resolved = scope.resolve(condition)
        # A constant condition (1 = 0) filters rows before aggregation, as in SQL.
        if _refs(resolved) and scope.is_measure(resolved, "a filter"):
            measure_filters.append(resolved)
        else:
            filters.append(resolved)
    orderings = (_ordering(item, outputs, scope) for item in request.order_by)
    order_by = tuple(o for o in orderings if o is not None)
    return ResolvedRequest(
        request=request,
        subject_area=area,
        outputs=tuple(_unique_names(outputs, scope)),
        filters=tuple(filters),
        measure_filters=tuple(measure_filters),
        order_by=order_by,
        names=MappingProxyType(scope.names),
        session=session,
        row_filters=_row_filters(model, session),
    )


def _row_filters(model: Model, session: Session) -> tuple[tuple[str, exp.Expression], ...]:
    """The session's row filters, one condition per logical table: the conditions of the
    user's roles on the same table are ORed (each role widens what the user sees)."""
    if session.administrator:
        return ()
    key = ("row_filters", model.hash)
    if key not in session.memo:
        session.memo[key] = _build_row_filters(model, session)
    return session.memo[key]


def _build_row_filters(model: Model, session: Session) -> tuple[tuple[str, exp.Expression], ...]:
    by_table: dict[str, list[exp.Expression]] = {}
    for rule in model.security.row_filters:
        if rule.role in session.roles:
            condition = _qualified(bind_session(rule.condition, session), rule.table)
            by_table.setdefault(rule.table, []).append(condition)
    return tuple(
        (table, exp.or_(*conditions, copy=False) if len(conditions) > 1 else conditions[0])
        for table, conditions in by_table.items()
    )


def _qualified(tree: exp.Expression, table: str) -> exp.Expression:
    """Logical references as "Table"."Column"; a bare column belongs to `table`."""

    def qualify(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Column):
            return node
        return exp.Column(
            this=exp.to_identifier(node.name, quoted=True),
            table=exp.to_identifier(node.table or table, quoted=True),
        )

    return transformed(tree, qualify)


def bind_session(tree: exp.Expression, session: Session) -> exp.Expression:
    """Replace VALUEOF(NQ_SESSION.NAME) by the session's values, as literals.

    >>> import sqlglot
    >>> from engine.session import Session
    >>> s = Session("amra", frozenset(), False, {"AREAS": ("Zenica", "Tuzla"), "USER": ("amra",)})
    >>> bind_session(sqlglot.parse_one("a IN (VALUEOF(NQ_SESSION.AREAS))"), s).sql()
    "a IN ('Zenica', 'Tuzla')"
    >>> bind_session(sqlglot.parse_one("u = VALUEOF(NQ_SESSION.USER)"), s).sql()
    "u = 'amra'"
    """
    if not any(session_variable(n) for n in tree.find_all(exp.Anonymous)):
        return tree

    def values(node: exp.Expression) -> tuple | None:
        name = session_variable(node)
        if name is None:
            return None
        if name not in session.variables:
            raise LogicalSQLError(
                f"session variable NQ_SESSION.{name} is not set for user '{session.user}'"
            )
        return session.variables[name]

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.In):
            items = []
            for item in node.expressions:
                found = values(item)
                items.extend([item] if found is None else [exp.convert(v) for v in found])
            if not items:
                return exp.false()  # IN over no values holds for no row
            node.set("expressions", items)
            return node
        found = values(node)
        if found is None:
            return node
        if len(found) != 1:
            raise LogicalSQLError(
                f"NQ_SESSION.{session_variable(node)} holds {len(found)} values here",
                f"compare it with IN (VALUEOF(NQ_SESSION.{session_variable(node)}))",
            )
        return exp.convert(found[0])

    return transformed(tree, swap)


def _subject_area(name: str, model: Model, session: Session) -> SubjectArea:
    areas = {a.name: a for a in model.subject_areas if session.sees(a.roles)}
    if name in areas:
        return areas[name]
    folded = [a for a in areas if a.lower() == name.lower()]
    if len(folded) == 1:
        return areas[folded[0]]
    if any(t.name == name or t.table == name for t in model.tables):
        raise LogicalSQLError(
            f'"{name}" is a physical table, not a subject area',
            f"query a subject area: {', '.join(quoted(a) for a in areas)}",
        )
    raise LogicalSQLError(
        f'subject area "{name}" not found or not permitted',
        f"subject areas: {', '.join(quoted(a) for a in areas)}",
    )


class _Scope:
    """The presentation columns a request may use, and what each means."""

    def __init__(self, area: SubjectArea, model: Model, session: Session):
        self.area, self.model, self.session = area, model, session
        # Hidden columns are simply not here: naming one reads exactly like a misspelling.
        # What a session sees depends on its roles alone, so it is derived once per model.
        key = ("visible columns", area.name, session.administrator, session.roles)
        self.columns, self.folded = model.derived(key, lambda: _visible(area, session))
        self.names: dict[tuple[str, str], str] = {}

    def resolve(self, tree: exp.Expression) -> exp.Expression:
        if isinstance(tree, exp.Column):  # the common case, without copying the tree first
            return self._reference(tree)
        tree = bind_session(tree, self.session)
        return transformed(tree, self._swap)

    def _swap(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return self._reference(node)
        if isinstance(node, exp.Anonymous) and node.name.upper() in FUNCTIONS:
            return self._function(node)
        return node

    def _function(self, node: exp.Expression) -> exp.Expression:
        """AGGREGATE, AGO, TODATE, PERIODROLLING as nodes the planner reads (engine.functions)."""
        name = node.name.upper()
        first, *args = node.expressions
        measure = self.resolve(first)
        if any(is_special(n) for n in measure.walk()):
            raise LogicalSQLError(f"{name} cannot contain AGGREGATE or a time-series function")
        if not _refs(measure) or not self.is_measure(measure, f"the first argument of {name}"):
            raise LogicalSQLError(
                f"the first argument of {name} must be a measure, not {first.sql()}",
                _USAGE[name],
            )
        if name == "AGGREGATE":
            by = []
            for arg in args:
                ref = self._attribute(arg, name)
                if ref not in by:
                    by.append(ref)
            return level_node(measure, tuple(by))
        if name == "PERIODROLLING":
            start, end = (_integer(a, name) for a in args)
            if start > end:
                raise LogicalSQLError(
                    f"PERIODROLLING runs from {start} to {end}: the start must come first",
                    _USAGE[name],
                )
            hierarchy = self._time_hierarchy(name)
            return time_node(ROLLING, measure, hierarchy.name, None, start, end)
        hierarchy, level = self._time_level(args[0], name)
        periods = _integer(args[1], name) if name == "AGO" else 0
        return time_node(AGO if name == "AGO" else TODATE, measure, hierarchy, level, periods, 0)

    def _attribute(self, node: exp.Expression, name: str) -> tuple[str, str]:
        if not isinstance(node, exp.Column):
            raise LogicalSQLError(
                f"{name} groups by presentation columns, not {node.sql()}", _USAGE[name]
            )
        ref = self._reference(node)
        if self.model.logical_column(ref.table, ref.name).kind is not ColumnKind.attribute:
            raise LogicalSQLError(f"{name} BY {node.sql()}: a measure cannot group", _USAGE[name])
        return (ref.table, ref.name)

    def _time_level(self, node: exp.Expression, name: str) -> tuple[str, str]:
        table, column = self._attribute(node, name)
        for hierarchy, depth in self.model.levels_of(table, column):
            if hierarchy.time and hierarchy.levels[depth].key == column:
                return hierarchy.name, hierarchy.levels[depth].name
        raise LogicalSQLError(
            f"{name}: {node.sql()} is not a level of a time hierarchy",
            'name the level by its column, e.g. "Time"."Month"',
        )

    def _time_hierarchy(self, name: str):
        found = [h for h in self.model.hierarchies if h.time]
        if len(found) != 1:
            raise LogicalSQLError(f"{name} needs exactly one time hierarchy in the model")
        return found[0]

    def presentation(self, node: exp.Column) -> PresentationColumn:
        folder, name = node.table, node.name
        if folder and (folder, name) in self.columns:
            return self.columns[(folder, name)]
        # A physical table.column is refused even when it also matches a presentation
        # column once case is ignored (customer.name vs "Customer"."Name").
        if self._is_physical(node):
            raise self._unknown(node)
        if folder:
            found = self.folded.get((folder.lower(), name.lower()))
            if found:
                return found
            raise self._unknown(node)
        matches = [c for (_, n), c in self.columns.items() if n == name] or [
            c for (_, n), c in self.columns.items() if n.lower() == name.lower()
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise LogicalSQLError(
                f'column "{name}" is in several folders',
                "qualify it: " + " or ".join(quoted(c.folder, c.name) for c in matches),
            )
        raise self._unknown(node)

    def _is_physical(self, node: exp.Column) -> bool:
        if node.table:
            return any(
                t.name == node.table and node.name in t.column_names() for t in self.model.tables
            )
        return not any(n == node.name for _, n in self.columns) and any(
            node.name in t.column_names() for t in self.model.tables
        )

    def _reference(self, node: exp.Column) -> exp.Column:
        column = self.presentation(node)
        self.names.setdefault((column.table, column.column), quoted(column.folder, column.name))
        return exp.Column(
            this=exp.to_identifier(column.column, quoted=True),
            table=exp.to_identifier(column.table, quoted=True),
        )

    def _unknown(self, node: exp.Column) -> LogicalSQLError:
        written = quoted(node.table, node.name) if node.table else quoted(node.name)
        if self._is_physical(node):
            return LogicalSQLError(
                f"{written} is not a presentation column of {quoted(self.area.name)}: "
                "physical names are not allowed in Logical SQL",
                _suggestion(node.name, self.columns) or "use a presentation column",
            )
        return LogicalSQLError(
            f"column {written} not found or not permitted in subject area {quoted(self.area.name)}",
            _suggestion(node.name if not node.table else f"{node.table}.{node.name}", self.columns),
        )

    def kinds(self, tree: exp.Expression) -> set[ColumnKind]:
        return {
            self.model.logical_column(ref.table, ref.name).kind for ref in tree.find_all(exp.Column)
        }

    def is_measure(self, tree: exp.Expression, what: str | Callable[[], str]) -> bool:
        """`what` names the tree in the error; a callable is called only for the error."""
        kinds = self.kinds(tree)
        if ColumnKind.attribute in kinds and len(kinds) > 1:
            attribute = next(
                r
                for r in tree.find_all(exp.Column)
                if self.model.logical_column(r.table, r.name).kind is ColumnKind.attribute
            )
            what = what() if callable(what) else what
            raise LogicalSQLError(
                f"{what} mixes the attribute {self.names[(attribute.table, attribute.name)]} "
                "with measures",
                "filter attributes and measures in separate conditions joined by AND",
            )
        # A constant is computed once, after aggregation, like a measure.
        return ColumnKind.attribute not in kinds


def _visible(area: SubjectArea, session: Session) -> tuple[dict, dict]:
    """The presentation columns of `area` that `session` sees, by (folder, name), and by the
    same names folded to lower case."""
    columns = {
        (c.folder, c.name): c
        for f in area.folders
        if session.sees(f.roles)
        for c in f.columns
        if session.sees(c.roles)
    }
    return columns, {(f.lower(), n.lower()): c for (f, n), c in columns.items()}


def _integer(node: exp.Expression, name: str) -> int:
    sign = -1 if isinstance(node, exp.Neg) else 1
    value = node.this if isinstance(node, exp.Neg) else node
    if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
        raise LogicalSQLError(f"{name} needs a whole number, got {node.sql()}", _USAGE[name])
    return sign * int(value.this)


def _suggestion(name: str, columns: Mapping[tuple[str, str], PresentationColumn]) -> str | None:
    spelled = {f"{f}.{n}": (f, n) for f, n in columns}
    by_column = {n: (f, n) for f, n in columns}
    for pool in (spelled, by_column):
        hint = did_you_mean(name, pool)
        if hint:
            folder, column = pool[hint.split("'")[1]]
            return f"did you mean {quoted(folder, column)}?"
    return None


def _output(tree: exp.Expression, alias: str | None, scope: _Scope) -> Output:
    resolved = scope.resolve(tree)
    # Lazily: generating every output's SQL text was a sixth of compiling 80 measures.
    is_measure = scope.is_measure(resolved, lambda: f"the column {tree.sql()}")
    if alias:
        name = alias
    elif isinstance(tree, exp.Column):
        name = scope.presentation(tree).name
    else:
        name = tree.sql()
    return Output(name, resolved, is_measure)


def _unique_names(outputs: list[Output], scope: _Scope) -> list[Output]:
    seen: dict[str, int] = {}
    unique = []
    for output in outputs:
        name = output.name
        if name in seen:
            refs = list(output.expr.find_all(exp.Column))
            name = scope.names[(refs[0].table, refs[0].name)].replace('"', "") if refs else name
            while name in seen:
                name = f"{name} ({seen[output.name] + 1})"
                seen[output.name] += 1
        seen[name] = 1
        unique.append(Output(name, output.expr, output.is_measure, output.hidden))
    return unique


def _conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    # A loop, not recursion: a request may AND together a thousand conditions.
    found, stack = [], [where] if where is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif isinstance(node, exp.And):
            stack.extend((node.expression, node.this))
        else:
            found.append(node)
    return found


def _ordering(item: OrderItem, outputs: list[Output], scope: _Scope) -> Ordering | None:
    """Which output to sort by; None for a constant, which orders nothing."""
    node = item.expr
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        position = int(node.this)
        if not 1 <= position <= len(outputs):
            raise LogicalSQLError(
                f"ORDER BY {position} is out of range", f"the request has {len(outputs)} columns"
            )
        index = position - 1
    elif isinstance(node, exp.Column) and not node.table and _named(outputs, node.name) is not None:
        index = _named(outputs, node.name)
    else:
        resolved = scope.resolve(node)
        index = next((i for i, o in enumerate(outputs) if o.expr == resolved), None)
        if index is None:
            # Sorting by a column that is not selected would add it to the grain (more rows)
            # or bring in another fact (other rows): refuse rather than change the answer.
            selected = {ref for o in outputs for ref in _refs(o.expr)}
            for ref in _refs(resolved) - selected:
                raise LogicalSQLError(
                    f"ORDER BY {scope.names[ref]} sorts by a column that is not selected",
                    "add it to the SELECT list, or sort by a selected column",
                )
            outputs.append(
                Output(
                    f"__sort{len(outputs)}", resolved, scope.is_measure(resolved, "ORDER BY"), True
                )
            )
            index = len(outputs) - 1
    if not _refs(outputs[index].expr):
        return None
    # Sort NULLs last unless asked otherwise, the same on every engine.
    return Ordering(index, item.desc, bool(item.nulls_first))


def _named(outputs: list[Output], name: str) -> int | None:
    return next((i for i, o in enumerate(outputs) if o.name == name and not o.hidden), None)


def _refs(tree: exp.Expression) -> set[tuple[str, str]]:
    return {(c.table, c.name) for c in tree.find_all(exp.Column)}
