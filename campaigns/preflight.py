"""The pre-flight report an administrator approves before launch: members, exclusions by
reason, expected duration at the campaign's rate, template errors and rendered samples."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from campaigns.campaign import Campaign
from campaigns.exclusions import REASONS, decide
from campaigns.lists import get_list, list_members
from campaigns.sms import segments
from campaigns.suppression import suppressed
from campaigns.templates import Rendered, RenderError, compile_template, preview
from campaigns.tracking import links
from store.connect import Store


@dataclass(frozen=True)
class Sample:
    member_key: str
    address: str
    rendered: Rendered


@dataclass(frozen=True)
class Preflight:
    campaign_id: int
    campaign: str
    list_name: str
    list_version: int
    content_hash: str  # of the list: a launch checks it approves this very list...
    template_hash: str  # ...and this very template
    members: int
    to_send: int
    exclusions: tuple[tuple[str, int], ...]  # (reason, members), every reason listed
    duration_s: float | None  # None: no rate limit set, as fast as the server accepts
    errors: tuple[RenderError, ...]
    error_count: int
    samples: tuple[Sample, ...]
    sms_segments: tuple[str, int] | None = None  # (encoding, most segments of one member)
    tracked_links: int | None = None  # tracking on: web links in the first sample's HTML

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def lines(self) -> list[str]:
        """The report as text (the CLI prints it; the UI shows the same fields)."""
        out = [
            f"campaign {self.campaign!r}: list {self.list_name!r} v{self.list_version}, "
            f"{self.members} members, {self.to_send} to send",
            *(f"  excluded, {reason}: {n}" for reason, n in self.exclusions),
            "  duration: "
            + (
                "as fast as the server accepts (no rate limit)"
                if self.duration_s is None
                else f"about {_human(self.duration_s)} at the configured rate"
            ),
        ]
        if self.sms_segments:
            encoding, most = self.sms_segments
            out.append(f"  SMS: {encoding}, up to {most} segment(s) per message")
        if self.tracked_links is not None:
            out.append(
                f"  tracking: opens (a 1x1 image) and clicks on {self.tracked_links} web "
                "link(s) per message, through the tracking server"
            )
        if self.error_count:
            out.append(f"  template errors: {self.error_count}")
            out += [f"    {e}" for e in self.errors]
        for s in self.samples:
            out += [f"  sample, member {s.member_key} <{s.address}>: {s.rendered.subject}"]
        return out


def preflight(store: Store, campaign: Campaign, samples: int = 3) -> Preflight:
    """Decide every member as the launch will, render every member, and estimate the duration.

    Example: `tests/test_campaign_sending.py::test_preflight_counts_exclusions_by_reason`.
    """
    frozen = get_list(store, list_id=campaign.list_id)
    members = list_members(store, frozen)
    decisions = decide(
        members,
        campaign.channel,
        campaign.id,
        campaign.control_share,
        suppressed(store, campaign.channel),
    )
    counts = dict.fromkeys(REASONS, 0)
    for d in decisions:
        if d.reason:
            counts[d.reason] += 1
    pending = [d for d in decisions if d.state == "pending"]
    checked = preview(campaign.template, ((m.key, m.fields) for m in members))
    chosen = random.Random(campaign.id).sample(pending, min(samples, len(pending)))
    rendered: list[Sample] = []
    if checked.ok:
        compiled = compile_template(campaign.template)
        rendered = [
            Sample(d.member.key, d.address, compiled.render(d.member.fields)) for d in chosen
        ]
    sms = None
    if campaign.channel == "sms" and checked.ok:
        compiled = compile_template(campaign.template)
        counted = [segments(compiled.render(d.member.fields).text) for d in pending]
        if counted:
            encoding = "UCS-2" if any(e == "UCS-2" for e, _ in counted) else "GSM-7"
            sms = (encoding, max(n for _, n in counted))
    return Preflight(
        campaign_id=campaign.id,
        campaign=campaign.name,
        list_name=frozen.name,
        list_version=frozen.version,
        content_hash=frozen.content_hash,
        template_hash=template_hash(campaign),
        members=len(members),
        to_send=len(pending),
        exclusions=tuple(counts.items()),
        duration_s=duration(len(pending), campaign.rate_per_second, campaign.rate_per_hour),
        errors=checked.errors,
        error_count=checked.error_count,
        samples=tuple(rendered),
        sms_segments=sms,
        tracked_links=_tracked_links(campaign, rendered),
    )


def _tracked_links(campaign: Campaign, samples: list[Sample]) -> int | None:
    if not campaign.tracking:
        return None
    html = next((s.rendered.html for s in samples if s.rendered.html is not None), None)
    return len(links(html)) if html is not None else 0


def duration(messages: int, per_second: float | None, per_hour: int | None) -> float | None:
    """Seconds to send `messages` at the limits (None without limits).

    >>> duration(1000, 10, None), duration(250, None, 100), duration(10, None, None)
    (100.0, 7200.0, None)
    """
    if not per_second and not per_hour:
        return None
    seconds = messages / per_second if per_second else 0.0
    if per_hour and messages > per_hour:
        # Full hours for every complete window before the last batch.
        seconds = max(seconds, ((messages - 1) // per_hour) * 3600.0)
    return seconds


def template_hash(campaign: Campaign) -> str:
    # Tracking rewrites what is sent, so switching it voids an approval; an untracked
    # campaign's hash is the template's alone, as it always was.
    marked = campaign.template.to_json() + ("\0tracked" if campaign.tracking else "")
    return hashlib.sha256(marked.encode()).hexdigest()


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
