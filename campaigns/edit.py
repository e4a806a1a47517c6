"""Edit a draft campaign: its list, template, control share, pace and tracking. Only a draft
changes; a scheduled campaign goes back to draft first (its approval is then void), and a
campaign that has started keeps what it was launched with, since its ledger, its messages and
its tracked links were made from exactly that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from campaigns.campaign import (
    Campaign,
    CampaignError,
    Status,
    check_settings,
    get_campaign,
)
from campaigns.lists import CampaignList, get_list
from campaigns.templates import Template
from store.connect import Store
from store.schema import campaign


@dataclass(frozen=True)
class _Keep:
    """Marks a setting the edit leaves as it is (None means "no limit" for the rates)."""


KEEP: Any = _Keep()


def edit_draft(
    store: Store,
    name_or_id: str | int,
    *,
    frozen: CampaignList | None = None,
    template: Template | None = None,
    control_share: float | None = None,
    rate_per_second: float | None = KEEP,
    rate_per_hour: int | None = KEEP,
    tracking: bool | None = None,
) -> Campaign:
    """Change what a draft campaign will send and how; what is not given stays.

    >>> from store import open_store
    >>> from campaigns.campaign import create_campaign, set_status
    >>> frozen = CampaignList(1, "L", 1, "", None, "", 0, "", "Id", "Email", None, (), "a", None)
    >>> with open_store("sqlite://") as store:
    ...     c = create_campaign(store, "Spring", frozen, Template("Hi", "x"), "alice")
    ...     edited = edit_draft(store, "Spring", frozen=frozen, template=Template("Hello", "y"))
    >>> edited.template.subject, edited.status
    ('Hello', <Status.DRAFT: 'draft'>)

    Refused (`CampaignError`) unless the campaign is a draft when the change is written.
    """
    current = get_campaign(store, name_or_id)
    lst = frozen or get_list(store, list_id=current.list_id)
    values: dict[str, Any] = {
        "list_id": lst.id,
        "template": (template or current.template).to_json(),
        "control_share": current.control_share if control_share is None else control_share,
        "rate_per_second": current.rate_per_second if rate_per_second is KEEP else rate_per_second,
        "rate_per_hour": current.rate_per_hour if rate_per_hour is KEEP else rate_per_hour,
        "tracking": current.tracking if tracking is None else tracking,
    }
    check_settings(
        lst,
        current.channel,
        values["control_share"],
        values["rate_per_second"],
        values["rate_per_hour"],
        values["tracking"],
    )

    def change(conn: Connection) -> None:
        # Only while it is still a draft: a launch racing this edit wins or loses as a whole.
        done = conn.execute(
            update(campaign)
            .where(campaign.c.id == current.id, campaign.c.status == Status.DRAFT.value)
            .values(**values)
        ).rowcount
        if not done:
            _refuse(_status(conn, current.id), current.name)

    store.write(change)
    return get_campaign(store, current.id)


def _status(conn: Connection, campaign_id: int) -> Status:
    return Status(
        conn.execute(select(campaign.c.status).where(campaign.c.id == campaign_id)).scalar_one()
    )


def _refuse(status: Status, name: str) -> None:
    hint = (
        "unschedule it first (it goes back to draft), edit it, then approve and schedule again"
        if status is Status.SCHEDULED
        else "a campaign sends what it was launched with; create a new draft with the change"
    )
    raise CampaignError(
        f"campaign {name!r} is {status}; only a draft can be edited\n  hint: {hint}"
    )
