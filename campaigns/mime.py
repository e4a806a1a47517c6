"""Build one e-mail: multipart/mixed → alternative → (text, related → (HTML, images)),
then the attachments; with the RFC 8058 one-click unsubscribe pair and a fixed Message-ID."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from campaigns.templates import CID_DOMAIN, Rendered


@dataclass(frozen=True)
class Part:
    """A file to include: its name (image name or attachment filename) and bytes."""

    name: str
    content: bytes

    @property
    def mime_type(self) -> tuple[str, str]:
        guessed, _ = mimetypes.guess_type(self.name)
        maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
        return maintype, subtype


def build_email(
    rendered: Rendered,
    *,
    sender: str,
    to: str,
    message_id: str,
    unsubscribe_url: str | None = None,
    images: Sequence[Part] = (),
    attachments: Sequence[Part] = (),
) -> EmailMessage:
    """One member's message.

    >>> m = build_email(Rendered("Hi", "Hello", "<p>Hello</p>"), sender="a@x.ba", to="b@x.ba",
    ...                 message_id="<c1.k1@x.ba>", unsubscribe_url="https://x.ba/u/t",
    ...                 attachments=[Part("tariff.pdf", b"%PDF")])
    >>> [p.get_content_type() for p in m.walk()]
    ['multipart/mixed', 'multipart/alternative', 'text/plain', 'text/html', 'application/pdf']
    >>> m["List-Unsubscribe-Post"], m["Message-ID"]
    ('List-Unsubscribe=One-Click', '<c1.k1@x.ba>')
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    if rendered.html is not None:
        message.add_alternative(rendered.html, subtype="html")
        html_part = message.get_payload()[-1]
        for image in images:
            maintype, subtype = image.mime_type
            html_part.add_related(
                image.content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{image.name}@{CID_DOMAIN}>",
                filename=image.name,
            )
    for attachment in attachments:
        maintype, subtype = attachment.mime_type
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name
        )
    return message
