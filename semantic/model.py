"""The resolved model: frozen dataclasses for the physical, business and presentation layers.

Look-ups by name are methods; they raise KeyError, and the engine turns a miss into a
user-facing error with a suggestion.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from sqlglot import exp

from semantic.errors import SourceSpan
from semantic.spec import Aggregation, Cardinality, TableKind

T = TypeVar("T")


class ColumnKind(StrEnum):
    attribute = "attribute"
    measure = "measure"
    derived = "derived"


# ---------------------------------------------------------------- physical


@dataclass(frozen=True)
class Database:
    name: str
    dialect: str
    connection: tuple[tuple[str, str], ...]
    span: SourceSpan


@dataclass(frozen=True)
class PhysicalTable:
    name: str  # the handle the model uses, and the SQL alias
    database: str
    table: str  # the name in the database
    schema: str | None
    columns: tuple[tuple[str, str], ...]  # (name, SQL type)
    primary_key: tuple[str, ...]
    span: SourceSpan
    cache_ttl: float | None = None

    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


@dataclass(frozen=True)
class Join:
    many: str  # table on the many side (both sides for one-to-one)
    many_columns: tuple[str, ...]
    one: str
    one_columns: tuple[str, ...]
    cardinality: Cardinality
    span: SourceSpan
    # A federated join: the 'to' table's database, which runs the queries that use it (the
    # declaring database's tables are read into it); None: both tables in one database.
    to_database: str | None = None
    declared_in: str = ""  # the database whose section declares the join

    @property
    def federated(self) -> bool:
        return self.to_database is not None

    # Every many-side key is non-NULL and found on the one side (declared in the model):
    # a join to the one side may be inner.
    assume_integrity: bool = False


@dataclass(frozen=True)
class JoinStep:
    """Reach `table` from a table already in the query through `join`."""

    table: str
    join: Join


# ---------------------------------------------------------------- business


@dataclass(frozen=True)
class LogicalColumn:
    table: str
    name: str
    kind: ColumnKind
    expr: exp.Expression | None = field(compare=False)  # physical, for attributes/measures
    aggregation: Aggregation | None
    formula: exp.Expression | None = field(compare=False)  # logical, for derived measures
    description: str | None
    span: SourceSpan
    # A level-based measure: (hierarchy, level) pairs it is fixed at; level "Total" is all.
    levels: tuple[tuple[str, str], ...] = ()
    # Semi-additive: the time hierarchy over which the last period's value is taken.
    last_over: str | None = None

    @property
    def ref(self) -> tuple[str, str]:
        return (self.table, self.name)


@dataclass(frozen=True)
class LogicalSource:
    name: str
    tables: tuple[str, ...]
    span: SourceSpan
    # An aggregate source holds rows at these levels (hierarchy, level); empty: detail rows.
    content: tuple[tuple[str, str], ...] = ()
    # Measure name -> physical expression of its partial aggregate in this source.
    measures: tuple[tuple[str, exp.Expression], ...] = field(default=(), compare=False)
    # A fragment: the condition (over logical columns) every row of this source meets.
    fragment: exp.Expression | None = field(default=None, compare=False)
    reads: str | None = None  # physical table read for the base (a fragment's own table)

    @property
    def is_aggregate(self) -> bool:
        return bool(self.content)

    @property
    def base(self) -> str:
        return self.tables[0]


@dataclass(frozen=True)
class LogicalTable:
    name: str
    kind: TableKind
    columns: tuple[LogicalColumn, ...]
    sources: tuple[LogicalSource, ...]
    description: str | None
    span: SourceSpan


@dataclass(frozen=True)
class Level:
    name: str
    key: str
    span: SourceSpan
    chronological_key: str | None = None
    columns: tuple[str, ...] = ()  # other attributes at this level
    members: int | None = None  # estimate, for aggregate navigation

    @property
    def attributes(self) -> tuple[str, ...]:
        return (self.key, *self.columns)


TOTAL = "Total"  # the level above every other: one member, the grand total


@dataclass(frozen=True)
class Hierarchy:
    name: str
    table: str
    levels: tuple[Level, ...]  # top (coarsest) first
    span: SourceSpan
    time: bool = False

    def depth(self, level: str) -> int:
        """Position of `level`, top first; the grand total is -1.

        >>> from semantic.errors import SourceSpan
        >>> s = SourceSpan("b.yaml", 1, 1)
        >>> h = Hierarchy("Time", "Time", (Level("Year", "Year", s), Level("Month", "Month", s)), s)
        >>> h.depth("Month"), h.depth("Total")
        (1, -1)
        """
        if level == TOTAL:
            return -1
        return next(i for i, lv in enumerate(self.levels) if lv.name == level)


# ---------------------------------------------------------------- presentation


@dataclass(frozen=True)
class PresentationColumn:
    folder: str
    name: str
    table: str  # logical table
    column: str  # logical column
    description: str | None
    span: SourceSpan
    roles: tuple[str, ...] = ()  # empty: everyone


@dataclass(frozen=True)
class Folder:
    name: str
    columns: tuple[PresentationColumn, ...]
    description: str | None
    span: SourceSpan
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubjectArea:
    name: str
    folders: tuple[Folder, ...]
    implicit_facts: tuple[str, ...]
    description: str | None
    span: SourceSpan
    roles: tuple[str, ...] = ()

    def columns(self) -> tuple[PresentationColumn, ...]:
        return tuple(c for f in self.folders for c in f.columns)


# ---------------------------------------------------------------- security


@dataclass(frozen=True)
class Role:
    name: str
    administrator: bool
    span: SourceSpan


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    variables: tuple[tuple[str, tuple], ...]  # (name, values)
    span: SourceSpan


@dataclass(frozen=True)
class InitBlock:
    name: str
    database: str | None  # with sql
    sql: str | None
    variables: tuple[str, ...]
    span: SourceSpan
    logical_sql: str | None = None


@dataclass(frozen=True)
class RowFilter:
    role: str
    table: str
    condition: exp.Expression = field(compare=False)  # over "Table"."Column"
    span: SourceSpan


@dataclass(frozen=True)
class Security:
    default_user: str | None = None
    roles: tuple[Role, ...] = ()
    users: tuple[User, ...] = ()
    init_blocks: tuple[InitBlock, ...] = ()
    row_filters: tuple[RowFilter, ...] = ()
    span: SourceSpan | None = None
    # (role, hierarchy, policy): totals above a row filter's level; partial unless declared.
    rollups: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class GoldenTest:
    """A request and what it must return on the model's data (`strata model test`)."""

    name: str
    request: str
    user: str | None
    rows: tuple[tuple, ...] | None
    row_count: int | None
    values: tuple[tuple[str, object], ...] | None
    ordered: bool
    tolerance: float
    span: SourceSpan


# ---------------------------------------------------------------- the whole


@dataclass(frozen=True, eq=False)
class Model:
    path: str
    hash: str  # sha256 over the model's files, names and contents
    databases: tuple[Database, ...]
    tables: tuple[PhysicalTable, ...]
    joins: tuple[Join, ...]
    logical_tables: tuple[LogicalTable, ...]
    hierarchies: tuple[Hierarchy, ...]
    subject_areas: tuple[SubjectArea, ...]
    security: Security = Security()
    tests: tuple[GoldenTest, ...] = ()
    # Derived indexes, built once at load time so that compiling a request stays cheap.
    _index: Mapping[str, Mapping] = field(default_factory=dict, repr=False)

    def table(self, name: str) -> PhysicalTable:
        return self._index["tables"][name]

    def database(self, name: str) -> Database:
        return self._index["databases"][name]

    def logical_table(self, name: str) -> LogicalTable:
        return self._index["logical_tables"][name]

    def logical_column(self, table: str, name: str) -> LogicalColumn:
        return self._index["logical_columns"][(table, name)]

    def subject_area(self, name: str) -> SubjectArea:
        return self._index["subject_areas"][name]

    def hierarchy(self, name: str) -> Hierarchy:
        return self._index["hierarchies"][name]

    def levels_of(self, table: str, column: str) -> tuple[tuple[Hierarchy, int], ...]:
        """The hierarchies a logical attribute belongs to, with its level's depth in each."""
        return self._index["levels"].get((table, column), ())

    def join_paths(self, base: str) -> Mapping[str, tuple[JoinStep, ...]]:
        """For each table reachable from `base` without fan-out, the joins that reach it."""
        return self._index["join_paths"][base]

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, computed once per model and `key`: what compiling a request derives
        from the model alone (and a session's roles), kept with the model it was derived
        from, so that it goes when the model goes. The value is shared: never change it.

        >>> from semantic import load_model
        >>> m = load_model("models/demo")
        >>> m.derived("answer", lambda: [42]) is m.derived("answer", lambda: [0])
        True
        """
        memo = self._index.get("derived")
        if memo is None:  # a model built without its indexes (load_model adds them)
            return compute()
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = compute()
            return value
