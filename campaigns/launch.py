"""Launch an approved campaign: check the approval is for this list and this template, write
every member's ledger row (pending, suppressed with its reason, or control), then mark the
campaign running. Rows are written before anything is sent; launching twice adds nothing."""

from __future__ import annotations

from campaigns.campaign import Campaign, CampaignError, Status, get_campaign, set_status
from campaigns.exclusions import decide
from campaigns.ledger import write_ledger
from campaigns.lists import get_list, list_members
from campaigns.preflight import Preflight, template_hash
from campaigns.settings import SendSettings
from campaigns.suppression import suppressed
from campaigns.tracking import tracking_ready
from store.connect import Store


def launch(
    store: Store,
    name_or_id: str | int,
    approved: Preflight,
    settings: SendSettings | None = None,
) -> Campaign:
    """Write the ledger and start the campaign (draft or scheduled → running).

    Example: `tests/test_campaign_sending.py::test_launch_needs_the_preflight_of_this_campaign`.
    """
    settings = settings or SendSettings.from_env()
    campaign = get_campaign(store, name_or_id)
    check_approval(store, campaign, approved)
    if campaign.tracking:
        tracking_ready(settings)  # before the ledger: a launch that cannot send changes nothing
    frozen = get_list(store, list_id=campaign.list_id)
    # Decided again now, not taken from the report: an unsubscribe since approval must count.
    decisions = decide(
        list_members(store, frozen),
        campaign.channel,
        campaign.id,
        campaign.control_share,
        suppressed(store, campaign.channel),
    )
    write_ledger(store, campaign.id, campaign.channel, decisions, settings.sender_domain)
    return set_status(store, campaign.id, Status.RUNNING, expected=campaign.status)


def check_approval(store: Store, campaign: Campaign, approved: Preflight) -> None:
    """Refuse a report made for another campaign, list or template, or one with errors."""
    frozen = get_list(store, list_id=campaign.list_id)
    if approved.campaign_id != campaign.id:
        raise CampaignError(
            f"the pre-flight report is for campaign {approved.campaign!r}, not {campaign.name!r}"
        )
    if (approved.content_hash, approved.template_hash) != (
        frozen.content_hash,
        template_hash(campaign),
    ):
        raise CampaignError(
            f"campaign {campaign.name!r} changed since its pre-flight report\n"
            "  hint: run the pre-flight again and approve the new report"
        )
    if not approved.ok:
        raise CampaignError(
            f"campaign {campaign.name!r} has {approved.error_count} template error(s)\n"
            "  hint: fix the template; the pre-flight report lists the first ones"
        )
