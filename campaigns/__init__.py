"""Campaign lists, templates, channels, the sending runner and its ledger (issue: campaigns).

The UI and the CLI call these functions; every one of them takes the app store, and those
that read the warehouse take the engine and a user, so permissions and row filters apply.
"""

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

__all__ = [
    "CampaignList",
    "ListError",
    "Member",
    "freeze_analysis",
    "freeze_list",
    "get_list",
    "list_members",
    "list_versions",
]
