"""`strata customers …`: import CSV files through saved mappings, find and merge duplicates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from cli import _user_errors

app = typer.Typer(help="The customer data hub: import, duplicates, merge.", no_args_is_help=True)
mapping_app = typer.Typer(help="Saved import mappings.", no_args_is_help=True)
app.add_typer(mapping_app, name="mapping")

HubOption = Annotated[
    Path | None,
    typer.Option("--hub", help="The hub file (default $STRATA_DATA/customers.duckdb)."),
]
UserOption = Annotated[str, typer.Option("--user", "-u", help="Who does it (audit rows).")]


def _read_mapping_file(path: Path):
    from customers.errors import MappingError
    from customers.mapping import parse_mapping

    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise MappingError(f"{path}: cannot read the mapping: {e}") from None
    if not isinstance(spec, dict):
        raise MappingError(f"{path}: a mapping file holds one mapping (name, source, fields)")
    return parse_mapping(spec)


@mapping_app.command("save")
@_user_errors
def mapping_save(
    file: Annotated[Path, typer.Argument(help="A mapping as YAML or JSON.")],
    user: UserOption = "admin",
) -> None:
    """Save (or replace) a mapping under the name it declares."""
    from customers.saved_mappings import save_mapping
    from store import open_store

    mapping = _read_mapping_file(file)
    with open_store() as store:
        save_mapping(store, mapping, user)
    typer.echo(f"saved mapping '{mapping.name}' ({len(mapping.fields)} fields)")


@mapping_app.command("list")
@_user_errors
def mapping_list() -> None:
    """The saved mappings with the columns they read."""
    from customers.saved_mappings import list_mappings
    from store import open_store

    with open_store() as store:
        mappings = list_mappings(store)
    for m in mappings:
        fields = ", ".join(f"{f.column}->{f.target}" for f in m.fields)
        typer.echo(f"{m.name}\t{m.source}\t{fields}")
    if not mappings:
        typer.echo("(no saved mappings)")


@mapping_app.command("show")
@_user_errors
def mapping_show(name: Annotated[str, typer.Argument(help="The mapping's name.")]) -> None:
    """Print a saved mapping as YAML (edit it and `mapping save` it back)."""
    from customers.mapping import to_spec
    from customers.saved_mappings import get_mapping
    from store import open_store

    with open_store() as store:
        mapping = get_mapping(store, name)
    typer.echo(yaml.safe_dump(to_spec(mapping), sort_keys=False, allow_unicode=True), nl=False)


def _mapping(name: str | None, file: Path | None):
    from customers.errors import MappingError
    from customers.saved_mappings import get_mapping
    from store import open_store

    if bool(name) == bool(file):
        raise MappingError("give either --mapping NAME or --mapping-file FILE")
    if file:
        return _read_mapping_file(file)
    with open_store() as store:
        return get_mapping(store, name)


@app.command("import")
@_user_errors
def import_(
    file: Annotated[Path, typer.Argument(help="The CSV file.")],
    mapping: Annotated[str | None, typer.Option("--mapping", help="A saved mapping.")] = None,
    mapping_file: Annotated[
        Path | None, typer.Option("--mapping-file", help="A mapping in a YAML/JSON file.")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Override the detected encoding.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="Override the detected delimiter.")] = None,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected rows to this CSV.")
    ] = None,
    chunk_rows: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Rows per committed chunk.",
            show_default="one DuckDB row group, 122,880",
        ),
    ] = None,
    check_duplicates: Annotated[
        bool,
        typer.Option(help="Hold rows that likely duplicate a customer (needs a dedupe run)."),
    ] = False,
    hub: HubOption = None,
) -> None:
    """Import a CSV file; an interrupted import of the same file resumes where it stopped."""
    from customers.entry_check import entry_checker
    from customers.hub import open_hub
    from customers.importer import CHUNK_ROWS, import_csv
    from customers.rejects import export_rejects

    chosen = _mapping(mapping, mapping_file)
    with open_hub(hub) as h:
        checker = entry_checker(h) if check_duplicates else None
        result = import_csv(
            h,
            file,
            chosen,
            encoding=encoding,
            delimiter=delimiter,
            chunk_rows=CHUNK_ROWS if chunk_rows is None else chunk_rows,
            progress=lambda n: typer.echo(f"  {n} rows committed"),
            checker=checker,
        )
        if rejects:
            export_rejects(h, result.batch_id, rejects)
    resumed = f", resumed after row {result.resumed_from}" if result.resumed_from else ""
    if result.resumed_from == result.rows_read:
        resumed = ", imported before: nothing to do"
    typer.echo(
        f"batch {result.batch_id}: {result.rows_read} read = {result.accepted} accepted + "
        f"{result.rejected} rejected ({result.encoding}, delimiter {result.delimiter!r}{resumed})"
    )
    if result.held_for_review:
        typer.echo(
            f"{result.held_for_review} accepted row(s) likely duplicate a customer and wait "
            "for review: strata customers held"
        )


@app.command("preview")
@_user_errors
def preview_(
    file: Annotated[Path, typer.Argument(help="The CSV file.")],
    mapping: Annotated[str | None, typer.Option("--mapping", help="A saved mapping.")] = None,
    mapping_file: Annotated[Path | None, typer.Option("--mapping-file")] = None,
    rows: Annotated[int, typer.Option(help="How many rows.")] = 10,
    encoding: Annotated[str | None, typer.Option()] = None,
    delimiter: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Show the first rows as the mapping would stage them, writing nothing."""
    from customers.preview import preview

    df = preview(file, _mapping(mapping, mapping_file), rows, encoding, delimiter)
    typer.echo(df.to_string(index=False))


@app.command("rejects")
@_user_errors
def rejects_(
    batch: Annotated[str, typer.Argument(help="The import batch id.")],
    out: Annotated[Path, typer.Argument(help="The CSV file to write.")],
    hub: HubOption = None,
) -> None:
    """Write a batch's rejected rows (row number, line, reasons, original values) as CSV."""
    from customers.hub import open_hub
    from customers.rejects import export_rejects

    with open_hub(hub) as h:
        n = export_rejects(h, batch, out)
    typer.echo(f"{n} rejected row(s) written to {out}")


@app.command("batches")
@_user_errors
def batches(hub: HubOption = None) -> None:
    """The import batches with their counts, oldest first."""
    from customers.hub import open_hub
    from customers.lookup import batches as import_batches

    with open_hub(hub) as h:
        found = import_batches(h)
    keys = ["batch", "status", "read", "accepted", "rejected", "file"]
    for row in found[keys].iloc[::-1].itertuples(index=False):
        typer.echo(json.dumps(dict(zip(keys, row, strict=True)), default=_plain))


@app.command("dedupe")
@_user_errors
def dedupe(
    threshold: Annotated[
        float, typer.Option(help="Cluster pairs at or above this match probability.")
    ] = 0.9,
    floor: Annotated[float, typer.Option(help="Keep pairs at or above this probability.")] = 0.3,
    coverage: Annotated[bool, typer.Option(help="Count the pairs each blocking rule adds.")] = True,
    hub: HubOption = None,
) -> None:
    """Find duplicate records: train Splink without labels, score blocked pairs, cluster."""
    from customers.cluster import cluster
    from customers.dedupe import find_duplicates
    from customers.hub import open_hub

    with open_hub(hub) as h:
        run = find_duplicates(h, floor=floor, with_coverage=coverage)
        typer.echo(
            f"run {run.run_id}: {run.records} records, compared on {', '.join(run.attributes)}"
        )
        if run.coverage:
            typer.echo("blocking rule coverage (pairs added, cumulative):")
        for c in run.coverage:
            typer.echo(f"  {c.pairs:>12,} {c.cumulative:>14,}  {c.rule}")
        typer.echo(f"{run.pairs:,} pairs with match probability >= {floor}")
        _echo_clusters(cluster(h, threshold, run.run_id))
        typer.echo("timings: " + ", ".join(f"{name} {s:.1f} s" for name, s in run.seconds))


@app.command("clusters")
@_user_errors
def clusters(
    threshold: Annotated[float, typer.Option(help="Match probability threshold.")] = 0.9,
    run: Annotated[int | None, typer.Option(help="The match run (default: latest).")] = None,
    hub: HubOption = None,
) -> None:
    """Cluster the latest run's pairs at another threshold (no retraining)."""
    from customers.cluster import cluster
    from customers.hub import open_hub

    with open_hub(hub) as h:
        _echo_clusters(cluster(h, threshold, run))


def _echo_clusters(c) -> None:
    typer.echo(
        f"at p >= {c.threshold}: {c.clusters:,} clusters hold {c.records_in_clusters:,} of "
        f"{c.records:,} records; sizes " + ", ".join(f"{n}x{size}" for size, n in c.sizes)
    )


@app.command("review")
@_user_errors
def review(
    threshold: Annotated[float, typer.Option(help="Cluster at this match probability.")] = 0.5,
    limit: Annotated[int, typer.Option(help="How many clusters.")] = 10,
    hub: HubOption = None,
) -> None:
    """The review queue: candidate clusters, most uncertain first, with per-field weights."""
    from customers.hub import open_hub
    from customers.review import compare, review_queue

    with open_hub(hub) as h:
        queue = review_queue(h, threshold, limit=limit)
        for item in queue:
            ids = " ".join(map(str, item.record_ids))
            typer.echo(
                f"cluster {item.cluster_id}: records {ids} (uncertainty {item.uncertainty:.2f})"
            )
            typer.echo(compare(h, item.record_ids).to_string())
            for p in item.pairs:
                weights = ", ".join(f"{name} {w:+.1f}" for name, w in p.field_weights)
                typer.echo(
                    f"  {p.record_id_l}-{p.record_id_r}: p {p.match_probability:.3f}, "
                    f"weight {p.match_weight:+.1f} = {weights}"
                )
            typer.echo(f"  merge: strata customers merge {ids}\n")
    if not queue:
        typer.echo("nothing to review")


@app.command("merge")
@_user_errors
def merge_(
    records: Annotated[list[int], typer.Argument(help="Record ids to merge (two or more).")],
    user: UserOption = "admin",
    note: Annotated[str | None, typer.Option(help="Why (kept in the audit row).")] = None,
    hub: HubOption = None,
) -> None:
    """Merge the records' entities into one golden record (survivorship per attribute)."""
    from customers.hub import open_hub
    from customers.merge import merge

    with open_hub(hub) as h:
        result = merge(h, records, user, note=note)
    typer.echo(
        f"merge event {result.event_id}: entity {result.entity_id} holds {result.record_ids}"
    )
    for g in result.golden:
        typer.echo(f"  {g.attribute:<15} {g.value!s:<30} record {g.record_id} ({g.rule})")


@app.command("unmerge")
@_user_errors
def unmerge_(
    event: Annotated[int, typer.Argument(help="The merge event to undo.")],
    user: UserOption = "admin",
    hub: HubOption = None,
) -> None:
    """Undo a merge: its records return to the entities they had before it."""
    from customers.hub import open_hub
    from customers.merge import unmerge

    with open_hub(hub) as h:
        undo = unmerge(h, event, user)
    typer.echo(f"merge {event} undone (event {undo})")


@app.command("history")
@_user_errors
def history(hub: HubOption = None) -> None:
    """Every merge and unmerge, newest first."""
    import pandas as pd

    from customers.hub import open_hub
    from customers.lookup import history as merge_history

    with open_hub(hub) as h:
        found = merge_history(h)
    for event, at, kind, entity, records, user, undone, note in found.itertuples(index=False):
        undone_text = f" (undone by {undone})" if pd.notna(undone) else ""
        ids = [int(r) for r in records]
        typer.echo(
            f"{event} {at:%Y-%m-%d %H:%M} {user}: {kind} {ids} -> entity {entity}"
            f"{undone_text}{' - ' + note if isinstance(note, str) and note else ''}"
        )


@app.command("held")
@_user_errors
def held(hub: HubOption = None) -> None:
    """Records held at import as likely duplicates, with the customer each resembles."""
    from customers.held import held_records
    from customers.hub import open_hub
    from customers.review import compare

    with open_hub(hub) as h:
        records = held_records(h)
        for r in records:
            typer.echo(
                f"record {r.record_id} resembles record {r.candidate_record_id} "
                f"(entity {r.candidate_entity_id}), p {r.match_probability:.3f}"
            )
            typer.echo(compare(h, [r.record_id, r.candidate_record_id]).to_string())
            typer.echo(f"  strata customers resolve {r.record_id} --same | --distinct\n")
    if not records:
        typer.echo("no records held for review")


@app.command("resolve")
@_user_errors
def resolve(
    record: Annotated[int, typer.Argument(help="The held record.")],
    same: Annotated[
        bool, typer.Option("--same/--distinct", help="The same customer, or another one.")
    ] = ...,
    user: UserOption = "admin",
    hub: HubOption = None,
) -> None:
    """Resolve a held record: merge it into its customer, or admit it as a new one."""
    from customers.held import resolve_held
    from customers.hub import open_hub

    with open_hub(hub) as h:
        result = resolve_held(h, record, same, user)
    if result:
        typer.echo(
            f"record {record} merged into entity {result.entity_id} (event {result.event_id})"
        )
    else:
        typer.echo(f"record {record} is a customer of its own")


@app.command("quality")
@_user_errors
def quality(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder.")] = Path(
        "models/demo"
    ),
    user: Annotated[str | None, typer.Option("--user", "-u", help="Run as this user.")] = None,
) -> None:
    """Duplicate and completeness figures, from the "Data Quality" subject area."""
    from customers.hub import open_hub
    from customers.quality import quality_report
    from engine import Engine

    # Opening the hub once for writing creates it, or the views a newer Strata reads.
    open_hub().close()
    engine = Engine.open(model)
    try:
        report = quality_report(engine, user)
    finally:
        engine.close()
    for name, table in report.tables:
        typer.echo(f"## {name}\n{table.to_string(index=False)}\n")


def _plain(value: object) -> object:
    """numpy numbers and pandas' missing values as JSON can hold them."""
    return None if value is None or value != value else getattr(value, "item", lambda: str(value))()
