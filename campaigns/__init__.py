"""Campaign lists, templates, channels, the sending runner and its ledger (issue: campaigns).

The UI and the CLI call these functions; every one of them takes the app store, and those
that read the warehouse take the engine and a user, so permissions and row filters apply.
The usual path: `freeze_list` → `create_campaign` → `preflight` → `launch` (or
`schedule_campaign`) → `run_campaign`; then `record_responses` for lift.
"""

from campaigns.campaign import (
    Campaign,
    CampaignError,
    Status,
    create_campaign,
    get_campaign,
    list_campaigns,
    set_status,
)
from campaigns.launch import launch
from campaigns.ledger import counts, ledger_rows
from campaigns.lists import (
    CampaignList,
    ListError,
    Member,
    freeze_analysis,
    freeze_list,
    get_list,
    list_members,
    list_versions,
)
from campaigns.preflight import Preflight, preflight
from campaigns.responses import add_responses, record_responses
from campaigns.runner import RunReport, run_campaign
from campaigns.schedule import schedule_campaign, tick
from campaigns.settings import SendSettings
from campaigns.suppression import suppress, suppressed
from campaigns.templates import Template, TemplateErrors, preview, render_one
from campaigns.visibility import Viewer, viewer, visible

__all__ = [
    "Campaign",
    "CampaignError",
    "CampaignList",
    "ListError",
    "Member",
    "Preflight",
    "RunReport",
    "SendSettings",
    "Status",
    "Template",
    "TemplateErrors",
    "Viewer",
    "add_responses",
    "counts",
    "create_campaign",
    "freeze_analysis",
    "freeze_list",
    "get_campaign",
    "get_list",
    "launch",
    "ledger_rows",
    "list_campaigns",
    "list_members",
    "list_versions",
    "preflight",
    "preview",
    "record_responses",
    "render_one",
    "run_campaign",
    "schedule_campaign",
    "set_status",
    "suppress",
    "suppressed",
    "tick",
    "viewer",
    "visible",
]
