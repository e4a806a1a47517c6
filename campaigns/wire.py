"""Write a campaign's messages as SMTP-ready bytes, fast: the parts every member shares (the
inline images and attachments, base64 once) are encoded when the writer is made; per member
only the headers and the two rendered bodies are encoded.

The standard library's `email` package builds the same tree (`campaigns.mime.build_email`,
which the tests use as the reference) but spends ~20 ms of CPU per 45 KB message parsing and
folding headers; this writer produces an equivalent message in a fraction of that.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from email.header import Header
from email.utils import formatdate

from campaigns.mime import Part
from campaigns.templates import CID_DOMAIN, Rendered


class MessageWriter:
    """Bytes of one member's message, with the structure of `campaigns.mime.build_email`.

    The bytes are in SMTP wire form, whatever the member's fields hold: every line ends in
    CRLF and none starts with a dot (header values lose their line breaks, folded lines
    start with a space, bodies are base64), so the client sends them unscanned.

    >>> from email import policy
    >>> from email.parser import BytesParser
    >>> w = MessageWriter("a@x.ba", attachments=[Part("t.pdf", b"%PDF")])
    >>> raw = w.write(Rendered("Grüße", "Hallo", "<p>Hallo</p>"), "b@x.ba", "<m1@x.ba>", None)
    >>> m = BytesParser(policy=policy.default).parsebytes(raw)
    >>> m["Subject"], [p.get_content_type() for p in m.walk()][1:]
    ('Grüße', ['multipart/alternative', 'text/plain', 'text/html', 'application/pdf'])
    """

    def __init__(self, sender: str, images: Sequence[Part] = (), attachments: Sequence[Part] = ()):
        token = secrets.token_hex(8)
        # base64 lines never start with "-", so no body line can look like a boundary.
        self._mixed, self._alt, self._rel = (f"=_strata_{token}_{n}" for n in "mar")
        self._sender = _clean(sender)
        self._images = b"".join(self._part(p, self._rel, inline=True) for p in images)
        self._files = b"".join(self._part(p, self._mixed, inline=False) for p in attachments)
        self._has_images = bool(images)

    def write(
        self, rendered: Rendered, to: str, message_id: str, unsubscribe_url: str | None
    ) -> bytes:
        headers = [
            f"From: {self._sender}",
            f"To: {_clean(to)}",
            f"Subject: {_subject(rendered.subject)}",
            f"Date: {formatdate(localtime=False)}",
            f"Message-ID: {_clean(message_id)}",
            "MIME-Version: 1.0",
        ]
        if unsubscribe_url:
            headers += [
                f"List-Unsubscribe: <{_clean(unsubscribe_url)}>",
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            ]
        head = "\r\n".join(headers).encode()
        text = _text_part("plain", rendered.text)
        # Pieces joined once at the end: each `+` of 45 KB messages would copy them again.
        if rendered.html is None and not self._files:
            # A text-only message: the part's own headers become the message's.
            return b"".join((head, b"\r\n", text))
        if rendered.html is None:
            mixed = f'\r\nContent-Type: multipart/mixed; boundary="{self._mixed}"\r\n\r\n'
            return b"".join(
                (head, mixed.encode(), _boundary(self._mixed), text, self._files, _end(self._mixed))
            )
        pieces = [head]
        if self._files:
            pieces += [
                f'\r\nContent-Type: multipart/mixed; boundary="{self._mixed}"\r\n\r\n'.encode(),
                _boundary(self._mixed),
            ]
        else:
            pieces.append(b"\r\n")
        pieces += [
            f'Content-Type: multipart/alternative; boundary="{self._alt}"\r\n\r\n'.encode(),
            _boundary(self._alt),
            text,
            _boundary(self._alt),
        ]
        html = _text_part("html", rendered.html)
        if self._has_images:
            pieces += [
                f'Content-Type: multipart/related; boundary="{self._rel}"\r\n\r\n'.encode(),
                _boundary(self._rel),
                html,
                self._images,
                _end(self._rel),
            ]
        else:
            pieces.append(html)
        pieces.append(_end(self._alt))
        if self._files:
            pieces += [self._files, _end(self._mixed)]
        return b"".join(pieces)

    def _part(self, part: Part, boundary: str, inline: bool) -> bytes:
        maintype, subtype = part.mime_type
        name = _clean(part.name).replace('"', "")
        lines = [f"Content-Type: {maintype}/{subtype}", "Content-Transfer-Encoding: base64"]
        if inline:
            lines += [
                f'Content-Disposition: inline; filename="{name}"',
                f"Content-ID: <{name}@{CID_DOMAIN}>",
            ]
        else:
            lines.append(f'Content-Disposition: attachment; filename="{name}"')
        head = "\r\n".join(lines).encode() + b"\r\n\r\n"
        return _boundary(boundary) + head + _b64(part.content)


def _text_part(subtype: str, text: str) -> bytes:
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + _b64(text.encode())


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _boundary(boundary: str) -> bytes:
    return f"\r\n--{boundary}\r\n".encode()


def _end(boundary: str) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode()


def _subject(subject: str) -> str:
    subject = _clean(subject)
    if subject.isascii() and len(subject) < 900:
        return subject
    # Folded with CRLF, as every other line: the SMTP client then never rewrites the message.
    return Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")


def _clean(value: str) -> str:
    # No header value may end its line early: a field with CR/LF would inject headers.
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())
