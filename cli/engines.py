"""`strata import-schema`, and the demo on PostgreSQL or Spark (`strata demo --target`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from semantic.errors import StrataError

_URL_PASSWORD = re.compile(r"^(?P<head>[\w+]+://[^/@:]*):(?P<password>[^@/]*)@")


def without_password(url: str) -> tuple[str, bool]:
    """The URL without its password, and whether it had one.

    >>> without_password("postgresql://bi:s3cret@db:5432/crm")
    ('postgresql://bi@db:5432/crm', True)
    >>> without_password("postgresql://bi@db/crm")
    ('postgresql://bi@db/crm', False)
    """
    found = _URL_PASSWORD.match(url)
    if not found:
        return url, False
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}@", url, count=1), True


def _connection(url: str) -> dict[str, str]:
    """Settings for the model: never the password itself (strata check would refuse it)."""
    plain, had_password = without_password(url.replace("postgres://", "postgresql://", 1))
    return {"url": plain, **({"password": "${PGPASSWORD}"} if had_password else {})}


def demo_on_target(warehouse: Path, target: str, data: Path) -> str:
    """Load the demo warehouse into `target` and write the demo model for it; say how to use it."""
    from physical.load import load_into
    from physical.retarget import retarget

    if target == "spark":
        loaded = load_into(warehouse, "spark", data / "demo-parquet")
        connection = {"master": "local[*]", "parquet": "${STRATA_DATA:-data}/demo-parquet"}
    elif target.startswith(("postgres://", "postgresql://")):
        loaded = load_into(warehouse, target)
        connection = _connection(target)
    else:
        raise StrataError(f"unknown target '{target}'\n  hint: use postgresql://… or spark")
    dialect = "spark" if target == "spark" else "postgres"
    model = retarget(
        Path("models/demo"), data / f"demo-{dialect}", "warehouse", dialect, connection
    )
    rows = sum(n for _, n in loaded.tables)
    note = (
        " (set PGPASSWORD: the model reads the password from it)"
        if "password" in connection
        else ""
    )
    return (
        f"loaded {len(loaded.tables)} tables ({rows:,} rows) into {loaded.target}\n"
        f"model for it: {model}{note}\n"
        f'  strata query --model {model} \'SELECT "Time"."Year", "Facts"."Billed Amount" '
        'FROM "Billing"\''
    )


def import_schema(
    connection: Annotated[
        str,
        typer.Option(
            "--connection",
            "-c",
            help="postgresql://user[:password]@host:port/db, or a DuckDB file path.",
        ),
    ],
    schema: Annotated[
        str | None, typer.Option(help="Schema to read (default: public, or main for DuckDB).")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the database in the model.")] = "warehouse",
) -> None:
    """Print physical YAML for a live database: tables, columns, types, primary and foreign keys."""
    from physical.introspect import introspect_duckdb, introspect_postgres, physical_yaml

    try:
        if connection.startswith(("postgres://", "postgresql://")):
            found = introspect_postgres(
                connection.replace("postgres://", "postgresql://", 1), schema or "public"
            )
            text = physical_yaml(found, name, "postgres", _connection(connection))
        elif Path(connection).is_file():
            found = introspect_duckdb(connection, schema or "main")
            text = physical_yaml(found, name, "duckdb", {"path": str(connection)})
        else:
            raise StrataError(
                f"cannot read '{connection}'\n  hint: give a postgresql:// URL or a DuckDB file"
            )
    except StrataError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        "# yaml-language-server: $schema=../../semantic/strata.schema.json\n"
        "# Written by strata import-schema; add descriptions, cache_ttl and aliases by hand.\n"
        + text,
        nl=False,
    )
