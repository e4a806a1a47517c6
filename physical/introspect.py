"""Read a live database's tables, columns, types, primary and foreign keys as physical YAML.

The output is a model file (`databases:` with one database) that `strata check` accepts:
column types are written in the model's own type names (DuckDB's, through sqlglot), a
foreign key becomes a many-to-one join, and a second foreign key to a table already
reached by another route is left out with a comment, since the model would see a join
cycle there (an alias table resolves it, which only the modeler can name).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from sqlglot import exp

from semantic.errors import StrataError


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, type in the model's dialect)
    primary_key: tuple[str, ...]


@dataclass(frozen=True)
class ForeignKey:
    table: str
    columns: tuple[str, ...]
    references: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...]


def introspect_postgres(conninfo: str, schema: str = "public") -> Schema:
    """Tables of `schema` in the PostgreSQL database at `conninfo`, from its catalog."""
    import psycopg

    try:
        connection = psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as e:
        from physical.postgres import _connect_error, _where

        raise StrataError(_connect_error("import", _where({"url": conninfo}), e)) from None
    with connection:
        columns = connection.execute(
            "SELECT c.table_name, c.column_name, format_type(a.atttypid, a.atttypmod) "
            "FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "JOIN pg_attribute a ON a.attrelid = format('%%I.%%I', c.table_schema, "
            "c.table_name)::regclass AND a.attname = c.column_name "
            "WHERE c.table_schema = %s AND t.table_type IN ('BASE TABLE', 'VIEW') "
            "ORDER BY c.table_name, c.ordinal_position",
            (schema,),
        ).fetchall()
        keys = connection.execute(
            "SELECT con.conrelid::regclass::text, con.contype, "
            "con.confrelid::regclass::text, "
            "ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i) "
            "      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n "
            "      ORDER BY k.i), "
            "ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i) "
            "      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n "
            "      ORDER BY k.i) "
            "FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace "
            "WHERE n.nspname = %s AND con.contype IN ('p', 'f') ORDER BY 1, con.conname",
            (schema,),
        ).fetchall()
    if not columns:
        raise StrataError(f"schema '{schema}' has no tables in that database")
    return _schema(columns, keys, "postgres")


def introspect_duckdb(path: str, schema: str = "main") -> Schema:
    """Tables of `schema` in the DuckDB file at `path`.

    >>> import duckdb, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.duckdb")
    >>> with duckdb.connect(path) as con:
    ...     _ = con.execute("CREATE TABLE a (id INT PRIMARY KEY); "
    ...                     "CREATE TABLE b (id INT PRIMARY KEY, a_id INT REFERENCES a (id))")
    >>> introspect_duckdb(path).foreign_keys
    (ForeignKey(table='b', columns=('a_id',), references='a', referenced_columns=('id',)),)
    """
    import duckdb

    with duckdb.connect(path, read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = ? AND NOT internal ORDER BY table_name, column_index",
            [schema],
        ).fetchall()
        keys = con.execute(
            "SELECT table_name, CASE constraint_type WHEN 'PRIMARY KEY' THEN 'p' ELSE 'f' END, "
            "referenced_table, constraint_column_names, referenced_column_names "
            "FROM duckdb_constraints() WHERE schema_name = ? "
            "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY table_name",
            [schema],
        ).fetchall()
    return _schema(columns, keys, "duckdb")


def _schema(columns, keys, dialect: str) -> Schema:
    tables: dict[str, list] = {}
    for table, column, kind in columns:
        tables.setdefault(table, []).append((column, _model_type(kind, dialect)))
    primary = {table: tuple(cols) for table, kind, _, cols, _ in keys if kind == "p"}
    foreign = tuple(
        ForeignKey(table, tuple(cols), ref.split(".")[-1].strip('"'), tuple(ref_cols))
        for table, kind, ref, cols, ref_cols in keys
        if kind == "f" and table in tables
    )
    return Schema(tuple(Table(n, tuple(c), primary.get(n, ())) for n, c in tables.items()), foreign)


def _model_type(kind: str, dialect: str) -> str:
    """A database's type name as the model writes it (DuckDB's SQL), lower case.

    >>> _model_type("character varying(40)", "postgres"), _model_type("numeric(12,2)", "postgres")
    ('varchar', 'decimal(12, 2)')
    """
    try:
        built = exp.DataType.build(kind, dialect=dialect)
    except Exception:
        return "varchar"  # a type sqlglot cannot read (a user-defined one): text is safe
    if built.is_type(*exp.DataType.TEXT_TYPES):
        return "varchar"  # lengths are the database's business; results are text either way
    return built.sql("duckdb").lower()


def physical_yaml(schema: Schema, database: str, dialect: str, connection: dict) -> str:
    """The model file for `schema`: one database, its tables and joins.

    >>> s = Schema((Table("a", (("id", "integer"),), ("id",)),
    ...             Table("b", (("id", "integer"), ("a_id", "integer")), ("id",))),
    ...            (ForeignKey("b", ("a_id",), "a", ("id",)),))
    >>> print(physical_yaml(s, "crm", "postgres", {"url": "postgresql://bi@db/crm"}))
    databases:
    - name: crm
      dialect: postgres
      connection:
        url: postgresql://bi@db/crm
      tables:
      - name: a
        primary_key: id
        columns:
          id: integer
      - name: b
        primary_key: id
        columns:
          id: integer
          a_id: integer
      joins:
      - from: b.a_id
        to: a.id
    <BLANKLINE>
    """
    tables = []
    for table in schema.tables:
        entry: dict = {"name": table.name}
        if table.primary_key:
            key = table.primary_key
            entry["primary_key"] = key[0] if len(key) == 1 else list(key)
        entry["columns"] = dict(table.columns)
        tables.append(entry)
    joins, skipped = _joins(schema)
    document: dict = {
        "databases": [
            {
                "name": database,
                "dialect": dialect,
                "connection": connection,
                "tables": tables,
                **({"joins": joins} if joins else {}),
            }
        ]
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    notes = "".join(
        f"# left out: {k.table}.{','.join(k.columns)} -> {k.references} "
        "(a second route to that table; declare an alias_of table for this role)\n"
        for k in skipped
    )
    return notes + text


def _joins(schema: Schema) -> tuple[list[dict], list[ForeignKey]]:
    """Foreign keys as joins, in catalog order, leaving out any that would give some table a
    second route to another (or a cycle): the model's check refuses those."""
    known = {t.name for t in schema.tables}
    every: dict[str, list[str]] = {}
    for key in schema.foreign_keys:
        every.setdefault(key.table, []).append(key.references)
    # Keys to tables that lead further first: of two routes, the one through the customer
    # (invoice -> customer -> area) keeps more of the schema than the shortcut to the area.
    ordered = sorted(schema.foreign_keys, key=lambda k: -len(_reachable(every, k.references)))
    edges: list[tuple[str, str]] = []
    joins, skipped = [], []
    for key in ordered:
        if key.references not in known:
            continue
        if _ambiguous([*edges, (key.table, key.references)]):
            skipped.append(key)
            continue
        edges.append((key.table, key.references))
        joins.append(
            {
                "from": _side(key.table, key.columns),
                "to": _side(key.references, key.referenced_columns),
            }
        )
    return joins, skipped


def _reachable(out: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in out.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _side(table: str, columns: tuple[str, ...]) -> str | list[str]:
    names = [f"{table}.{c}" for c in columns]
    return names[0] if len(names) == 1 else names


def _ambiguous(edges: list[tuple[str, str]]) -> bool:
    """Whether some table reaches another by two routes, or itself.

    >>> _ambiguous([("b", "a"), ("c", "b")]), _ambiguous([("b", "a"), ("c", "b"), ("c", "a")])
    (False, True)
    """
    out: dict[str, list[str]] = {}
    for many, one in edges:
        out.setdefault(many, []).append(one)
    return any(_walk(out, start, (start,), set()) for start in out)


def _walk(out: dict[str, list[str]], table: str, path: tuple[str, ...], seen: set[str]) -> bool:
    for target in out.get(table, ()):
        if target in path or target in seen:
            return True
        seen.add(target)
        if _walk(out, target, (*path, target), seen):
            return True
    return False
