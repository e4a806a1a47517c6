"""The control group: a deterministic hash of (campaign, member) against the held-out share,
so a rerun, a restart or an auditor gets the same split."""

from __future__ import annotations

import hashlib

_BUCKETS = 10_000  # shares are resolved to a hundredth of a percent


def in_control(campaign_id: int, member_key: str, share: float) -> bool:
    """Whether `member_key` is held out of campaign `campaign_id` when `share` (0..1) is.

    >>> in_control(7, "1001", 0.0), in_control(7, "1001", 1.0)
    (False, True)
    >>> sum(in_control(7, str(k), 0.1) for k in range(10_000))
    967
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"control share must be between 0 and 1, got {share}")
    digest = hashlib.sha256(f"{campaign_id}\x1f{member_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS < round(share * _BUCKETS)
