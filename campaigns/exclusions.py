"""Who of a list is sent to, and why the others are not: the one rule that both the pre-flight
report and the launch's ledger use, so the report shows exactly what the launch will do."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from campaigns.control import in_control
from campaigns.lists import Member
from campaigns.suppression import normalise

# Reasons, in the order they are tested: the first that applies is the one reported.
# A member the customer hub merged into another member is that person again (campaigns.golden).
MERGED = "duplicate customer (merged)"
NO_ADDRESS = "no address"
INVALID_ADDRESS = "invalid address"
OPTED_OUT = "opted out"
SUPPRESSED = "suppressed"
HARD_BOUNCE = "earlier hard bounce"
DUPLICATE = "duplicate address"
CONTROL = "control group"
REASONS = (
    MERGED,
    NO_ADDRESS,
    INVALID_ADDRESS,
    OPTED_OUT,
    SUPPRESSED,
    HARD_BOUNCE,
    DUPLICATE,
    CONTROL,
)

_EMAIL = re.compile(r"[^@\s<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+?[0-9]{6,15}")
# The list field that records consent per channel, if the analysis selected it.
CONSENT_FIELDS = {"email": ("Email Consent", "E-mail Consent"), "sms": ("SMS Consent",)}


@dataclass(frozen=True)
class Decision:
    """One member's fate: `state` is the ledger state it starts in (pending, suppressed,
    control) and `reason` why it is not pending."""

    member: Member
    address: str | None
    state: str
    reason: str | None = None


def decide(
    members: Iterable[Member],
    channel: str,
    campaign_id: int,
    control_share: float,
    suppressed: Mapping[str, str],
) -> list[Decision]:
    """Decide every member: excluded by the first reason that applies, else control or pending.

    The control split is drawn among the members who could be sent to, so that the two
    groups are comparable when lift is measured.

    >>> ms = [Member("1", "a@x.ba", None, {}), Member("2", "A@x.ba", None, {}),
    ...       Member("3", None, None, {}), Member("4", "b@x.ba", None, {"Email Consent": False}),
    ...       Member("5", "c@x.ba", None, {}, merged_into="1")]
    >>> [d.reason or d.state for d in decide(ms, "email", 1, 0.0, {})]
    ['pending', 'duplicate address', 'no address', 'opted out', 'duplicate customer (merged)']
    """
    seen: set[str] = set()
    out = []
    for member in members:
        raw = member.email if channel == "email" else member.phone
        address = normalise(channel, raw) if raw else None
        reason = _exclusion(member, channel, address, suppressed, seen)
        if address and reason is None:
            seen.add(address)
        if reason is not None:
            out.append(Decision(member, address, "suppressed", reason))
        elif in_control(campaign_id, member.key, control_share):
            out.append(Decision(member, address, "control", CONTROL))
        else:
            out.append(Decision(member, address, "pending"))
    return out


def valid_address(channel: str, address: str) -> bool:
    """A plausible address for the channel (the server has the last word).

    >>> [valid_address("email", "ana@x.ba"), valid_address("email", "ana@")]
    [True, False]
    >>> [valid_address("sms", "+38761234567"), valid_address("sms", "+38761")]
    [True, False]
    """
    pattern = _EMAIL if channel == "email" else _PHONE
    return pattern.fullmatch(address) is not None


def _exclusion(member, channel, address, suppressed, seen) -> str | None:
    if member.merged_into:
        return MERGED
    if not address:
        return NO_ADDRESS
    if not valid_address(channel, address):
        return INVALID_ADDRESS
    for name in CONSENT_FIELDS[channel]:
        if member.fields.get(name) is False:
            return OPTED_OUT
    if address in suppressed:
        return HARD_BOUNCE if suppressed[address] == "bounced" else SUPPRESSED
    if address in seen:
        return DUPLICATE
    return None
