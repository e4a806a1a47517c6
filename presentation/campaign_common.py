"""What the campaign pages share: which lists and campaigns the acting user may see, and how
a page hands a running campaign to a sender process.

A frozen list holds the rows its author was allowed to see; showing its members to another
user would bypass the row filters the freeze applied. So a user sees the lists and campaigns
they made, and an administrator sees all of them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from physical.settings import data_folder

T = TypeVar("T")


def visible(items: Sequence[T], owner: str, administrator: bool) -> list[T]:
    """The lists or campaigns `owner` may open: their own, or every one for an administrator.

    >>> from types import SimpleNamespace as Made
    >>> made = [Made(created_by="ana"), Made(created_by="bo")]
    >>> len(visible(made, "ana", False)), len(visible(made, "ana", True))
    (1, 2)
    """
    return list(items) if administrator else [i for i in items if i.created_by == owner]


def sender_log(campaign_id: int) -> Path:
    """Where the sender started by `start_sender` writes what it did.

    >>> sender_log(7).name
    'campaign-7.log'
    """
    return data_folder() / "campaign-senders" / f"campaign-{campaign_id}.log"


def start_sender(name: str, campaign_id: int) -> subprocess.Popen:
    """Start `strata campaign run NAME` in the background, as `strata scheduler` does.

    A process of its own, not a thread of the page: sending outlives a browser tab and a
    Streamlit rerun, and the campaign lock makes a second sender on the same campaign do
    nothing, so pressing the button twice is harmless. It inherits this server's environment
    (STRATA_STORE_URL, STRATA_SMTP_*), so it writes the same store and uses the same server.
    """
    log = sender_log(campaign_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "campaign", "run", name],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
