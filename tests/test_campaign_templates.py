"""Templates render per member in a sandbox with strict undefined variables; every problem is
found at preview, before launch; the MIME tree carries text, HTML, CID images and attachments."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from campaigns.mime import Part, build_email
from campaigns.templates import (
    Rendered,
    Template,
    compile_template,
    preview,
    render_one,
    variables,
)

MEMBERS = [
    ("1", {"Customer Name": "Ana Kovač", "Tariff": "Household"}),
    ("2", {"Customer Name": "Edin <Hodžić>", "Tariff": "Household"}),
]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def test_preview_passes_when_every_member_renders():
    p = preview(Template("Hello {{ customer_name }}", "Tariff: {{ member['Tariff'] }}"), MEMBERS)
    assert (p.ok, p.members) == (True, 2)


def test_a_missing_field_is_reported_for_every_member_at_preview():
    p = preview(Template("Hi", "{{ tarif_group }}"), MEMBERS)
    assert p.error_count == 2
    assert [str(e) for e in p.errors] == [
        "member 1: text: 'tarif_group' is undefined",
        "member 2: text: 'tarif_group' is undefined",
    ]


def test_a_syntax_error_names_the_part_and_line():
    p = preview(Template("Hi", "ok\n{% if x %}"), MEMBERS)
    assert not p.ok and str(p.errors[0]).startswith("text: line 2:")


def test_the_sandbox_refuses_to_reach_python_internals():
    p = preview(Template("{{ ''.__class__.__mro__[1].__subclasses__() }}", "x"), MEMBERS[:1])
    assert not p.ok and "unsafe" in p.errors[0].message


def test_an_unknown_inline_image_is_found_at_preview():
    t = Template("Hi", "x", html="<img src=\"{{ cid('logo') }}\">", images=(("banner", "0" * 64),))
    p = preview(t, MEMBERS[:1])
    assert "no inline image named 'logo'" in p.errors[0].message


def test_html_escapes_fields_and_text_does_not():
    t = Template("Hi {{ customer_name }}", "{{ customer_name }}", "<p>{{ customer_name }}</p>")
    out = render_one(t, MEMBERS[1][1])
    assert (out.subject, out.text, out.html) == (
        "Hi Edin <Hodžić>",
        "Edin <Hodžić>",
        "<p>Edin &lt;Hodžić&gt;</p>",
    )


def test_a_subject_never_carries_a_line_break_from_a_field():
    out = render_one(Template("Hi {{ name }}", "x"), {"name": "Ana\r\nBcc: all@x.ba"})
    assert out.subject == "Hi Ana Bcc: all@x.ba"


def test_the_mime_tree_nests_text_html_images_and_attachments():
    t = Template(
        "Hi {{ customer_name }}",
        "Hello {{ customer_name }}",
        "<p>Hello</p><img src=\"{{ cid('logo.png') }}\">",
        images=(("logo.png", "0" * 64),),
    )
    rendered = compile_template(t).render(MEMBERS[0][1])
    message = build_email(
        rendered,
        sender="ep@utility.example",
        to="ana@x.ba",
        message_id="<c7.k1@utility.example>",
        unsubscribe_url="https://utility.example/u/TOKEN",
        images=[Part("logo.png", PNG)],
        attachments=[Part("tariff.pdf", b"%PDF-1.4")],
    )
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())

    def tree(part):
        if part.is_multipart():
            return (part.get_content_type(), [tree(p) for p in part.iter_parts()])
        return part.get_content_type()

    assert tree(parsed) == (
        "multipart/mixed",
        [
            (
                "multipart/alternative",
                ["text/plain", ("multipart/related", ["text/html", "image/png"])],
            ),
            "application/pdf",
        ],
    )
    html = parsed.get_body(("html",)).get_content()
    image = next(p for p in parsed.walk() if p.get_content_type() == "image/png")
    assert f'src="cid:{image["Content-ID"][1:-1]}"' in html
    assert image.get_content() == PNG
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["tariff.pdf"]
    assert parsed["Message-ID"] == "<c7.k1@utility.example>"
    assert parsed["List-Unsubscribe"] == "<https://utility.example/u/TOKEN>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Subject"] == "Hi Ana Kovač"


def _shape(message):
    """Everything a reader of the message sees: headers, tree, decoded leaves, file names."""
    leaves = []
    for part in message.walk():
        if part.is_multipart():
            leaves.append(part.get_content_type())
            continue
        content = part.get_content()
        if isinstance(content, str):
            content = content.replace("\r\n", "\n").rstrip("\n")
        leaves.append((part.get_content_type(), part.get_filename(), part["Content-ID"], content))
    heads = ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
    return [str(message[h]) if message[h] else None for h in heads], leaves


@pytest.mark.parametrize(
    "rendered, images, attachments, unsubscribe",
    [
        (Rendered("Hi Ana", "Hello\nline 2", None), (), (), None),
        (Rendered("Pozdrav Đorđe, čestitamo!", "Poštovani,\n€ 12", None), (), ("a.pdf",), "u"),
        (Rendered("Hi", "t", "<p>h</p>"), (), (), "u"),
        (Rendered("Hi " + "x" * 120, "t", "<p>Ö</p>"), ("logo.png",), ("a.pdf", "b.txt"), "u"),
    ],
)
def test_the_fast_writer_sends_what_the_email_package_would(
    rendered, images, attachments, unsubscribe
):
    from campaigns.wire import MessageWriter

    imgs = [Part(n, PNG) for n in images]
    files = [Part(n, b"%PDF-1.4 " * 300) for n in attachments]
    url = "https://u.example/u/TOKEN" if unsubscribe else None
    reference = build_email(
        rendered,
        sender="ep@u.example",
        to="ana@x.ba",
        message_id="<m1@u.example>",
        unsubscribe_url=url,
        images=imgs,
        attachments=files,
    ).as_bytes()
    fast = MessageWriter("ep@u.example", imgs, files).write(
        rendered, "ana@x.ba", "<m1@u.example>", url
    )
    parse = BytesParser(policy=policy.default).parsebytes
    assert _shape(parse(fast)) == _shape(parse(reference))


def test_rendering_all_parts_at_once_gives_what_each_part_gives_alone():
    template = Template(
        "Hi {{ name }}\n",
        "Dear {{ name }},\n{% for t in ['a', 'b'] %}{{ t }}\n{% endfor %}\n",
        '<p title="{{ name }}">{{ name }}</p>\n\n',
    )
    fields = {"Name": '<Ana & "Bo">'}
    compiled = compile_template(template)
    context = variables(fields)
    alone = {part: tmpl.render(context) for part, tmpl in compiled._parts}
    rendered = compiled.render(fields)
    assert (rendered.text, rendered.html) == (alone["text"], alone["html"])
    assert rendered.subject == alone["subject"].strip()


def test_a_field_holding_the_part_separator_cannot_shift_text_into_another_part():
    fields = {"Name": "x\x1e\x1f\x1ey"}
    rendered = compile_template(Template("S", "T {{ name }}", "<p>H</p>")).render(fields)
    assert rendered == Rendered("S", "T x\x1e\x1f\x1ey", "<p>H</p>")
