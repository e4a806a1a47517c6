"""What a modeler writes: the YAML file shape, as Pydantic models.

These validate the shape of a file (keys, types, enumerations) and are the single source
for its JSON Schema. Cross-references (a column naming a table) are checked later, on the
resolved model, by `semantic.check`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from semantic.dialects import Dialect


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


# One name or a list; the JSON Schema says so too, so editors accept both spellings.
Names = Annotated[
    tuple[str, ...], BeforeValidator(_as_list, json_schema_input_type=str | list[str])
]


class Cardinality(StrEnum):
    many_to_one = "many-to-one"
    one_to_many = "one-to-many"
    one_to_one = "one-to-one"


class Aggregation(StrEnum):
    sum = "sum"
    count = "count"
    count_distinct = "count_distinct"
    avg = "avg"
    min = "min"
    max = "max"


class TableKind(StrEnum):
    dimension = "dimension"
    fact = "fact"


class TableSpec(_Spec):
    name: str
    table: str | None = Field(None, description="Name in the database, if it differs from name")
    schema_: str | None = Field(None, alias="schema")
    cache_ttl: float | None = Field(
        None, description="Seconds a cached result over this table stays valid; none: until a load"
    )
    alias_of: str | None = Field(
        None, description="Another table of this database, in a second role"
    )
    primary_key: Names = ()
    columns: dict[str, str] = Field(default_factory=dict, description="column name: SQL type")
    description: str | None = None


class JoinSpec(_Spec):
    from_: Names = Field(alias="from", description="table.column on the many side, or a list")
    to: Names = Field(description="table.column on the one side, or a list")
    cardinality: Cardinality = Cardinality.many_to_one
    to_database: str | None = Field(
        None,
        description="Federation: the 'to' table lives in this other (DuckDB) database, which "
        "runs queries that use the join; this database's tables are read into it",
    )
    assume_integrity: bool = Field(
        False,
        description="Every row on the many side has a non-NULL key found on the one side "
        "(a NOT NULL, enforced foreign key): the engine may then use inner joins, which "
        "the database can reorder. Off: left joins, so a missing or NULL key is a NULL member",
    )


class DatabaseSpec(_Spec):
    name: str
    dialect: Dialect = Dialect.duckdb
    connection: dict[str, str] = Field(
        default_factory=dict,
        description="Settings; ${VAR} and ${VAR:-default} read the environment. No passwords here.",
    )
    tables: tuple[TableSpec, ...] = ()
    joins: tuple[JoinSpec, ...] = ()


class LogicalColumnSpec(_Spec):
    name: str
    expr: str | None = Field(None, description="Physical expression, e.g. invoice.billed_amount")
    aggregation: Aggregation | None = Field(None, description="Makes the column a measure")
    formula: str | None = Field(None, description="Derived measure over other logical columns")
    level: dict[str, str] = Field(
        default_factory=dict,
        description="Level-based measure: hierarchy -> the level it is fixed at ('Total': all)",
    )
    last_over: str | None = Field(
        None,
        description="Semi-additive: the value at the last period of this time hierarchy in each "
        "group, aggregated over the other dimensions (balances, active subscriptions)",
    )
    description: str | None = None


class SourceSpec(_Spec):
    name: str | None = None
    tables: Names = Field(description="Physical tables; the first is the base the others join to")
    content: dict[str, str] = Field(
        default_factory=dict,
        description="Aggregate source: hierarchy -> the lowest level its rows hold; "
        "hierarchies not named are not held",
    )
    measures: dict[str, str] = Field(
        default_factory=dict,
        description="Aggregate source: measure -> physical expression holding its partial "
        "aggregate (sum for sum and count, min, max)",
    )
    fragment: str | None = Field(
        None,
        description="A fragment of the detail: the condition its rows meet, over logical "
        'columns (e.g. "Time"."Year" >= 2026); the fact\'s fragments together hold every row',
    )
    reads: str | None = Field(
        None,
        description="Physical table whose rows the base table stands for in this source "
        "(same columns), e.g. the archive table of a fragment",
    )


class LogicalTableSpec(_Spec):
    name: str
    kind: TableKind
    columns: tuple[LogicalColumnSpec, ...] = ()
    sources: tuple[SourceSpec, ...] = ()
    description: str | None = None


class LevelSpec(_Spec):
    name: str
    key: str = Field(description="Logical column of the hierarchy's table that identifies a member")
    chronological_key: str | None = Field(
        None, description="Time hierarchies: logical column that sorts members in time order"
    )
    columns: Names = Field((), description="Other logical columns at this level (descriptions)")
    members: int | None = Field(
        None, description="About how many members; aggregate navigation prefers fewer rows"
    )


class HierarchySpec(_Spec):
    name: str
    table: str
    time: bool = Field(False, description="A time dimension: AGO, TODATE, PERIODROLLING use it")
    levels: tuple[LevelSpec, ...]


Roles = Annotated[
    tuple[str, ...],
    BeforeValidator(_as_list, json_schema_input_type=str | list[str]),
    Field(description="Roles that may see this; empty: everyone. Administrators see all."),
]


class PresentationColumnSpec(_Spec):
    column: str = Field(description="Logical column as Table.Column")
    name: str | None = Field(None, description="Display name; defaults to the logical column's")
    description: str | None = None
    roles: Roles = ()


def _column_shorthand(value: object) -> object:
    return {"column": value} if isinstance(value, str) else value


class FolderSpec(_Spec):
    name: str
    description: str | None = None
    roles: Roles = ()
    columns: tuple[
        Annotated[
            PresentationColumnSpec,
            BeforeValidator(_column_shorthand, json_schema_input_type=str | PresentationColumnSpec),
        ],
        ...,
    ] = ()


class SubjectAreaSpec(_Spec):
    name: str
    description: str | None = None
    roles: Roles = ()
    implicit_facts: Names = Field(
        (), description="Facts that answer a request without measures, tried in this order"
    )
    folders: tuple[FolderSpec, ...] = ()


Value = str | int | float | bool


class RoleSpec(_Spec):
    name: str
    administrator: bool = Field(False, description="Sees every object and every row")
    description: str | None = None


class UserSpec(_Spec):
    name: str
    roles: Names = ()
    variables: dict[str, Value | list[Value]] = Field(
        default_factory=dict, description="Session variables set for this user at login"
    )
    description: str | None = None


class InitBlockSpec(_Spec):
    name: str
    database: str | None = Field(None, description="The model database `sql` runs on")
    sql: str | None = Field(None, description="Physical SQL; $user is the user's name, bound")
    logical_sql: str | None = Field(
        None, description="Or Logical SQL, run unrestricted; VALUEOF(NQ_SESSION.USER) is the user"
    )
    variables: Names = Field(
        description="Variables set from the columns, in order; every row adds a value"
    )


class RowFilterSpec(_Spec):
    role: str
    table: str = Field(description="Logical table whose rows the role may see")
    filter: str = Field(description='Condition over logical columns, e.g. "Customer"."Area" = ...')


class Rollup(StrEnum):
    partial = "partial"
    full = "full"
    hidden = "hidden"


class RollupSpec(_Spec):
    role: str
    hierarchy: str
    policy: Rollup = Field(
        description="partial: totals of the members the role sees (the default); full: totals "
        "of every member, hidden ones included; hidden: no totals above the filter's level"
    )


class SecuritySpec(_Spec):
    default_user: str | None = Field(None, description="Who runs requests that name no user")
    roles: tuple[RoleSpec, ...] = ()
    users: tuple[UserSpec, ...] = ()
    init_blocks: tuple[InitBlockSpec, ...] = ()
    row_filters: tuple[RowFilterSpec, ...] = ()
    rollups: tuple[RollupSpec, ...] = Field(
        (), description="How totals above a row filter's level are computed, per role and hierarchy"
    )


class ExpectSpec(_Spec):
    rows: list[list[Value | None]] | None = Field(
        None, description="Every row, in order if ordered"
    )
    row_count: int | None = None
    values: dict[str, Value | None] | None = Field(None, description="The first row, by column")
    ordered: bool = False
    tolerance: float = Field(1e-6, description="Largest difference allowed between numbers")


class GoldenTestSpec(_Spec):
    name: str
    request: str = Field(description="A Logical SQL request")
    user: str | None = Field(None, description="Run as this user (default: the model's)")
    expect: ExpectSpec


class ModelFileSpec(_Spec):
    """One YAML file of a model; any file may hold any of the sections."""

    databases: tuple[DatabaseSpec, ...] = ()
    logical_tables: tuple[LogicalTableSpec, ...] = ()
    hierarchies: tuple[HierarchySpec, ...] = ()
    subject_areas: tuple[SubjectAreaSpec, ...] = ()
    security: SecuritySpec | None = None
    tests: tuple[GoldenTestSpec, ...] = Field((), description="Golden queries: strata model test")
