"""A lean SMTP client for bulk sending: one connection, one mail transaction at a time, with
the envelope pipelined (RFC 2920) when the server offers it.

aiosmtplib, which the sender used before, spends most of a campaign's CPU on work a campaign
does not need: it parses every address with `email.utils` and runs two regular expressions
over each 45 KB message (line endings, dot-stuffing), and it waits for a reply after each of
MAIL, RCPT and DATA. Our messages come from `campaigns.wire`, whose lines already end in CRLF
and never start with a dot, so this client only checks that (two byte scans) and fixes a
message that breaks it. With PIPELINING a message costs two round trips (MAIL + RCPT + DATA,
then the body) instead of four.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from dataclasses import dataclass, field


class SmtpReplyError(Exception):
    """The server answered a step of a transaction with an error code (4xx or 5xx).

    >>> str(SmtpReplyError(550, "5.1.1 no such user", "RCPT"))
    'RCPT: 550 5.1.1 no such user'
    """

    def __init__(self, code: int, message: str, step: str):
        self.code, self.message, self.step = code, message, step
        super().__init__(f"{step}: {code} {message}".strip())


class SmtpConnectionError(ConnectionError):
    """The connection is unusable (closed, refused, garbled); the message may not have left."""


@dataclass
class SmtpClient:
    """One connection to an SMTP server; `send` runs one mail transaction on it.

    `tls`: "none", "starttls" or "tls" (implicit TLS). Every transaction runs under one
    `timeout_s`. After an error reply the transaction is reset (RSET) and the connection is
    reused; after a connection error it is closed, and the next `send` connects again.
    Example: `tests/test_campaign_smtp_client.py`.
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: str = "none"
    timeout_s: float = 30.0
    _reader: asyncio.StreamReader | None = field(default=None, init=False, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, init=False, repr=False)
    _extensions: frozenset[str] = field(default=frozenset(), init=False, repr=False)

    @property
    def is_connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self._extensions

    async def connect(self) -> None:
        """Open the connection: greeting, EHLO, STARTTLS and AUTH as configured."""
        try:
            async with asyncio.timeout(self.timeout_s):
                context = ssl.create_default_context() if self.tls != "none" else None
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, ssl=context if self.tls == "tls" else None
                )
                await self._expect(220, "greeting")
                await self._ehlo()
                if self.tls == "starttls":
                    self._writer.write(b"STARTTLS\r\n")
                    await self._expect(220, "STARTTLS")
                    await self._writer.start_tls(context, server_hostname=self.host)
                    await self._ehlo()
                if self.username:
                    await self._login()
        except (OSError, EOFError, TimeoutError, SmtpReplyError) as e:
            # A refusal while connecting (a 554 greeting, a failed login) is the server's or
            # the configuration's problem, never the recipient's: not a bounce.
            self.close()
            raise SmtpConnectionError(f"cannot connect to {self.host}:{self.port}: {e}") from e

    async def send(
        self, sender: str, recipient: str, message: bytes, *, wire_ready: bool = False
    ) -> str:
        """Send `message` from `sender` to `recipient`; returns the server's final reply text.

        `wire_ready`: the caller guarantees CRLF line ends and no line starting with a dot
        (`campaigns.wire` does, by construction), so the message is not scanned for them:
        on a 45 KB message those scans cost a fifth of the client's time.
        Raises `SmtpReplyError` for a 4xx/5xx reply (the connection stays usable) and
        `SmtpConnectionError` when the connection broke (it is closed).
        """
        mail = b"MAIL FROM:<" + _address(sender) + b">\r\n"
        rcpt = b"RCPT TO:<" + _address(recipient) + b">\r\n"
        if not self.is_connected:
            await self.connect()
        try:
            async with asyncio.timeout(self.timeout_s):
                body = message + b".\r\n" if wire_ready else _dot_stuffed(message)
                return await self._transaction(mail, rcpt, body)
        except (OSError, EOFError, TimeoutError) as e:
            self.close()
            raise SmtpConnectionError(f"connection lost: {e or type(e).__name__}") from e

    async def quit(self) -> None:
        """Say goodbye and close; a server that is already gone is fine."""
        if self.is_connected:
            try:
                async with asyncio.timeout(min(self.timeout_s, 5.0)):
                    self._writer.write(b"QUIT\r\n")
                    await self._reply()
            except (OSError, EOFError, TimeoutError, SmtpReplyError):
                pass
        self.close()

    def close(self) -> None:
        """Close the connection at once (no QUIT)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def _transaction(self, mail: bytes, rcpt: bytes, body: bytes) -> str:
        w = self._writer
        if self.pipelining:
            w.write(mail + rcpt + b"DATA\r\n")
            replies = [await self._reply() for _ in range(3)]
        else:
            replies = []
            for command in (mail, rcpt, b"DATA\r\n"):
                w.write(command)
                replies.append(await self._reply())
                if replies[-1][0] >= 400:
                    break
        for (code, text), step in zip(replies, ("MAIL", "RCPT", "DATA"), strict=False):
            expected = 354 if step == "DATA" else 250
            if code != expected and not (step != "DATA" and 200 <= code < 300):
                await self._reset(code)
                raise SmtpReplyError(code, text, step)
        w.write(body)
        code, text = await self._reply()
        if code != 250:
            if code == 421:
                self.close()
            raise SmtpReplyError(code, text, "DATA")
        return text

    async def _reset(self, code: int) -> None:
        # 421: the server is closing the connection; anything else leaves it usable.
        if code == 421:
            self.close()
            return
        self._writer.write(b"RSET\r\n")
        await self._reply()

    async def _ehlo(self) -> None:
        self._writer.write(b"EHLO " + socket.getfqdn().encode("idna") + b"\r\n")
        code, text = await self._reply()
        if code != 250:
            raise SmtpReplyError(code, text, "EHLO")
        self._extensions = frozenset(line.split(" ")[0].upper() for line in text.splitlines()[1:])

    async def _login(self) -> None:
        user, password = self.username or "", self.password or ""
        plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self._writer.write(f"AUTH PLAIN {plain}\r\n".encode())
        code, text = await self._reply()
        if code == 235:
            return
        self._writer.write(b"AUTH LOGIN\r\n")
        if (await self._reply())[0] == 334:
            for value in (user, password):
                self._writer.write(base64.b64encode(value.encode()) + b"\r\n")
                code, text = await self._reply()
        if code != 235:
            raise SmtpReplyError(code, text, "AUTH")

    async def _expect(self, code: int, step: str) -> None:
        got, text = await self._reply()
        if got != code:
            raise SmtpReplyError(got, text, step)

    async def _reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = await self._reader.readline()
            if not line.endswith(b"\n"):
                raise EOFError("the server closed the connection")
            if len(line) < 4 or not line[:3].isdigit():
                raise OSError(f"not an SMTP reply: {line[:80]!r}")
            lines.append(line[4:].decode("utf-8", "replace").rstrip("\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)


_UNSAFE = re.compile(r"[\r\n<> ]")


def _address(address: str) -> bytes:
    """An envelope address as the command carries it; nothing that could end the line.

    >>> _address("a@x.ba")
    b'a@x.ba'
    >>> _address("a@x.ba>\\r\\nRCPT TO:<b@x.ba")
    Traceback (most recent call last):
    ValueError: not a usable envelope address: 'a@x.ba>\\r\\nRCPT TO:<b@x.ba'
    """
    if not address or _UNSAFE.search(address) or not address.isprintable():
        raise ValueError(f"not a usable envelope address: {address!r}")
    return address.encode()


_BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def _dot_stuffed(message: bytes) -> bytes:
    """The DATA body: CRLF line ends, leading dots doubled, ended by CRLF.CRLF.

    Two byte scans in C decide whether the (slow) rewrite is needed at all; messages from
    `campaigns.wire` never need it.

    >>> _dot_stuffed(b"a\\r\\nb")
    b'a\\r\\nb\\r\\n.\\r\\n'
    >>> _dot_stuffed(b".a\\n.b\\r\\n")
    b'..a\\r\\n..b\\r\\n.\\r\\n'
    """
    pairs = message.count(b"\r\n")
    if message.count(b"\n") != pairs or message.count(b"\r") != pairs:
        message = _BARE_LINE_END.sub(b"\r\n", message)
    if message.startswith(b".") or b"\n." in message:
        message = re.sub(rb"(?m)^\.", b"..", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message + b".\r\n"
