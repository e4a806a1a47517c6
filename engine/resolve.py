"""Resolve a parsed request against a subject area: presentation names become logical columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlglot import exp

from engine.errors import LogicalSQLError, quoted
from engine.parse import LogicalRequest, OrderItem
from semantic.errors import did_you_mean
from semantic.model import ColumnKind, Model, PresentationColumn, SubjectArea


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
    user: str | None


def resolve(request: LogicalRequest, model: Model, user: str | None = None) -> ResolvedRequest:
    """Map every presentation column of `request` to its logical column.

    >>> from engine.parse import parse
    >>> from semantic import load_model
    >>> r = resolve(parse('SELECT "Customer"."Distribution Area" FROM "Campaigns"'),
    ...             load_model("models/demo"))
    >>> r.outputs[0].name, r.outputs[0].expr.sql()
    ('Distribution Area', '"Customer"."Distribution Area"')
    """
    area = _subject_area(request.subject_area, model)
    scope = _Scope(area, model)
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
        user=user,
    )


def _subject_area(name: str, model: Model) -> SubjectArea:
    areas = {a.name: a for a in model.subject_areas}
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

    def __init__(self, area: SubjectArea, model: Model):
        self.area, self.model = area, model
        self.columns = {(c.folder, c.name): c for c in area.columns()}
        self.folded = {(f.lower(), n.lower()): c for (f, n), c in self.columns.items()}
        self.names: dict[tuple[str, str], str] = {}

    def resolve(self, tree: exp.Expression) -> exp.Expression:
        if isinstance(tree, exp.Column):  # the common case, without copying the tree first
            return self._reference(tree)
        return tree.transform(
            lambda n: self._reference(n) if isinstance(n, exp.Column) else n, copy=True
        )

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

    def is_measure(self, tree: exp.Expression, what: str) -> bool:
        kinds = self.kinds(tree)
        if ColumnKind.attribute in kinds and len(kinds) > 1:
            attribute = next(
                r
                for r in tree.find_all(exp.Column)
                if self.model.logical_column(r.table, r.name).kind is ColumnKind.attribute
            )
            raise LogicalSQLError(
                f"{what} mixes the attribute {self.names[(attribute.table, attribute.name)]} "
                "with measures",
                "filter attributes and measures in separate conditions joined by AND",
            )
        # A constant is computed once, after aggregation, like a measure.
        return ColumnKind.attribute not in kinds


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
    is_measure = scope.is_measure(resolved, f"the column {tree.sql()}")
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
