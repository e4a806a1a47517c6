"""A campaign: a frozen list, a channel, a template, a control share and a rate, moving through
the status machine draft → scheduled → running ⇄ paused → finished, or cancelled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from campaigns.lists import CampaignList
from campaigns.templates import Template
from campaigns.visibility import Viewer, visible
from semantic.errors import StrataError, did_you_mean
from store.connect import Store
from store.schema import campaign, now_utc

_c = campaign.c


class Status(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


# Which status may follow which; anything else is refused with the allowed moves as the hint.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.SCHEDULED, Status.RUNNING, Status.CANCELLED}),
    Status.SCHEDULED: frozenset({Status.DRAFT, Status.RUNNING, Status.CANCELLED}),
    Status.RUNNING: frozenset({Status.PAUSED, Status.FINISHED, Status.CANCELLED}),
    Status.PAUSED: frozenset({Status.RUNNING, Status.CANCELLED}),
    Status.CANCELLED: frozenset(),
    Status.FINISHED: frozenset(),
}
CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    list_id: int
    channel: str
    template: Template
    control_share: float
    status: Status
    scheduled_at: dt.datetime | None
    rate_per_second: float | None
    rate_per_hour: int | None
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class CampaignError(StrataError):
    """A campaign cannot be found, created or moved to the status asked for."""


def create_campaign(
    store: Store,
    name: str,
    frozen: CampaignList,
    template: Template,
    created_by: str,
    *,
    channel: str = "email",
    control_share: float = 0.0,
    rate_per_second: float | None = None,
    rate_per_hour: int | None = None,
) -> Campaign:
    """A new draft campaign that will send `template` to the members of `frozen`.

    >>> from store import open_store
    >>> from campaigns.lists import CampaignList
    >>> frozen = CampaignList(1, "L", 1, "", None, "", 0, "", "Id", "Email", None, (), "a", None)
    >>> with open_store("sqlite://") as store:
    ...     c = create_campaign(store, "Spring", frozen, Template("Hi", "x"), "alice")
    ...     c.status, set_status(store, "Spring", Status.RUNNING).status
    (<Status.DRAFT: 'draft'>, <Status.RUNNING: 'running'>)
    """
    if channel not in CHANNELS:
        raise CampaignError(f"unknown channel {channel!r}\n  hint: one of {', '.join(CHANNELS)}")
    if not 0.0 <= control_share < 1.0:
        raise CampaignError(
            f"control share {control_share} is out of range\n"
            "  hint: a share of the list between 0 (no control group) and 1, e.g. 0.1"
        )
    for value, what in ((rate_per_second, "per second"), (rate_per_hour, "per hour")):
        if value is not None and value <= 0:
            raise CampaignError(f"a rate {what} must be positive, got {value}")
    address = frozen.email_column if channel == "email" else frozen.phone_column
    if address is None:
        raise CampaignError(
            f"list {frozen.name!r} has no {'e-mail' if channel == 'email' else 'phone'} column\n"
            "  hint: freeze it again with the address column selected (or named with --email "
            "/ --phone)"
        )

    def add(conn: Connection) -> int:
        return conn.execute(
            insert(campaign)
            .values(
                name=name,
                list_id=frozen.id,
                channel=channel,
                template=template.to_json(),
                control_share=control_share,
                status=Status.DRAFT.value,
                rate_per_second=rate_per_second,
                rate_per_hour=rate_per_hour,
                created_by=created_by,
                created_at=now_utc(),
            )
            .returning(_c.id)
        ).scalar_one()

    try:
        return get_campaign(store, store.write(add))
    except IntegrityError:
        raise CampaignError(
            f"a campaign named {name!r} already exists\n  hint: pick another name"
        ) from None


def get_campaign(store: Store, name_or_id: str | int, seen_by: Viewer | None = None) -> Campaign:
    """A campaign by name or id; an unknown name gets the closest one as a hint.

    With `seen_by`, another user's campaign is not found, exactly as a missing one, and only
    the viewer's own names are suggested (None: the system, which sees every campaign).
    """
    return store.read(lambda conn: _get(conn, name_or_id, seen_by))


def list_campaigns(store: Store, seen_by: Viewer | None = None) -> list[Campaign]:
    """Every campaign `seen_by` may open (None: all), newest first."""
    ids = store.read(lambda c: c.execute(select(_c.id).order_by(_c.id.desc())).scalars().all())
    return visible((get_campaign(store, i) for i in ids), seen_by)


def set_status(
    store: Store,
    name_or_id: str | int,
    status: Status,
    *,
    expected: Status | None = None,
    scheduled_at: dt.datetime | None = None,
) -> Campaign:
    """Move a campaign to `status` if the machine allows it (and, with `expected`, only from
    that status: a scheduler and a user racing to start one campaign cannot both win)."""

    def move(conn: Connection) -> int:
        current = _get(conn, name_or_id)
        if expected is not None and current.status is not expected:
            raise CampaignError(f"campaign {current.name!r} is {current.status}, not {expected}")
        if status not in TRANSITIONS[current.status]:
            allowed = ", ".join(sorted(TRANSITIONS[current.status])) or "none (it is over)"
            raise CampaignError(
                f"campaign {current.name!r} is {current.status} and cannot become {status}\n"
                f"  hint: from {current.status} it can become: {allowed}"
            )
        values: dict = {"status": status.value}
        if status is Status.SCHEDULED:
            if scheduled_at is None or scheduled_at.tzinfo is None:
                raise CampaignError("scheduling needs a time with a time zone, e.g. ...T09:00Z")
            values["scheduled_at"] = scheduled_at
        if status is Status.RUNNING and current.started_at is None:
            values["started_at"] = now_utc()
        if status in (Status.FINISHED, Status.CANCELLED):
            values["finished_at"] = now_utc()
        conn.execute(update(campaign).where(_c.id == current.id).values(**values))
        return current.id

    return get_campaign(store, store.write(move))


def _get(conn: Connection, name_or_id: str | int, seen_by: Viewer | None = None) -> Campaign:
    column = _c.id if isinstance(name_or_id, int) else _c.name
    query, names_query = select(campaign).where(column == name_or_id), select(_c.name)
    if seen_by is not None and not seen_by.administrator:
        query = query.where(_c.created_by == seen_by.name)
        names_query = names_query.where(_c.created_by == seen_by.name)
    row = conn.execute(query).one_or_none()
    if row is None:
        names = conn.execute(names_query).scalars().all()
        hint = did_you_mean(str(name_or_id), names) or "see `strata campaign status`"
        raise CampaignError(f"no campaign {name_or_id!r}\n  hint: {hint}")
    values = dict(row._mapping)
    for private in ("lock_owner", "lock_until"):
        values.pop(private)
    return Campaign(
        **{
            **values,
            "template": Template.from_json(values["template"]),
            "status": Status(values["status"]),
        }
    )
