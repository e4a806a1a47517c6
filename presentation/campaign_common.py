"""What the campaign pages share: how a page hands a running campaign to a sender process.

Which lists and campaigns the acting user may see is the campaigns API's rule
(campaigns/visibility.py), the same for the pages and `strata campaign … --user`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from physical.settings import data_folder


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
