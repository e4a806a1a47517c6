"""`strata campaign …`, `strata scheduler` and `strata unsubscribe-server`: thin shells over
the `campaigns` package, registered on the main app by one import in `cli/__init__.py`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from cli import DEFAULT_MODEL, ModelOption, _user_errors, app
from semantic.errors import StrataError

campaign_app = typer.Typer(
    help="Campaign lists, templates, pre-flight, launch and sending.", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")

NameArg = Annotated[str, typer.Argument(help="The campaign's name.")]
ActingUser = Annotated[str, typer.Option("--user", "-u", help="Who does this (and whose rights).")]
SeenBy = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        help="Act as this user: one sees the lists and campaigns one made, an administrator "
        "all of them (default: the model's default user).",
    ),
]


def _viewer(user: str | None, model: str):
    """The acting user as the model's security sees them (campaigns.visibility)."""
    from campaigns.visibility import viewer
    from engine import Engine

    engine = Engine.open(model)
    try:
        return viewer(engine, user)
    finally:
        engine.close()


def _store():
    from store import open_store

    return open_store()


@campaign_app.command("list-create")
@_user_errors
def list_create(
    name: Annotated[str, typer.Argument(help="The list's name; again = a new version.")],
    user: ActingUser,
    analysis: Annotated[str | None, typer.Option(help="A saved analysis to freeze.")] = None,
    folder: Annotated[str, typer.Option(help="The analysis' folder: my or shared.")] = "my",
    sql: Annotated[str | None, typer.Option(help="Logical SQL to freeze instead.")] = None,
    key: Annotated[str | None, typer.Option(help="Member key column (default: first).")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail column (default: guessed).")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone column (default: guessed).")] = None,
    hub: Annotated[
        Path | None,
        typer.Option(
            help="Customer hub whose merges collapse members (default: "
            "$STRATA_DATA/customers.duckdb, if it exists)."
        ),
    ] = None,
    hub_key: Annotated[
        str | None,
        typer.Option(help="Column holding hub source keys (default: Customer Number, else key)."),
    ] = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Freeze an analysis (or Logical SQL) as a campaign list, run as --user.

    Members that the customer hub merged into one person are kept once (at the golden
    record's address); the others are marked and excluded at pre-flight.
    """
    from campaigns.golden import default_hub
    from campaigns.lists import freeze_analysis, freeze_list, list_members
    from engine import Engine

    if (analysis is None) == (sql is None):
        raise StrataError("give either --analysis NAME or --sql '…'")
    engine = Engine.open(model)
    found = hub or default_hub()
    columns = {"key": key, "email": email, "phone": phone, "hub": found, "hub_key": hub_key}
    try:
        with _store() as store:
            if analysis is not None:
                frozen = freeze_analysis(engine, store, name, analysis, user, folder, **columns)
            else:
                frozen = freeze_list(engine, store, name, sql, user, **columns)
            collapsed = sum(1 for m in list_members(store, frozen) if m.merged_into)
    finally:
        engine.close()
    merged = f", {collapsed} merged into another member by the customer hub" if collapsed else ""
    typer.echo(
        f"list {frozen.name!r} version {frozen.version}: {frozen.row_count} members{merged} "
        f"(key {frozen.key_column!r}, e-mail {frozen.email_column!r}, "
        f"phone {frozen.phone_column!r}), content {frozen.content_hash[:12]}, "
        f"model {frozen.model_hash[:12]}"
    )


@campaign_app.command("create")
@_user_errors
def create(
    name: NameArg,
    list_name: Annotated[str, typer.Option("--list", help="The frozen list to send to.")],
    subject: Annotated[str, typer.Option(help="Subject template (Jinja2).")],
    text: Annotated[Path, typer.Option(help="Text body template file.")],
    user: ActingUser,
    version: Annotated[int | None, typer.Option(help="List version (default newest).")] = None,
    html: Annotated[Path | None, typer.Option(help="HTML body template file.")] = None,
    image: Annotated[
        list[Path] | None, typer.Option(help="Inline image file; HTML uses {{ cid('file.png') }}.")
    ] = None,
    attach: Annotated[list[Path] | None, typer.Option(help="Attachment file.")] = None,
    channel: Annotated[str, typer.Option(help="email or sms.")] = "email",
    control: Annotated[float, typer.Option(help="Share held out as control, 0..1.")] = 0.0,
    rate: Annotated[float | None, typer.Option(help="Messages per second at most.")] = None,
    per_hour: Annotated[int | None, typer.Option(help="Messages per hour at most.")] = None,
    model: ModelOption = DEFAULT_MODEL,
    track: Annotated[
        bool, typer.Option(help="Track opens (pixel) and clicks (HTML links), e-mail only.")
    ] = False,
) -> None:
    """Create a draft campaign: a frozen list, a template and its files, a control share."""
    from campaigns.campaign import create_campaign
    from campaigns.files import put_file
    from campaigns.lists import get_list
    from campaigns.templates import Template

    template = Template(
        subject,
        _read(text),
        _read(html) if html else None,
        tuple((p.name, put_file(_file(p))) for p in image or ()),
        tuple((p.name, put_file(_file(p))) for p in attach or ()),
    )
    seen_by = _viewer(user, model)
    with _store() as store:
        frozen = get_list(store, list_name, version, seen_by=seen_by)
        made = create_campaign(
            store,
            name,
            frozen,
            template,
            user,
            channel=channel,
            control_share=control,
            rate_per_second=rate,
            rate_per_hour=per_hour,
            tracking=track,
        )
    tracked = ", tracking opens and clicks" if made.tracking else ""
    typer.echo(f"campaign {made.name!r} (draft{tracked}) → list {frozen.name!r} v{frozen.version}")


@campaign_app.command("edit")
@_user_errors
def edit(
    name: NameArg,
    list_name: Annotated[str | None, typer.Option("--list", help="Send to this list.")] = None,
    version: Annotated[int | None, typer.Option(help="List version (default newest).")] = None,
    subject: Annotated[str | None, typer.Option(help="New subject template.")] = None,
    text: Annotated[Path | None, typer.Option(help="New text body template file.")] = None,
    html: Annotated[Path | None, typer.Option(help="New HTML body template file.")] = None,
    image: Annotated[
        list[Path] | None, typer.Option(help="Inline images (replace the draft's).")
    ] = None,
    attach: Annotated[list[Path] | None, typer.Option(help="Attachments (replace).")] = None,
    control: Annotated[float | None, typer.Option(help="Share held out, 0..1.")] = None,
    rate: Annotated[float | None, typer.Option(help="Messages per second; 0: no limit.")] = None,
    per_hour: Annotated[int | None, typer.Option(help="Messages per hour; 0: no limit.")] = None,
    track: Annotated[
        bool | None, typer.Option("--track/--no-track", help="Open and click tracking.")
    ] = None,
    user: SeenBy = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Change a draft campaign's list, template, control share, rate or tracking."""
    from dataclasses import replace

    from campaigns.campaign import get_campaign
    from campaigns.edit import KEEP, edit_draft
    from campaigns.files import put_file
    from campaigns.lists import get_list

    seen_by = _viewer(user, model)
    with _store() as store:
        current = get_campaign(store, name, seen_by)
        t = current.template
        changes = {
            "subject": subject if subject is not None else t.subject,
            "text": _read(text) if text else t.text,
            "html": _read(html) if html else t.html,
        }
        if image is not None:
            changes["images"] = tuple((p.name, put_file(_file(p))) for p in image)
        if attach is not None:
            changes["attachments"] = tuple((p.name, put_file(_file(p))) for p in attach)
        edited = edit_draft(
            store,
            current.id,
            frozen=get_list(store, list_name, version, seen_by=seen_by) if list_name else None,
            template=replace(t, **changes),
            control_share=control,
            rate_per_second=KEEP if rate is None else (rate or None),
            rate_per_hour=KEEP if per_hour is None else (per_hour or None),
            tracking=track,
        )
        frozen = get_list(store, list_id=edited.list_id)
    typer.echo(
        f"campaign {edited.name!r} (draft{', tracking' if edited.tracking else ''}) → list "
        f"{frozen.name!r} v{frozen.version}, control {edited.control_share:.0%}; run the "
        "pre-flight again before launch"
    )


@campaign_app.command("template")
@_user_errors
def template(
    name: NameArg,
    member: Annotated[str | None, typer.Option(help="Render this member (default first).")] = None,
    user: SeenBy = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Check the template against every member and show one member's rendered message."""
    from campaigns.campaign import get_campaign
    from campaigns.lists import get_list, list_members
    from campaigns.templates import preview, render_one

    seen_by = _viewer(user, model)
    with _store() as store:
        c = get_campaign(store, name, seen_by)
        members = list_members(store, get_list(store, list_id=c.list_id))
    checked = preview(c.template, ((m.key, m.fields) for m in members))
    for error in checked.errors:
        typer.echo(f"error: {error}", err=True)
    chosen = next((m for m in members if m.key == member), None) if member else members[0]
    if chosen is None:
        raise StrataError(f"member {member!r} is not on the list")
    if checked.ok:
        out = render_one(c.template, chosen.fields)
        typer.echo(f"Subject: {out.subject}\n\n{out.text}")
        if out.html is not None:
            typer.echo(f"\n--- HTML ---\n{out.html}")
    typer.echo(f"{checked.members} member(s) rendered, {checked.error_count} error(s)", err=True)
    if not checked.ok:
        raise typer.Exit(1)


@campaign_app.command("preflight")
@_user_errors
def preflight_command(
    name: NameArg, user: SeenBy = None, model: ModelOption = DEFAULT_MODEL
) -> None:
    """The pre-flight report: members, exclusions by reason, duration, samples, errors."""
    from campaigns.campaign import get_campaign
    from campaigns.preflight import preflight

    seen_by = _viewer(user, model)
    with _store() as store:
        report = preflight(store, get_campaign(store, name, seen_by))
    typer.echo("\n".join(report.lines()))
    if not report.ok:
        raise typer.Exit(1)


@campaign_app.command("launch")
@_user_errors
def launch_command(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking.")] = False,
    send: Annotated[bool, typer.Option(help="Start sending in this process.")] = True,
    user: SeenBy = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Show the pre-flight report, and on approval write the ledger and start sending."""
    from campaigns.campaign import get_campaign
    from campaigns.launch import launch
    from campaigns.preflight import preflight

    seen_by = _viewer(user, model)
    with _store() as store:
        chosen = get_campaign(store, name, seen_by)
        report = preflight(store, chosen)
        typer.echo("\n".join(report.lines()))
        if not yes and not typer.confirm("launch this campaign?"):
            raise typer.Exit(1)
        launch(store, chosen.id, report)
        typer.echo(f"campaign {name!r} is running")
    if send:
        run(name)


@campaign_app.command("run")
@_user_errors
def run(
    name: NameArg,
    workers: Annotated[
        int, typer.Option(min=1, help="Sender processes (one per core is a good start).")
    ] = 1,
) -> None:
    """Send a running campaign until it finishes (safe to run again after a crash)."""
    from campaigns.runner import run_campaign

    with _store() as store:
        report = run_campaign(store, name, workers=workers)
    if report.locked_out:
        typer.echo(f"campaign {report.campaign!r} is being sent by another process; nothing done")
        return
    done = ", ".join(f"{k} {v}" for k, v in report.outcomes.items() if v) or "nothing to send"
    lost = f"; {report.workers_lost} worker(s) died" if report.workers_lost else ""
    typer.echo(f"campaign {report.campaign!r}: {report.status} ({done}){lost}")


def _move(name: str, status: str, user: str | None, model: str) -> None:
    from campaigns.campaign import Status, get_campaign, set_status

    seen_by = _viewer(user, model)
    with _store() as store:
        moved = set_status(store, get_campaign(store, name, seen_by).id, Status(status))
    typer.echo(f"campaign {moved.name!r} is {moved.status}")


@campaign_app.command("pause")
@_user_errors
def pause(name: NameArg, user: SeenBy = None, model: ModelOption = DEFAULT_MODEL) -> None:
    """Pause a running campaign; its sender stops after the batch in flight."""
    _move(name, "paused", user, model)


@campaign_app.command("resume")
@_user_errors
def resume(name: NameArg, user: SeenBy = None, model: ModelOption = DEFAULT_MODEL) -> None:
    """Resume a paused campaign (then `strata campaign run`, or the scheduler, sends)."""
    _move(name, "running", user, model)


@campaign_app.command("cancel")
@_user_errors
def cancel(name: NameArg, user: SeenBy = None, model: ModelOption = DEFAULT_MODEL) -> None:
    """Cancel a campaign for good; what was sent stays in the ledger."""
    _move(name, "cancelled", user, model)


@campaign_app.command("schedule")
@_user_errors
def schedule(
    name: NameArg,
    at: Annotated[str, typer.Option(help="When, ISO 8601 with a zone: 2026-03-01T09:00+01:00.")],
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking.")] = False,
    user: SeenBy = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Approve the pre-flight report and let the scheduler start the campaign at --at."""
    from campaigns.campaign import get_campaign
    from campaigns.preflight import preflight
    from campaigns.schedule import schedule_campaign

    when = _when(at)
    seen_by = _viewer(user, model)
    with _store() as store:
        chosen = get_campaign(store, name, seen_by)
        report = preflight(store, chosen)
        typer.echo("\n".join(report.lines()))
        if not yes and not typer.confirm(f"schedule this campaign for {when.isoformat()}?"):
            raise typer.Exit(1)
        moved = schedule_campaign(store, chosen.id, when, report)
    typer.echo(f"campaign {moved.name!r} is scheduled for {when.isoformat()}")


@campaign_app.command("status")
@_user_errors
def status(
    name: Annotated[str | None, typer.Argument(help="One campaign.")] = None,
    user: SeenBy = None,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Campaigns with their status and ledger counts per state (those --user may see)."""
    from campaigns.campaign import get_campaign, list_campaigns
    from campaigns.events import engagement
    from campaigns.ledger import counts

    seen_by = _viewer(user, model)
    with _store() as store:
        chosen = [get_campaign(store, name, seen_by)] if name else list_campaigns(store, seen_by)
        for c in chosen:
            n = counts(store, c.id)
            states = ", ".join(f"{k} {v}" for k, v in n.items() if v) or "no ledger yet"
            if c.tracking:
                opened, clicked = engagement(store, c.id)
                states += f"; opened {opened}, clicked {clicked}"
            typer.echo(f"{c.name} [{c.channel}] {c.status}: {states}")
    if not chosen:
        typer.echo("(no campaigns)")


@app.command()
@_user_errors
def scheduler(
    once: Annotated[bool, typer.Option(help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 30.0,
    max_late: Annotated[
        float, typer.Option(help="Refuse to start a campaign more than this many minutes late.")
    ] = 60.0,
) -> None:
    """Start due campaigns and send running ones; a campaign long overdue waits for a human."""
    from campaigns.schedule import run_scheduler

    with _store() as store:
        run_scheduler(
            store,
            once=once,
            interval_s=interval,
            max_late=dt.timedelta(minutes=max_late),
            echo=typer.echo,
        )


@app.command("unsubscribe-server")
@_user_errors
def unsubscribe_server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8025,
) -> None:
    """Serve RFC 8058 one-click unsubscribe (POST /u/TOKEN) for the links campaigns send."""
    import uvicorn

    from campaigns.unsubscribe import unsubscribe_app

    uvicorn.run(unsubscribe_app(), host=host, port=port, log_level="warning")


def _read(path: Path) -> str:
    return _file(path).read_text(encoding="utf-8")


def _file(path: Path) -> Path:
    if not path.is_file():
        raise StrataError(f"{path}: no such file")
    return path


def _when(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise StrataError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-03-01T09:00+01:00"
        ) from None
    if when.tzinfo is None:
        raise StrataError(f"{text!r} has no time zone\n  hint: add one, e.g. {text}+01:00 or Z")
    return when
