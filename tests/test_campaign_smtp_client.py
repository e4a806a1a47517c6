"""The sender's SMTP client against a real server (aiosmtpd on 127.0.0.1): pipelined when the
server offers PIPELINING, one command at a time when not; the message arrives byte for byte;
error replies raise with their code and leave the connection usable."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.controller import Controller

from campaigns.mime import Part
from campaigns.smtp_client import SmtpClient, SmtpReplyError, _dot_stuffed
from campaigns.templates import Rendered
from campaigns.wire import MessageWriter
from tests.campaign_fixtures import Sink, free_port


class PipeliningSink(Sink):
    """The test sink, advertising PIPELINING as Postfix (and its smtp-sink) do."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture(params=["pipelining", "lockstep"])
def server(request):
    handler = PipeliningSink() if request.param == "pipelining" else Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    handler.pipelining = request.param == "pipelining"
    try:
        yield handler
    finally:
        controller.stop()


def _send_all(port: int, messages: list[tuple[str, bytes]]) -> tuple[bool, list]:
    async def run():
        client = SmtpClient("127.0.0.1", port, timeout_s=10)
        results = []
        for to, body in messages:
            try:
                results.append(await client.send("ep@u.example", to, body))
            except SmtpReplyError as e:
                results.append(e)
        pipelining = client.pipelining
        await client.quit()
        return pipelining, results

    return asyncio.run(run())


def test_messages_arrive_byte_for_byte_on_one_reused_connection(server):
    body = b"Subject: hi\r\nMessage-ID: <m1@u.example>\r\n\r\nHello\r\n"
    pipelining, results = _send_all(server.port, [("a@x.example", body), ("b@x.example", body)])
    assert pipelining is server.pipelining
    assert [r for r in results if isinstance(r, Exception)] == []
    assert [(m[1], m[2]) for m in server.messages] == [
        (["a@x.example"], body),
        (["b@x.example"], body),
    ]


def test_leading_dots_and_bare_line_ends_are_made_safe_for_the_wire(server):
    body = b".starts with a dot\n..two\r\nlone CR\rend"
    _send_all(server.port, [("a@x.example", body)])
    # The server removes the stuffed dots again; line ends arrive as CRLF.
    assert server.messages[0][2] == b".starts with a dot\r\n..two\r\nlone CR\r\nend\r\n"


def test_a_refused_recipient_raises_its_code_and_the_next_message_still_goes(server):
    body = b"Subject: x\r\n\r\nx\r\n"
    _, results = _send_all(server.port, [("nouser@x.example", body), ("ok@x.example", body)])
    refused = results[0]
    assert isinstance(refused, SmtpReplyError)
    assert (refused.code, refused.step, refused.message) == (550, "RCPT", "5.1.1 no such user")
    assert [m[1] for m in server.messages] == [["ok@x.example"]]


def test_an_address_that_could_inject_a_command_is_refused_before_anything_is_sent(server):
    with pytest.raises(ValueError, match="not a usable envelope address"):
        _send_all(server.port, [("a@x.example>\r\nRCPT TO:<b@x.example", b"x\r\n")])
    assert server.messages == []


def test_the_message_writer_output_needs_no_rewriting_for_the_wire():
    # The channel sends MessageWriter's bytes with wire_ready=True: hostile fields included,
    # they must already be what the dot-stuffing pass would produce.
    writer = MessageWriter("ep@u.example", attachments=[Part("t.pdf", b".\n.\r\n" * 500)])
    fields = ".dot\r\n.line\rbare\nend " + "Grüße " * 40
    for html in (None, f"<p>{fields}</p>\n.\n"):
        raw = writer.write(Rendered(fields, fields, html), "b@x.example", "<m@u>", None)
        assert _dot_stuffed(raw) == raw + b".\r\n"
