"""The `strata` command: a thin shell over the Python API; bad input never shows a traceback."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli import engines
from semantic.dialects import Dialect as ModelDialect
from semantic.errors import ModelErrors, StrataError

app = typer.Typer(
    help="Strata: a three-layer semantic BI engine with campaign export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_MODEL = Path("models/demo")
ModelOption = Annotated[Path, typer.Option("--model", "-m", help="Model folder.")]
UserOption = Annotated[str | None, typer.Option("--user", "-u", help="Run as this user.")]


def demo_path() -> Path:
    """Where the demo warehouse lives: $STRATA_DATA (default data/) / demo.duckdb."""
    from physical.settings import data_folder

    return data_folder() / "demo.duckdb"


def _user_errors(command):
    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except StrataError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None

    return run


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# The model's dialects, plus Trino, which `explain` can target without a backend to run on.
Dialect = StrEnum("Dialect", [*(d.value for d in ModelDialect), "trino"])


@app.command()
@_user_errors
def demo(
    customers: Annotated[int, typer.Option(help="Number of customers.", min=1)] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    target: Annotated[
        str | None,
        typer.Option(help="Also load it into postgresql://… or spark (Parquet), with a model."),
    ] = None,
) -> None:
    """Build the demo warehouse (idempotent) and print where it is."""
    from physical.demo import build_demo

    built = build_demo(demo_path(), customers=customers, seed=seed)
    state = f"built in {built.seconds:.1f} s" if built.rebuilt else "already up to date"
    typer.echo(f"{built.path} ({built.customers:,} customers, seed {built.seed}): {state}")
    if target:
        from cli.engines import demo_on_target

        typer.echo(demo_on_target(built.path, target, built.path.parent))


@app.command()
def check(model_dir: Annotated[Path, typer.Argument(help="Model folder.")] = DEFAULT_MODEL) -> None:
    """Check a model: exit 1 with file:line:col lines on errors, else a one-line summary."""
    from semantic.load import load_model

    try:
        model = load_model(model_dir)
    except ModelErrors as e:
        for error in e.errors:
            typer.echo(str(error))
        typer.echo(f"{len(e.errors)} error(s) in {model_dir}", err=True)
        raise typer.Exit(1) from None
    except StrataError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    columns = sum(len(a.columns()) for a in model.subject_areas)
    typer.echo(
        f"{model_dir}: ok — {len(model.tables)} physical tables, "
        f"{len(model.logical_tables)} logical tables, {len(model.subject_areas)} subject areas, "
        f"{columns} presentation columns (model {model.hash[:12]})"
    )


@app.command()
@_user_errors
def query(
    sql: Annotated[str, typer.Argument(help="A Logical SQL request.")],
    model: ModelOption = DEFAULT_MODEL,
    user: UserOption = None,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Run a Logical SQL request and print the result."""
    from engine import Engine

    result = Engine.open(model).query(sql, user=user)
    if format is Format.csv:
        result.df.to_csv(sys.stdout, index=False)
    elif format is Format.json:
        typer.echo(result.df.to_json(orient="records", date_format="iso", force_ascii=False))
    else:
        table = result.df.to_string(index=False, na_rep="NULL")
        typer.echo(table if result.rows else "(no rows)")
        typer.echo(f"{result.rows} row(s)", err=True)


@app.command()
@_user_errors
def explain(
    sql: Annotated[str, typer.Argument(help="A Logical SQL request.")],
    model: ModelOption = DEFAULT_MODEL,
    user: UserOption = None,
    dialect: Annotated[Dialect | None, typer.Option(help="Target dialect.")] = None,
    compact: Annotated[bool, typer.Option(help="One line, exactly as it would run.")] = False,
    why: Annotated[
        bool, typer.Option(help="Then list the sources considered per fact, and why each lost.")
    ] = False,
) -> None:
    """Print the physical SQL a request compiles to, without running it."""
    from engine import Engine

    engine = Engine.open(model)
    target = dialect.value if dialect else None
    typer.echo(engine.explain(sql, target, user, pretty=not compact))
    if why:
        typer.echo("-- sources per fact (* chosen):")
        for c in engine.sources(sql, user):
            typer.echo(f"-- {'*' if c.chosen else ' '} {c.fact}: {c.source}: {c.reason}")


@app.command()
@_user_errors
def log(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's.")] = None,
    last: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
) -> None:
    """Show the query log: who asked what, when, how long it took, and what went wrong."""
    from store import open_store, recent_queries

    with open_store() as store:
        entries = recent_queries(store, user=user, last=last)
    for e in entries:
        total = sum(
            ms or 0
            for ms in (e.parse_ms, e.resolve_ms, e.plan_ms, e.generate_ms, e.execute_ms, e.fetch_ms)
        )
        cache = f"cache {e.cache}" if e.cache else "not cached"
        outcome = f"error: {e.error.splitlines()[0]}" if e.error else f"{e.rows} row(s), {cache}"
        typer.echo(f"{e.at:%Y-%m-%d %H:%M:%S} {e.user_name} {total:.1f} ms {outcome}")
        typer.echo(f"  {' '.join(e.logical_sql.split())}")
        for route in e.routes:
            typer.echo(f"  route: {route}")
    if not entries:
        typer.echo("(no requests logged)")


model_app = typer.Typer(help="Tools for modelers.", no_args_is_help=True)
app.command("import-schema")(_user_errors(engines.import_schema))
app.add_typer(model_app, name="model")


@model_app.command("schema")
def model_schema() -> None:
    """Print the JSON Schema of model files (editors validate and complete YAML with it)."""
    from semantic.schema import schema_text

    typer.echo(schema_text(), nl=False)


@model_app.command("diff")
@_user_errors
def model_diff(
    old: Annotated[str, typer.Argument(help="The model before: a folder, or REV:PATH in git.")],
    new: Annotated[str, typer.Argument(help="The model after: a folder, or REV:PATH in git.")],
) -> None:
    """What changed between two models, and which saved analyses it touches.

    Either side may be a git revision in git's own spelling, e.g. HEAD~1:models/demo."""
    import tempfile

    from engine.impact import affected_analyses
    from semantic.diff import diff_models
    from semantic.load import load_model
    from semantic.revision import is_revision, model_at_revision
    from store import all_analyses, open_store

    with tempfile.TemporaryDirectory(prefix="strata-diff-") as scratch:
        models = [
            load_model(model_at_revision(side, Path(scratch) / str(i)))
            if is_revision(side)
            else load_model(side)
            for i, side in enumerate((old, new))
        ]
    changes = diff_models(*models)
    for change in changes:
        typer.echo(str(change))
    if not changes:
        typer.echo("no changes")
        return
    from campaigns import list_versions

    with open_store() as store:
        touched = affected_analyses(changes, all_analyses(store))
        newest = {}
        for frozen in list_versions(store):  # newest first within a name
            newest.setdefault(frozen.name, frozen)
        lists = affected_analyses(changes, newest.values())
    if touched:
        typer.echo("\nsaved analyses that use what changed:")
    for analysis, change in touched:
        where = f"{analysis.owner}/{analysis.folder}/{analysis.name}"
        typer.echo(f"  {where}: {change.kind} {change.item}")
    if lists:
        # A frozen list never changes; its next freeze runs the same Logical SQL again.
        typer.echo("\ncampaign lists whose next freeze uses what changed:")
    for frozen, change in lists:
        typer.echo(
            f"  {frozen.name} (v{frozen.version}, {frozen.created_by}): {change.kind} {change.item}"
        )


@model_app.command("test")
@_user_errors
def model_test(
    model_dir: Annotated[Path, typer.Argument(help="Model folder.")] = DEFAULT_MODEL,
) -> None:
    """Run the model's golden queries (tests: in its YAML); exit 1 if any fails."""
    from engine import Engine
    from engine.model_tests import run_model_tests

    engine = Engine.open(model_dir)
    outcomes = run_model_tests(engine)
    engine.close()
    for outcome in outcomes:
        typer.echo(f"{'ok  ' if outcome.passed else 'FAIL'} {outcome.test.name}")
        if not outcome.passed:
            typer.echo(f"     {outcome.test.span}")
            typer.echo("\n".join("     " + line for line in outcome.failure.splitlines()))
    failed = sum(not o.passed for o in outcomes)
    typer.echo(f"{len(outcomes) - failed} of {len(outcomes)} golden queries as expected")
    if failed:
        raise typer.Exit(1)


cache_app = typer.Typer(help="The result cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
@_user_errors
def cache_clear() -> None:
    """Remove every cached result (each process's next request runs on the database)."""
    from engine.cache import ResultCache
    from physical.settings import data_folder

    removed = ResultCache(data_folder() / "cache").clear()
    typer.echo(f"removed {removed} cached result(s)")


@app.command()
@_user_errors
def users(model: ModelOption = DEFAULT_MODEL) -> None:
    """List users, their roles and their session variables as login resolves them."""
    from engine import Engine

    engine = Engine.open(model)
    security = engine.model.security
    if not security.users:
        typer.echo(f"{model}: no users declared; every request runs unrestricted")
        return
    for user in security.users:
        session = engine.session(user.name)
        kind = " (administrator)" if session.administrator else ""
        typer.echo(f"{user.name}{kind}: roles {', '.join(sorted(session.roles)) or '-'}")
        for name, values in sorted(session.variables.items()):
            typer.echo(f"  {name} = {', '.join(map(str, values)) or '(no values)'}")


@app.command()
@_user_errors
def serve(
    model: ModelOption = DEFAULT_MODEL,
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8501,
) -> None:
    """Start the Streamlit app; on the demo model, build the demo warehouse first if it is
    missing or was written by an older generator."""
    from semantic.load import load_model

    load_model(model)  # a broken model is reported here, not in the browser
    if model.resolve() == DEFAULT_MODEL.resolve():
        from physical.demo import refresh_demo

        built = refresh_demo(demo_path())
        if built.rebuilt:
            typer.echo(
                f"built the demo warehouse at {built.path} ({built.customers:,} customers, "
                f"seed {built.seed}) in {built.seconds:.1f} s"
            )
    spec = importlib.util.find_spec("app")
    if spec is None or spec.origin is None:
        raise StrataError("app.py is not installed; reinstall with `pip install -e .`")
    os.environ["STRATA_MODEL"] = str(model)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        spec.origin,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    os.execvp(command[0], command)


from cli import campaign as _campaign  # noqa: E402, F401  (registers `strata campaign …`)

app.add_typer(importlib.import_module("cli.customers").app, name="customers")


def main() -> None:
    app()
