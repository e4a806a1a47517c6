"""What open and click tracking adds to building one message, in CPU time; prints Markdown.

    python -m bench.tracking [--messages 5000] [--links 5] [--repeat 5]

Builds the same personalised message (the send benchmark's HTML with `--links` web links, a
2 KB inline image, a 30 KB attachment) with and without `track_html`, the exact calls
`EmailChannel.prepare` makes, interleaved, and reports the median CPU µs per message of each.
No SMTP: the sink and the network cost the same either way.
"""

from __future__ import annotations

import argparse
import statistics
import time

from campaigns.mime import Part
from campaigns.templates import Template, compile_template
from campaigns.tracking import track_html
from campaigns.wire import MessageWriter

LINKED_HTML = """<html><body><img src="{{ cid('logo.png') }}" alt="logo">
<h1>Dear {{ name }},</h1>
<p>Customers in {{ town }} can now receive their bill by e-mail: faster, paperless, and
with a reminder before it is due. Your customer number is {{ id }}.</p>
%s
<p>Switch today in the customer portal.</p></body></html>"""


def measure(messages: int, links: int, repeat: int) -> tuple[float, float]:
    """Median CPU µs per message without and with tracking.

    >>> off, on = measure(messages=20, links=2, repeat=1)
    >>> off > 0 and on > 0
    True
    """
    anchors = "\n".join(
        f'<p><a href="https://utility.example/page{n}?who={{{{ id }}}}">Link {n}</a></p>'
        for n in range(1, links + 1)
    )
    template = Template(
        "{{ name }}, your bill by e-mail",
        "Dear {{ name }}, customer {{ id }} in {{ town }}.",
        LINKED_HTML % anchors,
        (("logo.png", "x"),),
    )
    compiled = compile_template(template)
    writer = MessageWriter(
        "ep@utility.example",
        images=[Part("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)],
        attachments=[Part("tariff.pdf", b"%PDF-1.4\n" + b"tariff leaflet " * 2000)],
    )
    people = [{"Id": i, "Name": f"Customer {i}", "Town": "Tuzla"} for i in range(messages)]

    def run(tracked: bool) -> float:
        start = time.process_time()
        for fields in people:
            rendered = compiled.render(fields)
            if tracked:
                html = track_html(
                    rendered.html,
                    base_url="https://utility.example",
                    secret="bench-secret",
                    campaign_id=1,
                    member_key=str(fields["Id"]),
                )
                rendered = type(rendered)(rendered.subject, rendered.text, html)
            writer.write(rendered, "c@bench.example", "<m@bench.example>", None)
        return (time.process_time() - start) / messages * 1e6

    plain, tracked = [], []
    for _ in range(repeat):
        plain.append(run(False))
        tracked.append(run(True))
    return statistics.median(plain), statistics.median(tracked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--links", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    plain, tracked = measure(args.messages, args.links, args.repeat)
    print(
        f"| links | µs/message, tracking off | µs/message, tracking on | added |\n"
        f"|---|---|---|---|\n"
        f"| {args.links} | {plain:,.0f} | {tracked:,.0f} | {tracked - plain:+,.0f} µs "
        f"({(tracked / plain - 1):+.0%}) |"
    )


if __name__ == "__main__":
    main()
