"""Message templates: subject, text body, optional HTML body with inline images, attachments.

Jinja2 runs sandboxed (a template cannot reach Python internals) with strict undefined
variables, and `preview` renders every member, so a missing field or a typo is found before
launch, never at send time.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from semantic.errors import StrataError

# Content-IDs are <name@CID_DOMAIN>; `cid('logo')` in the HTML writes the matching reference.
CID_DOMAIN = "strata.invalid"


@dataclass(frozen=True)
class Template:
    """What a campaign sends. `images` and `attachments` are (name, sha256) pairs of files in
    the content-addressed folder (`campaigns.files`); SMS campaigns send `text` only."""

    subject: str
    text: str
    html: str | None = None
    images: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        """The template as the campaign row stores it.

        >>> Template.from_json(Template("Hi", "Hello {{ name }}").to_json()).text
        'Hello {{ name }}'
        """
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Template:
        data = json.loads(text)
        return cls(
            data["subject"],
            data["text"],
            data.get("html"),
            tuple(tuple(p) for p in data.get("images", ())),
            tuple(tuple(p) for p in data.get("attachments", ())),
        )


@dataclass(frozen=True)
class Rendered:
    """One member's message parts, ready for MIME."""

    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class RenderError:
    """Why one member's message (or the template itself, member None) cannot be rendered."""

    member: str | None
    part: str
    message: str

    def __str__(self) -> str:
        who = f"member {self.member}: " if self.member is not None else ""
        return f"{who}{self.part}: {self.message}"


class TemplateErrors(StrataError):
    """Every rendering problem found, one line each."""

    def __init__(self, errors: Iterable[RenderError], total: int | None = None):
        self.errors = tuple(errors)
        more = (total or len(self.errors)) - len(self.errors)
        lines = [str(e) for e in self.errors] + ([f"... and {more} more"] if more > 0 else [])
        super().__init__(
            "the template cannot be rendered:\n  "
            + "\n  ".join(lines)
            + "\n  hint: fields are named as the list's columns, e.g. {{ customer_name }} or "
            "{{ member['Customer Name'] }}; use {{ x | default('') }} for an optional field"
        )


# Between the parts of the one template that renders them all (see `CompiledTemplate`).
_SEPARATOR = "\x1e\x1f\x1e"


@dataclass(frozen=True)
class CompiledTemplate:
    """A template parsed once, rendered many times (a campaign renders it per member).

    The parts are also joined into one template (the HTML inside an autoescape block), so a
    member costs one Jinja context and one render instead of three: the sender's largest
    CPU cost per message after the SMTP client. Should a rendered field contain the
    separator, the parts are rendered one by one instead.
    """

    template: Template
    _parts: tuple[tuple[str, Any], ...] = field(repr=False)
    _joined: Any = field(default=None, repr=False)

    def render(self, fields: Mapping[str, Any]) -> Rendered:
        """Render for one member; raises jinja2 errors (preview turns them into RenderErrors).

        >>> compile_template(Template("Hi {{ name }}", "Dear {{ member['Name'] }}")).render(
        ...     {"Name": "Ana"})
        Rendered(subject='Hi Ana', text='Dear Ana', html=None)
        """
        context = variables(fields)
        names = [part for part, _ in self._parts]
        values = None
        if self._joined is not None:
            values = self._joined.render(context).split(_SEPARATOR)
        if values is None or len(values) != len(names):
            values = [compiled.render(context) for _, compiled in self._parts]
        out = dict(zip(names, values, strict=True))
        # A header cannot hold a line break; a field with one would end the subject early.
        out["subject"] = " ".join(out["subject"].split())
        return Rendered(out["subject"], out["text"], out.get("html"))


def variables(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A member's fields as template variables: each under a snake_case name, and all of them
    as `member[...]` under their column names.

    >>> sorted(variables({"Customer Name": "Ana", "E-Mail": "a@x.ba"}))
    ['customer_name', 'e_mail', 'member']
    """
    names = {_identifier(k): v for k, v in fields.items()}
    return {**names, "member": dict(fields)}


def compile_template(template: Template) -> CompiledTemplate:
    """Parse every part once; syntax errors come back all together with their line numbers.

    >>> compile_template(Template("Hi {{ name", "x"))
    Traceback (most recent call last):
    campaigns.templates.TemplateErrors: the template cannot be rendered:
      subject: line 1: unexpected end of template, expected 'end of print statement'.
      hint: ...
    """
    images = {name for name, _ in template.images}
    text_env = _environment(autoescape=False, images=images)
    html_env = _environment(autoescape=True, images=images)
    parts, errors = [], []
    sources = [("subject", template.subject, text_env), ("text", template.text, text_env)]
    if template.html is not None:
        sources.append(("html", template.html, html_env))
    for part, source, env in sources:
        try:
            parts.append((part, env.from_string(source)))
        except TemplateSyntaxError as e:
            errors.append(RenderError(None, part, f"line {e.lineno}: {e.message}"))
    errors += _check_files(template)
    if errors:
        raise TemplateErrors(errors)
    return CompiledTemplate(template, tuple(parts), _join(sources, text_env))


def _join(sources: list[tuple[str, str, Any]], text_env: SandboxedEnvironment) -> Any:
    # Jinja drops one trailing newline of each template; the joined one must do the same for
    # every part, not only its last.
    pieces = []
    for part, source, _ in sources:
        source = re.sub(r"(\r\n|\r|\n)\Z", "", source)
        if part == "html":
            source = "{% autoescape true %}" + source + "{% endautoescape %}"
        pieces.append(source)
    try:
        return text_env.from_string(_SEPARATOR.join(pieces))
    except TemplateSyntaxError:  # each part parsed alone; render them alone
        return None


@dataclass(frozen=True)
class Preview:
    """The outcome of rendering every member: errors (at most `limit` kept) and their total."""

    members: int
    errors: tuple[RenderError, ...]
    error_count: int

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def preview(
    template: Template, members: Iterable[tuple[str, Mapping[str, Any]]], limit: int = 20
) -> Preview:
    """Render `template` for every (member key, fields) pair and collect what fails.

    >>> p = preview(Template("Hi {{ name }}", "{{ tarif }}"), [("1", {"Name": "Ana", "Tariff": 1})])
    >>> p.ok, [str(e) for e in p.errors]
    (False, ["member 1: text: 'tarif' is undefined"])
    """
    try:
        compiled = compile_template(template)
    except TemplateErrors as e:
        return Preview(0, e.errors, len(e.errors))
    errors: list[RenderError] = []
    count = total = 0
    for key, fields in members:
        count += 1
        for part, tmpl in compiled._parts:
            try:
                tmpl.render(variables(fields))
            except TemplateError as e:
                total += 1
                if len(errors) < limit:
                    errors.append(RenderError(key, part, e.message or type(e).__name__))
    return Preview(count, tuple(errors), total)


def render_one(template: Template, fields: Mapping[str, Any]) -> Rendered:
    """Render one member, raising `TemplateErrors` with the reason (the UI's member preview).

    >>> render_one(Template("Hi", "x", html="<p>{{ name }}</p>"), {"name": "<b>"}).html
    '<p>&lt;b&gt;</p>'
    """
    compiled = compile_template(template)
    try:
        return compiled.render(fields)
    except TemplateError as e:
        raise TemplateErrors([RenderError(None, "render", e.message or type(e).__name__)]) from None


def _environment(autoescape: bool, images: set[str]) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape)

    def cid(name: str) -> Markup:
        if name not in images:
            known = ", ".join(sorted(images)) or "none"
            raise TemplateError(f"no inline image named {name!r} (the template has: {known})")
        return Markup(f"cid:{name}@{CID_DOMAIN}")

    env.globals["cid"] = cid
    return env


def _check_files(template: Template) -> list[RenderError]:
    errors = []
    names = [n for n, _ in template.images]
    for name in {n for n in names if names.count(n) > 1}:
        errors.append(RenderError(None, "images", f"two inline images are named {name!r}"))
    if template.images and template.html is None:
        errors.append(RenderError(None, "images", "inline images need an HTML body"))
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            errors.append(
                RenderError(None, "images", f"image name {name!r}: use letters, digits, . _ -")
            )
    return errors


@functools.lru_cache(maxsize=4096)
def _identifier(name: str) -> str:
    return re.sub(r"\W+", "_", name.strip().casefold()).strip("_") or "_"
