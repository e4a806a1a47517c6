"""Load a model folder: read every YAML file, validate its shape, build the model, check it."""

from __future__ import annotations

import hashlib
import typing
from pathlib import Path
from types import MappingProxyType

import sqlglot
from pydantic import BaseModel, ValidationError
from sqlglot import exp

from semantic.errors import ModelError, ModelErrors, SourceSpan, did_you_mean
from semantic.join_paths import join_paths
from semantic.model import (
    ColumnKind,
    Database,
    Folder,
    GoldenTest,
    Hierarchy,
    InitBlock,
    Join,
    Level,
    LogicalColumn,
    LogicalSource,
    LogicalTable,
    Model,
    PhysicalTable,
    PresentationColumn,
    Role,
    RowFilter,
    Security,
    SubjectArea,
    User,
)
from semantic.spec import Cardinality, ModelFileSpec
from semantic.trees import without_positions
from semantic.yaml_source import Located, read_yaml

# Model expressions are written in DuckDB's SQL and generated for every dialect.
EXPRESSION_DIALECT = "duckdb"


def load_model(path: str | Path) -> Model:
    """Load and check the model in folder `path`; raise ModelErrors listing every problem.

    >>> model = load_model("models/demo")
    >>> [sa.name for sa in model.subject_areas]
    ['Campaign Results', 'Data Quality', 'Campaigns', 'Billing', 'Usage']
    """
    from semantic.check import check  # check needs the model classes; load is its only caller

    folder = Path(path)
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        raise ModelErrors(
            [ModelError(SourceSpan(str(folder), 1, 1), "no model files (*.yaml) here")]
        )
    errors: list[ModelError] = []
    docs = []
    for file in files:
        try:
            doc = read_yaml(file, _display(file))
        except ModelErrors as e:
            errors.extend(e.errors)
            continue
        spec = _validate(doc, errors)
        if spec is not None:
            docs.append((doc, spec))
    if errors:
        raise ModelErrors(errors)
    model = _build(str(folder), _hash(files), docs, errors)
    errors.extend(check(model))
    if errors:
        raise ModelErrors(errors)
    return model


def _display(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


# ---------------------------------------------------------------- shape


def _validate(doc: Located, errors: list[ModelError]) -> ModelFileSpec | None:
    if not isinstance(doc.data, dict):
        errors.append(ModelError(doc.span(()), "a model file must be a mapping of sections"))
        return None
    try:
        return ModelFileSpec.model_validate(doc.data)
    except ValidationError as e:
        for problem in e.errors():
            errors.append(_shape_error(doc, problem))
        return None


def _shape_error(doc: Located, problem: dict) -> ModelError:
    loc = tuple(p for p in problem["loc"] if isinstance(p, (str, int)))
    # Pydantic names the union branch it tried (e.g. 'str'); those are not YAML keys.
    path = tuple(p for p in loc if not (isinstance(p, str) and p in _TYPE_NAMES))
    where = _describe(path)
    kind = problem["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        return ModelError(
            doc.span(path),
            f"unknown key '{path[-1]}' in {_describe(path[:-1])}",
            did_you_mean(str(path[-1]), allowed) or f"expected one of: {', '.join(allowed)}",
        )
    if kind == "missing":
        return ModelError(doc.span(path[:-1]), f"{_describe(path[:-1])} needs the key '{path[-1]}'")
    return ModelError(doc.span(path), f"{where}: {problem['msg']}")


_TYPE_NAMES = {"str", "int", "float", "bool", "none", "tuple", "list", "dict"}


def _describe(path: tuple) -> str:
    named = [str(p) for p in path if isinstance(p, str)]
    return "'" + ".".join(named) + "'" if named else "the file"


def _allowed_keys(path: tuple) -> list[str]:
    cls: type[BaseModel] = ModelFileSpec
    for part in path:
        if isinstance(part, int):
            continue
        field = next((f for n, f in cls.model_fields.items() if (f.alias or n) == part), None)
        inner = _model_in(field.annotation) if field else None
        if inner is None:
            return []
        cls = inner
    return [f.alias or n for n, f in cls.model_fields.items()]


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if found := _model_in(arg):
            return found
    return None


# ---------------------------------------------------------------- build


def _build(path: str, digest: str, docs: list, errors: list[ModelError]) -> Model:
    databases, tables, joins = [], [], []
    logical, hierarchies, areas = [], [], []
    security = Security()
    tests = []
    for doc, spec in docs:
        for t, test in enumerate(spec.tests):
            expect = test.expect
            tests.append(
                GoldenTest(
                    test.name,
                    test.request,
                    test.user,
                    tuple(tuple(r) for r in expect.rows) if expect.rows is not None else None,
                    expect.row_count,
                    tuple(expect.values.items()) if expect.values is not None else None,
                    expect.ordered,
                    expect.tolerance,
                    doc.span(("tests", t)),
                )
            )
        if spec.security is not None:
            if security.span is not None:
                errors.append(
                    ModelError(
                        doc.span(("security",)),
                        f"a second 'security' section (the first is at {security.span})",
                        "keep users, roles and row filters in one file",
                    )
                )
            else:
                security = _security(spec.security, doc, errors)
        for d, db in enumerate(spec.databases):
            at = ("databases", d)
            databases.append(
                Database(db.name, db.dialect.value, tuple(db.connection.items()), doc.span(at))
            )
            by_name = {t.name: t for t in db.tables}
            for t, table in enumerate(db.tables):
                original = by_name.get(table.alias_of, table) if table.alias_of else table
                if table.alias_of and table.alias_of not in by_name:
                    errors.append(
                        ModelError(
                            doc.span((*at, "tables", t, "alias_of")),
                            f"table '{table.name}' is an alias of unknown table '{table.alias_of}'",
                            did_you_mean(table.alias_of, by_name),
                        )
                    )
                tables.append(
                    PhysicalTable(
                        name=table.name,
                        database=db.name,
                        table=original.table or original.name,
                        schema=original.schema_,
                        columns=tuple(original.columns.items()),
                        primary_key=original.primary_key,
                        span=doc.span((*at, "tables", t)),
                        cache_ttl=table.cache_ttl,
                    )
                )
            for j, join in enumerate(db.joins):
                joins.append(_join(join, doc.span((*at, "joins", j)), db.name))
        for t, table in enumerate(spec.logical_tables):
            logical.append(_logical_table(table, doc, ("logical_tables", t), errors))
        for h, hierarchy in enumerate(spec.hierarchies):
            at = ("hierarchies", h)
            levels = tuple(
                Level(
                    lv.name,
                    lv.key,
                    doc.span((*at, "levels", i)),
                    lv.chronological_key,
                    lv.columns,
                    lv.members,
                )
                for i, lv in enumerate(hierarchy.levels)
            )
            hierarchies.append(
                Hierarchy(hierarchy.name, hierarchy.table, levels, doc.span(at), hierarchy.time)
            )
        for a, area in enumerate(spec.subject_areas):
            areas.append(_subject_area(area, doc, ("subject_areas", a), errors))
    model = Model(
        path,
        digest,
        tuple(databases),
        tuple(tables),
        tuple(joins),
        tuple(logical),
        tuple(hierarchies),
        tuple(areas),
        security,
        tuple(tests),
    )
    return _indexed(model)


def _security(spec, doc: Located, errors: list[ModelError]) -> Security:
    at = ("security",)
    return Security(
        default_user=spec.default_user,
        roles=tuple(
            Role(r.name, r.administrator, doc.span((*at, "roles", i)))
            for i, r in enumerate(spec.roles)
        ),
        users=tuple(
            User(
                u.name,
                u.roles,
                tuple(
                    (name, tuple(value) if isinstance(value, list) else (value,))
                    for name, value in u.variables.items()
                ),
                doc.span((*at, "users", i)),
            )
            for i, u in enumerate(spec.users)
        ),
        init_blocks=tuple(
            InitBlock(
                b.name,
                b.database,
                b.sql,
                b.variables,
                doc.span((*at, "init_blocks", i)),
                b.logical_sql,
            )
            for i, b in enumerate(spec.init_blocks)
        ),
        row_filters=tuple(
            RowFilter(
                f.role,
                f.table,
                _expression(f.filter, doc.span((*at, "row_filters", i, "filter")), errors),
                doc.span((*at, "row_filters", i)),
            )
            for i, f in enumerate(spec.row_filters)
        ),
        span=doc.span(at),
        rollups=tuple((r.role, r.hierarchy, r.policy.value) for r in spec.rollups),
    )


def _join(join, span: SourceSpan, database: str) -> Join:
    many, one = join.from_, join.to
    if join.cardinality is Cardinality.one_to_many:
        many, one = one, many
    cardinality = (
        Cardinality.one_to_one
        if join.cardinality is Cardinality.one_to_one
        else Cardinality.many_to_one
    )
    many_table = many[0].split(".", 1)[0] if many else ""
    one_table = one[0].split(".", 1)[0] if one else ""
    return Join(
        many_table,
        tuple(c.split(".", 1)[-1] for c in many),
        one_table,
        tuple(c.split(".", 1)[-1] for c in one),
        cardinality,
        span,
        join.to_database,
        database,
        join.assume_integrity,
    )


def _logical_table(table, doc: Located, at: tuple, errors: list[ModelError]) -> LogicalTable:
    columns = []
    for c, col in enumerate(table.columns):
        here = (*at, "columns", c)
        if col.formula is not None:
            kind = ColumnKind.derived
        elif col.aggregation is not None:
            kind = ColumnKind.measure
        else:
            kind = ColumnKind.attribute
        if (col.expr is None) == (col.formula is None):
            errors.append(
                ModelError(
                    doc.span(here),
                    f"column '{col.name}' of '{table.name}' needs exactly one of 'expr' "
                    "(a physical expression) or 'formula' (over other logical columns)",
                )
            )
        if col.formula is not None and col.aggregation is not None:
            errors.append(
                ModelError(
                    doc.span((*here, "aggregation")),
                    f"derived column '{col.name}' is computed after aggregation; "
                    "remove its 'aggregation'",
                )
            )
        columns.append(
            LogicalColumn(
                table=table.name,
                name=col.name,
                kind=kind,
                expr=_expression(col.expr, doc.span((*here, "expr")), errors),
                aggregation=col.aggregation,
                formula=_expression(col.formula, doc.span((*here, "formula")), errors),
                description=col.description,
                span=doc.span(here),
                levels=tuple(col.level.items()),
                last_over=col.last_over,
            )
        )
    sources = tuple(
        LogicalSource(
            s.name or s.tables[0],
            s.tables,
            doc.span((*at, "sources", i)),
            tuple(s.content.items()),
            tuple(
                (name, _expression(text, doc.span((*at, "sources", i, "measures", name)), errors))
                for name, text in s.measures.items()
            ),
            _expression(s.fragment, doc.span((*at, "sources", i, "fragment")), errors),
            s.reads,
        )
        for i, s in enumerate(table.sources)
        if s.tables
    ) or _default_sources(table.name, columns, doc.span(at))
    return LogicalTable(
        table.name, table.kind, tuple(columns), sources, table.description, doc.span(at)
    )


def _default_sources(name: str, columns: list[LogicalColumn], span: SourceSpan) -> tuple:
    # Without declared sources, the tables the columns use form the only source; measures
    # come first so that a fact's base is the table its measures aggregate.
    ordered = sorted(columns, key=lambda c: c.kind is not ColumnKind.measure)
    tables: list[str] = []
    for column in ordered:
        for ref in column.expr.find_all(exp.Column) if column.expr is not None else ():
            if ref.table and ref.table not in tables:
                tables.append(ref.table)
    return (LogicalSource(name, tuple(tables), span),) if tables else ()


def _expression(text: str | None, span: SourceSpan, errors: list[ModelError]):
    if text is None:
        return None
    try:
        trees = [t for t in sqlglot.parse(str(text), read=EXPRESSION_DIALECT) if t is not None]
    except sqlglot.errors.SqlglotError as e:
        errors.append(ModelError(span, f"cannot parse expression {text!r}: {e}"))
        return None
    if len(trees) != 1 or isinstance(trees[0], _STATEMENTS):
        errors.append(
            ModelError(span, f"{text!r} is not one expression", "write a column or a formula")
        )
        return None
    return without_positions(trees[0])


# Whole statements: an expression in a model is one value, never a query or a command.
_STATEMENTS = (
    exp.Query,
    exp.Command,
    exp.Block,
    exp.Create,
    exp.Drop,
    exp.Insert,
    exp.Update,
    exp.Delete,
)


def _subject_area(area, doc: Located, at: tuple, errors: list[ModelError]) -> SubjectArea:
    folders = []
    for f, folder in enumerate(area.folders):
        columns = []
        for c, col in enumerate(folder.columns):
            span = doc.span((*at, "folders", f, "columns", c))
            table, dot, column = col.column.partition(".")
            if not dot:
                errors.append(
                    ModelError(span, f"'{col.column}' must name a logical column as Table.Column")
                )
            columns.append(
                PresentationColumn(
                    folder.name, col.name or column, table, column, col.description, span, col.roles
                )
            )
        folders.append(
            Folder(
                folder.name,
                tuple(columns),
                folder.description,
                doc.span((*at, "folders", f)),
                folder.roles,
            )
        )
    return SubjectArea(
        area.name, tuple(folders), area.implicit_facts, area.description, doc.span(at), area.roles
    )


def _levels(model: Model) -> dict[tuple[str, str], tuple]:
    """(logical table, column) -> ((hierarchy, depth), ...) for every attribute of a level."""
    found: dict[tuple[str, str], list] = {}
    for hierarchy in model.hierarchies:
        for depth, level in enumerate(hierarchy.levels):
            for column in level.attributes:
                found.setdefault((hierarchy.table, column), []).append((hierarchy, depth))
    return {k: tuple(v) for k, v in found.items()}


def _indexed(model: Model) -> Model:
    bases = {s.base for t in model.logical_tables for s in t.sources}
    index = {
        "tables": {t.name: t for t in model.tables},
        "databases": {d.name: d for d in model.databases},
        "logical_tables": {t.name: t for t in model.logical_tables},
        "logical_columns": {c.ref: c for t in model.logical_tables for c in t.columns},
        "subject_areas": {a.name: a for a in model.subject_areas},
        "join_paths": {base: MappingProxyType(join_paths(base, model.joins)[0]) for base in bases},
        "hierarchies": {h.name: h for h in model.hierarchies},
        "levels": _levels(model),
        # Filled while compiling (Model.derived): pieces that depend on the model alone.
        "derived": {},
    }
    return Model(
        model.path,
        model.hash,
        model.databases,
        model.tables,
        model.joins,
        model.logical_tables,
        model.hierarchies,
        model.subject_areas,
        model.security,
        model.tests,
        MappingProxyType(index),
    )
