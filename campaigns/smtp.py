"""E-mail through SMTP (`campaigns.smtp_client`, pipelined): a pool of reused connections; 4xx
and dropped connections are retried later, 5xx is a hard bounce."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from typing import ClassVar

from campaigns.campaign import Campaign
from campaigns.channels import register, transient
from campaigns.files import get_file
from campaigns.ledger import Claimed, Outcome, Result
from campaigns.mime import Part
from campaigns.settings import SendSettings
from campaigns.smtp_client import SmtpClient, SmtpConnectionError, SmtpReplyError
from campaigns.templates import compile_template
from campaigns.tokens import Unsubscribe, sign
from campaigns.tracking import track_html, tracking_ready
from campaigns.wire import MessageWriter


@register
class EmailChannel:
    """Sends one campaign's e-mail. `prepare` renders and builds MIME; `deliver` sends it on a
    pooled connection (one message per connection at a time, `settings.connections` of them).

    >>> EmailChannel.name
    'email'
    """

    name: ClassVar[str] = "email"

    def __init__(self, campaign: Campaign, settings: SendSettings):
        self.campaign, self.settings = campaign, settings
        self.compiled = compile_template(campaign.template)
        template = campaign.template
        self.writer = MessageWriter(
            settings.sender,
            images=[Part(name, get_file(digest)) for name, digest in template.images],
            attachments=[Part(name, get_file(digest)) for name, digest in template.attachments],
        )
        if campaign.tracking:
            tracking_ready(settings)
        self._pool: asyncio.Queue[SmtpClient] = asyncio.Queue()
        self._clients: list[SmtpClient] = []

    def prepare(self, row: Claimed) -> bytes:
        rendered = self.compiled.render(row.fields)
        if self.campaign.tracking and rendered.html is not None:
            rendered = replace(rendered, html=self._tracked(rendered.html, row.member_key))
        return self.writer.write(
            rendered, row.address, row.message_id, self._unsubscribe_url(row.address)
        )

    async def open(self) -> None:
        for _ in range(max(1, self.settings.connections)):
            client = self._client()
            self._clients.append(client)
            self._pool.put_nowait(client)

    async def deliver(self, row: Claimed, prepared: bytes) -> Outcome:
        client = await self._pool.get()
        try:
            # MessageWriter's output is in wire form already (CRLF, no line starts with a dot).
            await client.send(self.settings.sender, row.address, prepared, wire_ready=True)
            return Outcome(row, Result.SENT)
        except SmtpReplyError as e:
            return self._response(row, e.code, e.message)
        except SmtpConnectionError as e:
            # A dropped or refused connection: the message may not have left; try it again.
            return transient(row, self.settings, f"connection: {e}", _now)
        except ValueError as e:  # an address no SMTP command can carry: it never will
            return Outcome(row, Result.FAILED, str(e))
        finally:
            self._pool.put_nowait(client)

    async def close(self) -> None:
        for client in self._clients:
            await client.quit()

    def _response(self, row: Claimed, code: int, message: str) -> Outcome:
        detail = f"{code} {message}".strip()
        if 500 <= code < 600:
            return Outcome(row, Result.BOUNCED, detail)
        return transient(row, self.settings, detail, _now)

    def _client(self) -> SmtpClient:
        s = self.settings
        return SmtpClient(
            s.smtp_host, s.smtp_port, s.smtp_user, s.smtp_password, s.smtp_tls, s.timeout_s
        )

    def _tracked(self, html: str, member_key: str) -> str:
        return track_html(
            html,
            base_url=self.settings.tracking_base or "",
            secret=self.settings.unsubscribe_secret or "",
            campaign_id=self.campaign.id,
            member_key=member_key,
        )

    def _unsubscribe_url(self, address: str) -> str | None:
        s = self.settings
        if not (s.unsubscribe_url and s.unsubscribe_secret):
            return None
        token = sign(s.unsubscribe_secret, Unsubscribe("email", address, self.campaign.id))
        return f"{s.unsubscribe_url.rstrip('/')}/{token}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
