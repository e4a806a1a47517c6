"""Delivered messages, opens and clicks per campaign, and clicks per link, asked of the
"Campaign Results" subject area through the engine as the viewing user.

The Monitor shows these beside the ledger counts. They are ordinary Logical SQL requests, so
the user's permissions and row filters apply exactly as in any analysis: an area office
counts its own customers only. Which campaigns to ask about is the caller's (the campaigns
`seen_by` may open); the engine then decides which of their rows the user may see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.analysis import Analysis, Condition, FilterGroup, Selected, to_logical_sql

AREA = "Campaign Results"
_TOTALS = (
    ("Facts", "# Sent", "delivered"),
    ("Facts", "# Opened", "opened"),
    ("Facts", "# Clicked", "clicked"),
)


@dataclass(frozen=True)
class LinkClicks:
    url: str
    clicked: int  # members who clicked this link at least once


@dataclass(frozen=True)
class Engagement:
    """One campaign's figures: members delivered to (ledger state sent), members who opened
    (the pixel, or a click), members who clicked; rates over delivered, as the model's Open
    Rate and Click Rate; and per link the members who clicked it, most clicked first."""

    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    links: tuple[LinkClicks, ...] = ()

    @property
    def open_rate(self) -> float | None:
        """
        >>> Engagement(4, 3, 1).open_rate, Engagement().open_rate
        (0.75, None)
        """
        return self.opened / self.delivered if self.delivered else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.delivered if self.delivered else None


def engagement_requests(names: Sequence[str]) -> tuple[str, str]:
    """The two requests: totals per campaign, and members who clicked per campaign and link.

    >>> totals, links = engagement_requests(["Spring"])
    >>> print(links)  # doctest: +NORMALIZE_WHITESPACE
    SELECT "Campaign"."Campaign" AS "campaign", "Engagement"."Clicked Link" AS "link",
    "Facts"."# Clicked" AS "clicked" FROM "Campaign Results"
    WHERE "Campaign"."Campaign" IN ('Spring') AND "Engagement"."Event" = 'click'
    """
    named = Condition("Campaign", "Campaign", "in", tuple(names))
    campaign = Selected("Campaign", "Campaign", "campaign")
    totals = Analysis(
        AREA,
        (campaign, *(Selected(f, c, label) for f, c, label in _TOTALS)),
        FilterGroup("and", (named,)),
    )
    links = Analysis(
        AREA,
        (
            campaign,
            Selected("Engagement", "Clicked Link", "link"),
            Selected("Facts", "# Clicked", "clicked"),
        ),
        FilterGroup("and", (named, Condition("Engagement", "Event", "=", ("click",)))),
    )
    return to_logical_sql(totals), to_logical_sql(links)


def engagement_report(engine, names: Sequence[str], user: str | None) -> dict[str, Engagement]:
    """Figures for each campaign in `names` whose rows `user` may see, through `engine`.

    Example: `tests/test_campaign_monitor_engagement.py`.
    """
    if not names:
        return {}
    totals_sql, links_sql = engagement_requests(names)
    totals = engine.query(totals_sql, user).df
    links: dict[str, list[LinkClicks]] = {}
    for name, url, clicked in engine.query(links_sql, user).df.itertuples(index=False):
        links.setdefault(name, []).append(LinkClicks(url, _count(clicked)))
    for found in links.values():
        # Most clicked first; ties alphabetically, so the order is the same on every run.
        found.sort(key=lambda link: (-link.clicked, link.url))
    return {
        row["campaign"]: Engagement(
            _count(row["delivered"]),
            _count(row["opened"]),
            _count(row["clicked"]),
            tuple(links.get(row["campaign"], ())),
        )
        for row in totals.to_dict("records")
    }


def _count(value) -> int:
    # A campaign with no events has no Engagement Facts row: NULL after stitching, so 0.
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)
