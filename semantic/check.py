"""The consistency check: every cross-reference in a model, reported all at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from sqlglot import exp
from sqlglot.errors import SqlglotError

from semantic.errors import ModelError, did_you_mean
from semantic.join_paths import join_paths
from semantic.model import TOTAL, ColumnKind, LogicalColumn, LogicalTable, Model
from semantic.spec import Aggregation, TableKind
from semantic.valueof import columns_outside_valueof, session_variable


def check(model: Model) -> list[ModelError]:
    """Every problem in `model`, in no particular order (the caller sorts).

    >>> from semantic import load_model
    >>> check(load_model("models/demo"))
    []
    """
    return [
        *_duplicates(model),
        *_physical(model),
        *_join_ambiguities(model),
        *_logical(model),
        *_hierarchies(model),
        *_presentation(model),
        *_security(model),
        *_row_filter_paths(model),
        *_rollups(model),
    ]


def _duplicated(items: Iterable, key, what: str) -> Iterator[ModelError]:
    seen: dict = {}
    for item in items:
        k = key(item)
        if k in seen:
            yield ModelError(item.span, f"duplicate {what} '{k}' (first declared at {seen[k]})")
        else:
            seen[k] = item.span


def _duplicates(model: Model) -> Iterator[ModelError]:
    yield from _duplicated(model.databases, lambda d: d.name, "database")
    yield from _duplicated(model.tables, lambda t: t.name, "physical table")
    yield from _duplicated(model.logical_tables, lambda t: t.name, "logical table")
    for table in model.logical_tables:
        yield from _duplicated(table.columns, lambda c: c.name, f"column of '{table.name}'")
    yield from _duplicated(model.subject_areas, lambda a: a.name, "subject area")
    for area in model.subject_areas:
        yield from _duplicated(area.folders, lambda f: f.name, f"folder of '{area.name}'")
        for folder in area.folders:
            yield from _duplicated(
                folder.columns, lambda c: c.name, f"column of folder '{folder.name}'"
            )


# ---------------------------------------------------------------- physical


_SECRET_KEYS = ("password", "passwd", "secret", "token")
_ONLY_VARIABLE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_URL_PASSWORD = re.compile(r"//[^/@:]*:(?P<password>[^@/]+)@")


def _literal_secrets(model: Model) -> Iterator[ModelError]:
    """A password belongs in the environment, never in a model file that goes to git."""
    hint = "write ${VARIABLE} and set VARIABLE in the environment (libpq also reads PGPASSWORD)"
    for database in model.databases:
        for key, value in database.connection:
            secret = any(word in key.lower() for word in _SECRET_KEYS)
            if secret and value and not _ONLY_VARIABLE.match(value):
                yield ModelError(
                    database.span,
                    f"database '{database.name}': connection setting '{key}' holds a literal "
                    "secret",
                    hint,
                )
            found = _URL_PASSWORD.search(value)
            if found and not _ONLY_VARIABLE.match(found["password"]):
                yield ModelError(
                    database.span,
                    f"database '{database.name}': connection setting '{key}' holds a URL with "
                    "a literal password",
                    hint,
                )


def _physical(model: Model) -> Iterator[ModelError]:
    yield from _literal_secrets(model)
    databases = [d.name for d in model.databases]
    for table in model.tables:
        if table.database not in databases:
            continue
        for name, sql_type in table.columns:
            try:
                exp.DataType.build(sql_type)
            except (SqlglotError, ValueError):
                yield ModelError(
                    table.span, f"column '{table.name}.{name}' has unknown type '{sql_type}'"
                )
        for key in table.primary_key:
            if key not in table.column_names():
                yield ModelError(
                    table.span,
                    f"primary key column '{key}' is not a column of '{table.name}'",
                    did_you_mean(key, table.column_names()),
                )
    tables = {t.name: t for t in model.tables}
    for join in model.joins:
        if len(join.many_columns) != len(join.one_columns):
            yield ModelError(join.span, "a join needs as many 'from' columns as 'to' columns")
        for side, columns in ((join.many, join.many_columns), (join.one, join.one_columns)):
            if side not in tables:
                yield ModelError(
                    join.span, f"join refers to unknown table '{side}'", did_you_mean(side, tables)
                )
                continue
            for column in columns:
                if column not in tables[side].column_names():
                    yield ModelError(
                        join.span,
                        f"join refers to unknown column '{column}' of table '{side}'",
                        did_you_mean(column, tables[side].column_names()),
                    )
        yield from _federated_join(join, tables, model)


def _federated_join(join, tables: dict, model: Model) -> Iterator[ModelError]:
    """A join crosses databases only when it says so (`to_database`), toward the database
    that runs the queries using it (engine/federate.py reads the other side in). That one
    must be DuckDB when a request uses the join, which the planner says: a model retargeted
    to PostgreSQL (`strata demo --target`) still loads, without federated requests."""
    sides = [tables.get(join.many), tables.get(join.one)]
    if not all(sides):
        return  # reported above as an unknown table
    databases = {t.database for t in sides}
    if join.to_database is None:
        if len(databases) > 1:
            a, b = sorted(databases)
            yield ModelError(
                join.span,
                f"a join cannot cross databases ('{a}' and '{b}') unless it names the other "
                "one with 'to_database'",
                "add 'to_database: <database of the to table>' to federate the two",
            )
        return
    known = {d.name: d for d in model.databases}
    target = known.get(join.to_database)
    if target is None:
        yield ModelError(
            join.span,
            f"join names unknown database '{join.to_database}' as its 'to_database'",
            did_you_mean(join.to_database, known),
        )
        return
    if join.to_database == join.declared_in:
        yield ModelError(
            join.span,
            f"'to_database: {join.to_database}' names the database that declares this join",
            "remove 'to_database': both tables are in one database",
        )
        return
    for table in sides:
        if table.database not in (join.to_database, join.declared_in):
            yield ModelError(
                join.span,
                f"join refers to table '{table.name}' of database '{table.database}', "
                f"which is neither '{join.declared_in}' nor '{join.to_database}'",
            )
            return
    if len(databases) == 1:
        yield ModelError(
            join.span,
            f"join names 'to_database: {join.to_database}' but both tables are in "
            f"'{databases.pop()}'",
            f"declare the 'to' table in database '{join.to_database}', or remove 'to_database'",
        )
        return
    host = {t.table for t in model.tables if t.database == join.to_database}
    for table in sides:
        if table.database == join.declared_in and table.table in host:
            yield ModelError(
                join.span,
                f"table '{table.table}' of '{join.declared_in}' would be read into "
                f"'{join.to_database}' under a name that database already has",
                "rename one of them (a table's 'table' key gives its name in the database)",
            )


def _join_ambiguities(model: Model) -> Iterator[ModelError]:
    reported = set()
    for table in model.logical_tables:
        for source in table.sources:
            for amb in join_paths(source.base, model.joins)[1]:
                key = (source.base, amb.table)
                if key in reported:
                    continue
                reported.add(key)
                yield ModelError(
                    amb.second[-1].join.span,
                    f"join cycle: table '{amb.table}' is reached from '{source.base}' by two "
                    f"routes ({_route(source.base, amb.first)} and "
                    f"{_route(source.base, amb.second)})",
                    f"declare an alias of '{amb.table}' (alias_of) for one of the roles",
                )


def _route(base: str, steps) -> str:
    return " -> ".join([base, *(s.table for s in steps)])


# ---------------------------------------------------------------- business


def _logical(model: Model) -> Iterator[ModelError]:
    tables = {t.name: t for t in model.tables}
    for table in model.logical_tables:
        if "." in table.name:
            yield ModelError(
                table.span,
                f"logical table name '{table.name}' contains a dot",
                "presentation columns name logical columns as Table.Column; drop the dot",
            )
        yield from _sources(model, table, tables)
        for column in table.columns:
            yield from _column_kind(table, column)
            if column.expr is not None:
                yield from _physical_refs(model, table, column, tables)
            if column.formula is not None:
                yield from _formula_refs(model, table, column)
        if (
            table.kind is TableKind.fact
            and not table.sources
            and any(c.kind is ColumnKind.measure for c in table.columns)
        ):
            yield ModelError(table.span, f"fact '{table.name}' has measures but no source table")
    yield from _derived_cycles(model)


def _sources(model: Model, table: LogicalTable, tables: dict) -> Iterator[ModelError]:
    for source in table.sources:
        for name in source.tables:
            if name not in tables:
                yield ModelError(
                    source.span,
                    f"source '{source.name}' of '{table.name}' uses unknown table '{name}'",
                    did_you_mean(name, tables),
                )
            elif name not in model.join_paths(source.base):
                yield ModelError(
                    source.span,
                    f"table '{name}' in source '{source.name}' of '{table.name}' is unreachable: "
                    f"no many-to-one join path leads to it from the base table '{source.base}'",
                    "declare the join in the physical layer, or list the fact's own table first",
                )


def _column_kind(table: LogicalTable, column: LogicalColumn) -> Iterator[ModelError]:
    if table.kind is TableKind.dimension and column.kind is not ColumnKind.attribute:
        yield ModelError(
            column.span,
            f"'{table.name}' is a dimension, so '{column.name}' cannot be a measure",
            "move it to a fact table, or remove its 'aggregation'/'formula'",
        )
    if table.kind is TableKind.fact and column.kind is ColumnKind.attribute:
        yield ModelError(
            column.span,
            f"'{column.name}' of fact '{table.name}' has no aggregation",
            "give it an aggregation (sum, count, count_distinct, avg, min, max), or move it "
            "to a dimension over the same physical table",
        )
    for tree in (column.expr, column.formula):
        if tree is not None and tree.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Select):
            yield ModelError(
                column.span,
                f"'{column.name}' must not contain aggregate functions, windows or subqueries",
                "the aggregation rule applies the aggregate; use a derived 'formula' for ratios",
            )


def _physical_refs(
    model: Model, table: LogicalTable, column: LogicalColumn, tables: dict
) -> Iterator[ModelError]:
    base = table.sources[0].base if table.sources else None
    reachable = model.join_paths(base) if base in tables else {}
    for ref in column.expr.find_all(exp.Column):
        if not ref.table:
            yield ModelError(
                column.span,
                f"'{column.name}' refers to '{ref.name}' without its table",
                f"write it as table.{ref.name}",
            )
        elif ref.table not in tables:
            yield ModelError(
                column.span,
                f"'{column.name}' of '{table.name}' refers to unknown table '{ref.table}'",
                did_you_mean(ref.table, tables),
            )
        elif ref.name not in tables[ref.table].column_names():
            yield ModelError(
                column.span,
                f"'{column.name}' of '{table.name}' refers to unknown column '{ref.name}' "
                f"of table '{ref.table}'",
                did_you_mean(ref.name, tables[ref.table].column_names()),
            )
        elif base is not None and ref.table not in reachable:
            yield ModelError(
                column.span,
                f"'{column.name}' of '{table.name}' uses table '{ref.table}', which is unreachable "
                f"from the source's base table '{base}'",
            )


_TIME_FUNCTIONS = {"AGO": 3, "TODATE": 2, "PERIODROLLING": 3}


def _time_calls(model: Model, column: LogicalColumn) -> Iterator[ModelError]:
    """AGO(m, level, n), TODATE(m, level), PERIODROLLING(m, start, end) in a formula."""
    for call in column.formula.find_all(exp.Anonymous):
        name = call.name.upper()
        if name not in _TIME_FUNCTIONS:
            continue
        args = call.expressions
        if len(args) != _TIME_FUNCTIONS[name]:
            yield ModelError(
                column.span,
                f"{name} in '{column.name}' takes {_TIME_FUNCTIONS[name]} arguments, "
                f"got {len(args)}",
            )
            continue
        numbers = args[1:] if name == "PERIODROLLING" else args[2:]
        for arg in numbers:
            if not arg.sql().lstrip("-").isdigit():
                yield ModelError(
                    column.span, f"{name} in '{column.name}' needs a whole number, not {arg.sql()}"
                )
        if name == "PERIODROLLING":
            if not any(h.time for h in model.hierarchies):
                yield ModelError(column.span, f"{name} in '{column.name}' needs a time hierarchy")
            continue
        level = args[1]
        keys = [f'"{h.table}"."{lv.key}"' for h in model.hierarchies if h.time for lv in h.levels]
        found = (
            isinstance(level, exp.Column)
            and level.table
            and any(
                h.time and h.levels[d].key == level.name
                for h, d in model.levels_of(level.table, level.name)
            )
        )
        if not found:
            yield ModelError(
                column.span,
                f"{name} in '{column.name}' names {level.sql()}, which is not a level key of a "
                "time hierarchy",
                f"levels: {', '.join(keys)}" if keys else "declare a hierarchy with time: true",
            )


def _formula_refs(model: Model, table: LogicalTable, column: LogicalColumn) -> Iterator[ModelError]:
    yield from _time_calls(model, column)
    levels = {
        id(call.expressions[1])
        for call in column.formula.find_all(exp.Anonymous)
        if call.name.upper() in ("AGO", "TODATE") and len(call.expressions) > 1
    }
    for ref in column.formula.find_all(exp.Column):
        if id(ref) in levels:
            continue
        owner = ref.table or table.name
        try:
            target = model.logical_column(owner, ref.name)
        except KeyError:
            names = (
                [c.name for c in model.logical_table(owner).columns] if _has(model, owner) else []
            )
            yield ModelError(
                column.span,
                f"derived column '{column.name}' refers to unknown column '{ref.name}' "
                f"of '{owner}'",
                did_you_mean(ref.name, names),
            )
            continue
        if target.kind is ColumnKind.attribute:
            yield ModelError(
                column.span,
                f"derived column '{column.name}' uses attribute '{owner}.{ref.name}'; "
                "a formula combines measures",
            )


def _has(model: Model, logical_table: str) -> bool:
    try:
        model.logical_table(logical_table)
    except KeyError:
        return False
    return True


def _unknown_logical_table(model: Model, span, where: str, name: str) -> ModelError:
    return ModelError(
        span,
        f"{where} refers to unknown logical table '{name}'",
        did_you_mean(name, [t.name for t in model.logical_tables]),
    )


def _derived_cycles(model: Model) -> Iterator[ModelError]:
    def refs(column: LogicalColumn) -> list[tuple[str, str]]:
        if column.formula is None:
            return []
        return [(r.table or column.table, r.name) for r in column.formula.find_all(exp.Column)]

    derived = {c.ref: c for t in model.logical_tables for c in t.columns if c.formula is not None}
    for start, column in derived.items():
        stack, seen = list(refs(column)), set()
        while stack:
            ref = stack.pop()
            if ref == start:
                yield ModelError(column.span, f"derived column '{column.name}' refers to itself")
                break
            if ref in derived and ref not in seen:
                seen.add(ref)
                stack.extend(refs(derived[ref]))


def _hierarchies(model: Model) -> Iterator[ModelError]:
    for hierarchy in model.hierarchies:
        if not _has(model, hierarchy.table):
            where = f"hierarchy '{hierarchy.name}'"
            yield _unknown_logical_table(model, hierarchy.span, where, hierarchy.table)
            continue
        names = [c.name for c in model.logical_table(hierarchy.table).columns]
        if not hierarchy.levels:
            yield ModelError(hierarchy.span, f"hierarchy '{hierarchy.name}' has no levels")
        for level in hierarchy.levels:
            if level.name == TOTAL:
                yield ModelError(
                    level.span,
                    f"'{TOTAL}' is the grand-total level of every hierarchy; name this level "
                    "otherwise",
                )
            chrono = (level.chronological_key,) if level.chronological_key else ()
            for column in (level.key, *chrono, *level.columns):
                if column not in names:
                    yield ModelError(
                        level.span,
                        f"level '{level.name}' of hierarchy '{hierarchy.name}' refers to unknown "
                        f"column '{column}' of '{hierarchy.table}'",
                        did_you_mean(column, names),
                    )
            if hierarchy.time and not level.chronological_key:
                yield ModelError(
                    level.span,
                    f"level '{level.name}' of time hierarchy '{hierarchy.name}' has no "
                    "chronological_key",
                    "name the logical column that sorts its members in time order "
                    "(it may be the key itself, e.g. a 'YYYY-MM' month)",
                )
        yield from _duplicated(hierarchy.levels, lambda lv: lv.name, f"level of '{hierarchy.name}'")
    yield from _duplicated(model.hierarchies, lambda h: h.name, "hierarchy")
    for table in model.logical_tables:
        for column in table.columns:
            for hierarchy, level in column.levels:
                yield from _level_ref(
                    model, column.span, f"measure '{column.name}'", hierarchy, level
                )
            if column.last_over is not None:
                yield from _last_over(model, table, column)
            if column.levels and column.kind is not ColumnKind.measure:
                yield ModelError(
                    column.span,
                    f"only a measure (with an aggregation) can be fixed at a level, not "
                    f"'{column.name}'",
                    "copy the measure's expr and aggregation, then add 'level'",
                )
        for source in table.sources:
            yield from _aggregate_source(model, table, source)
        yield from _fragments(model, table)


def _fragments(model: Model, table: LogicalTable) -> Iterator[ModelError]:
    fragments = [s for s in table.sources if s.fragment is not None]
    tables = {t.name: t for t in model.tables}
    for source in table.sources:
        if source.reads is not None and source.reads not in tables:
            yield ModelError(
                source.span,
                f"source '{source.name}' of '{table.name}' reads unknown table '{source.reads}'",
                did_you_mean(source.reads, tables),
            )
        elif source.reads is not None and source.base in tables:
            missing = set(tables[source.base].column_names()) - set(
                tables[source.reads].column_names()
            )
            if missing:
                yield ModelError(
                    source.span,
                    f"'{source.reads}' cannot stand for '{source.base}': it lacks "
                    + ", ".join(sorted(missing)),
                )
    if not fragments:
        return
    for source in table.sources:
        if source.content:
            continue
        if source.fragment is None:
            yield ModelError(
                source.span,
                f"source '{source.name}' of '{table.name}' is no fragment, but the fact's other "
                "detail sources are",
                "give every detail source of a fragmented fact a 'fragment' condition",
            )
    if len({s.base for s in fragments}) > 1:
        yield ModelError(
            fragments[-1].span,
            f"the fragments of '{table.name}' must share their base table (use 'reads' for "
            "each fragment's own table)",
        )
    for source in fragments:
        for ref in source.fragment.find_all(exp.Column):
            column = _column(model, ref.table, ref.name) if ref.table else None
            if column is None or column.kind is not ColumnKind.attribute:
                yield ModelError(
                    source.span,
                    f"fragment condition of '{source.name}' refers to {ref.sql()}, not a logical "
                    "attribute",
                    'write logical columns as "Table"."Column"',
                )


def _last_over(model: Model, table: LogicalTable, column: LogicalColumn) -> Iterator[ModelError]:
    where = f"semi-additive measure '{column.name}'"
    try:
        hierarchy = model.hierarchy(column.last_over)
    except KeyError:
        yield ModelError(
            column.span,
            f"{where} is last over unknown hierarchy '{column.last_over}'",
            did_you_mean(column.last_over, [h.name for h in model.hierarchies]),
        )
        return
    if not hierarchy.time:
        yield ModelError(
            column.span,
            f"{where} is last over '{hierarchy.name}', which is not a time hierarchy",
            "mark the hierarchy 'time: true', or name the time hierarchy",
        )
    if column.kind is not ColumnKind.measure or column.aggregation is Aggregation.count_distinct:
        yield ModelError(
            column.span,
            f"{where} needs an aggregation over the other dimensions (sum, min, max, avg, count)",
        )


def _level_ref(model: Model, span, where: str, hierarchy: str, level: str) -> Iterator[ModelError]:
    try:
        found = model.hierarchy(hierarchy)
    except KeyError:
        yield ModelError(
            span,
            f"{where} names unknown hierarchy '{hierarchy}'",
            did_you_mean(hierarchy, [h.name for h in model.hierarchies]),
        )
        return
    names = [lv.name for lv in found.levels]
    if level != TOTAL and level not in names:
        yield ModelError(
            span,
            f"{where} names level '{level}', which hierarchy '{hierarchy}' does not have",
            did_you_mean(level, [*names, TOTAL]) or f"levels: {', '.join([*names, TOTAL])}",
        )


# What can be merged from partial aggregates; the reminder (an average) needs two partials.
_MERGEABLE = {
    Aggregation.sum,
    Aggregation.count,
    Aggregation.min,
    Aggregation.max,
    Aggregation.avg,
}


def _aggregate_source(model: Model, table: LogicalTable, source) -> Iterator[ModelError]:
    """An aggregate source must say which levels it holds for every hierarchy it reaches, and
    hold partial aggregates only for measures that can be merged from them."""
    if not source.content and not source.measures:
        return
    where = f"source '{source.name}' of '{table.name}'"
    if not source.content:
        yield ModelError(
            source.span,
            f"{where} maps measures but declares no content levels",
            "an aggregate source needs 'content' (hierarchy: level) for every hierarchy it holds",
        )
    for hierarchy, level in source.content:
        yield from _level_ref(model, source.span, where, hierarchy, level)
    held = {h for h, _ in source.content}
    reach = model.join_paths(source.base) if source.base in _tables(model) else {}
    for hierarchy in model.hierarchies:
        if hierarchy.name in held or not _has(model, hierarchy.table):
            continue
        for level in hierarchy.levels:
            column = _column(model, hierarchy.table, level.key)
            tables = {c.table for c in column.expr.find_all(exp.Column)} if column else set()
            if column is not None and column.expr is not None and tables <= {source.base, *reach}:
                yield ModelError(
                    source.span,
                    f"{where} joins the tables of hierarchy '{hierarchy.name}' (level "
                    f"'{level.name}') but declares no content level for it",
                    f"add '{hierarchy.name}: <lowest level held>' under content",
                )
                break
    measures = {c.name: c for c in table.columns if c.kind is ColumnKind.measure}
    for name, tree in source.measures:
        if name not in measures:
            yield ModelError(
                source.span,
                f"{where} maps unknown measure '{name}'",
                did_you_mean(name, measures),
            )
        elif measures[name].aggregation not in _MERGEABLE:
            yield ModelError(
                source.span,
                f"{where} maps '{name}' ({measures[name].aggregation.value}), which cannot be "
                "re-aggregated from partial results",
                "sum, count, min and max merge, avg as 'sums / counts'; count distinct is "
                "answered from the detail source",
            )
        elif (
            measures[name].aggregation is Aggregation.avg
            and tree is not None
            and not isinstance(tree, exp.Div)
        ):
            yield ModelError(
                source.span,
                f"{where} maps the average '{name}' to '{tree.sql()}'",
                "map an average as the column of sums divided by the column of counts, "
                "e.g. agg.billed / agg.invoices: it is merged as SUM(sums) / SUM(counts)",
            )
        if tree is not None:
            for ref in tree.find_all(exp.Column):
                if ref.table != source.base and ref.table not in reach:
                    yield ModelError(
                        source.span,
                        f"{where} maps '{name}' to '{ref.sql()}', not a column of its tables",
                    )
    for column in table.columns:
        if (
            source.content
            and column.kind is ColumnKind.measure
            and column.aggregation in _MERGEABLE
            and not column.levels
            # Semi-additive measures read detail rows only: a mapping would never be used.
            and column.last_over is None
            and column.name not in dict(source.measures)
        ):
            yield ModelError(
                source.span,
                f"aggregate {where} has no mapping for measure '{column.name}'",
                f"map it under 'measures', e.g. {column.name}: {source.base}.<column>",
            )


def _tables(model: Model) -> set[str]:
    return {t.name for t in model.tables}


def _column(model: Model, table: str, name: str) -> LogicalColumn | None:
    try:
        return model.logical_column(table, name)
    except KeyError:
        return None


# ---------------------------------------------------------------- presentation


def _presentation(model: Model) -> Iterator[ModelError]:
    logical = {t.name: t for t in model.logical_tables}
    for area in model.subject_areas:
        for fact in area.implicit_facts:
            if fact not in logical or logical[fact].kind is not TableKind.fact:
                yield ModelError(
                    area.span,
                    f"implicit fact '{fact}' of subject area '{area.name}' is not a fact table",
                    did_you_mean(fact, [t for t in logical if logical[t].kind is TableKind.fact]),
                )
        for column in area.columns():
            if column.table not in logical:
                yield ModelError(
                    column.span,
                    f"presentation column '{column.folder}.{column.name}' maps to unknown logical "
                    f"table '{column.table}'",
                    did_you_mean(column.table, logical),
                )
            elif column.column not in (names := [c.name for c in logical[column.table].columns]):
                yield ModelError(
                    column.span,
                    f"presentation column '{column.folder}.{column.name}' maps to unknown column "
                    f"'{column.column}' of '{column.table}'",
                    did_you_mean(column.column, names),
                )


# ---------------------------------------------------------------- security


def _security(model: Model) -> Iterator[ModelError]:
    security = model.security
    roles = {r.name for r in security.roles}
    users = {u.name for u in security.users}
    yield from _duplicated(security.roles, lambda r: r.name, "role")
    yield from _duplicated(security.users, lambda u: u.name, "user")
    if security.default_user and security.default_user not in users:
        yield ModelError(
            security.span,
            f"default user '{security.default_user}' is not a declared user",
            did_you_mean(security.default_user, users),
        )
    for user in security.users:
        for role in user.roles:
            if role not in roles:
                yield _unknown_role(user.span, f"user '{user.name}'", role, roles)
    for area in model.subject_areas:
        for item, where in [
            (area, f"subject area '{area.name}'"),
            *((f, f"folder '{f.name}'") for f in area.folders),
            *((c, f"column '{c.folder}.{c.name}'") for c in area.columns()),
        ]:
            for role in item.roles:
                if role not in roles:
                    yield _unknown_role(item.span, where, role, roles)
    databases = {d.name for d in model.databases}
    for block in security.init_blocks:
        if (block.sql is None) == (block.logical_sql is None) or (block.sql and not block.database):
            yield ModelError(
                block.span,
                f"init block '{block.name}' needs either 'database' and 'sql', or 'logical_sql'",
            )
        elif block.sql is not None and block.database not in databases:
            yield ModelError(
                block.span,
                f"init block '{block.name}' runs on unknown database '{block.database}'",
                did_you_mean(block.database, databases),
            )
    known = {"USER"} | {b_var.upper() for b in security.init_blocks for b_var in b.variables}
    known |= {name.upper() for u in security.users for name, _ in u.variables}
    for rule in security.row_filters:
        if rule.role not in roles:
            yield _unknown_role(rule.span, "row filter", rule.role, roles)
        if not _has(model, rule.table):
            yield _unknown_logical_table(model, rule.span, "row filter", rule.table)
            continue
        if rule.condition is None:
            continue
        for ref in columns_outside_valueof(rule.condition):
            owner = ref.table or rule.table
            try:
                column = model.logical_column(owner, ref.name)
            except KeyError:
                yield ModelError(
                    rule.span,
                    f"row filter refers to unknown logical column '{owner}.{ref.name}'",
                    'write logical columns as "Table"."Column"',
                )
                continue
            if column.kind is not ColumnKind.attribute:
                yield ModelError(rule.span, f"row filter uses measure '{owner}.{ref.name}'")
        for node in rule.condition.find_all(exp.Anonymous):
            name = session_variable(node)
            if name is not None and name not in known:
                yield ModelError(
                    rule.span,
                    f"row filter reads session variable {name}, which no user or init block sets",
                    did_you_mean(name, known),
                )


def _row_filter_paths(model: Model) -> Iterator[ModelError]:
    """A row filter whose condition reads tables that neither its own table nor any fact
    joins to it could never apply: the engine would refuse every request for that table."""
    for rule in model.security.row_filters:
        if rule.condition is None or not _has(model, rule.table):
            continue
        try:
            columns = [
                model.logical_column(ref.table or rule.table, ref.name)
                for ref in columns_outside_valueof(rule.condition)
            ]
        except KeyError:
            continue  # reported by _security
        if any(column.expr is None for column in columns):
            continue  # a measure or a formula: reported by _security
        reads = {c.table for column in columns for c in column.expr.find_all(exp.Column)}
        bases = {s.base for s in model.logical_table(rule.table).sources}
        facts = [
            s.base
            for t in model.logical_tables
            if t.kind is TableKind.fact
            for s in t.sources
            if not s.is_aggregate
        ]
        if any(reads <= set(model.join_paths(b)) for b in bases) or any(
            bases & set(model.join_paths(f)) and reads <= set(model.join_paths(f)) for f in facts
        ):
            continue
        yield ModelError(
            rule.span,
            f"row filter on '{rule.table}' reads {', '.join(sorted(reads))}, which neither "
            f"'{rule.table}' nor any fact joins to it: every request for '{rule.table}' "
            f"would be refused for role '{rule.role}'",
            f"filter on columns that '{rule.table}' reaches, or model a fact that joins both",
        )


def _rollups(model: Model) -> Iterator[ModelError]:
    roles = {r.name for r in model.security.roles}
    span = model.security.span
    for role, hierarchy, _ in model.security.rollups:
        if role not in roles:
            yield _unknown_role(span, "roll-up policy", role, roles)
        if hierarchy not in {h.name for h in model.hierarchies}:
            yield ModelError(
                span,
                f"roll-up policy of role '{role}' names unknown hierarchy '{hierarchy}'",
                did_you_mean(hierarchy, [h.name for h in model.hierarchies]),
            )


def _unknown_role(span, where: str, role: str, roles: set[str]) -> ModelError:
    return ModelError(span, f"{where} names unknown role '{role}'", did_you_mean(role, roles))
