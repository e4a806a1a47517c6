"""SMS through an HTTP gateway: a JSON POST per message with an Authorization header, on the
same ledger with the same guarantees as e-mail. The gateway's reply decides: 2xx sent, 429,
5xx and network errors are retried later, any other 4xx is a hard bounce (a bad number)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import TYPE_CHECKING, ClassVar

from campaigns.campaign import Campaign
from campaigns.channels import register, transient
from campaigns.ledger import Claimed, Outcome, Result
from campaigns.settings import SendSettings
from campaigns.templates import compile_template
from semantic.errors import StrataError

if TYPE_CHECKING:
    import httpx

# GSM 03.38: the basic set (one septet each) and the extension set (escape + one septet).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


def segments(text: str) -> tuple[str, int]:
    """The encoding an SMS needs and how many segments it takes.

    >>> segments("Hello"), segments("x" * 161), segments("Poštovani"), segments("€" * 81)
    (('GSM-7', 1), ('GSM-7', 2), ('UCS-2', 1), ('GSM-7', 2))
    """
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        septets = sum(2 if c in _GSM_EXTENSION else 1 for c in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


@register
class SmsChannel:
    """Sends one campaign's SMS; `settings.connections` requests in flight at most.

    >>> SmsChannel.name
    'sms'
    """

    name: ClassVar[str] = "sms"

    def __init__(self, campaign: Campaign, settings: SendSettings):
        if not settings.sms_url:
            raise StrataError(
                "no SMS gateway is configured\n  hint: set STRATA_SMS_URL (and STRATA_SMS_AUTH)"
            )
        self.campaign, self.settings = campaign, settings
        self.compiled = compile_template(campaign.template)
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(max(1, settings.connections))

    def prepare(self, row: Claimed) -> dict:
        return {
            "to": row.address,
            "from": self.settings.sms_sender,
            "text": self.compiled.render(row.fields).text,
            # The ledger's id for the message: a gateway can drop a resend it has seen.
            "reference": row.message_id.strip("<>"),
        }

    async def open(self) -> None:
        # Imported here: every e-mail sender imports this module, and httpx is slow to load.
        import httpx

        self._errors = httpx.HTTPError
        headers = {"Authorization": self.settings.sms_auth} if self.settings.sms_auth else {}
        limits = httpx.Limits(max_connections=max(1, self.settings.connections))
        self._client = httpx.AsyncClient(
            headers=headers, timeout=self.settings.timeout_s, limits=limits
        )

    async def deliver(self, row: Claimed, prepared: dict) -> Outcome:
        assert self._client is not None, "open() first"
        async with self._slots:
            try:
                reply = await self._client.post(self.settings.sms_url, json=prepared)
            except self._errors as e:
                return transient(row, self.settings, f"gateway: {type(e).__name__}: {e}", _now)
        detail = f"{reply.status_code} {reply.text[:200]}".strip()
        if reply.is_success:
            return Outcome(row, Result.SENT)
        if reply.status_code == 429 or reply.status_code >= 500:
            return transient(row, self.settings, detail, _now)
        return Outcome(row, Result.BOUNCED, detail)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
