"""The campaign editor: a draft campaign from a frozen list, with its channel, template (subject,
text, optional HTML with inline images by CID, attachments), control share and rate.

The template is checked against every member of the list as it is typed (strict undefined:
a missing field is an error, not an empty string), and any member can be previewed.
"""

from __future__ import annotations

import base64
import hashlib

import streamlit as st

from campaigns import (
    CampaignList,
    Template,
    create_campaign,
    list_members,
    list_versions,
    preview,
    render_one,
    viewer,
)
from campaigns.files import put_file
from campaigns.sms import segments
from campaigns.templates import CID_DOMAIN, TemplateErrors
from presentation import state
from semantic.errors import StrataError

FLASH = "ce_flash"
CREATED = "ce_created"  # the campaign just made; the pre-flight page opens it


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("New campaign")
    if flash := st.session_state.pop(FLASH, None):
        st.success(flash)
        st.page_link(st.session_state["pages"]["campaign_launch"], label="Pre-flight and launch →")
    store = state.store(eng)
    lists = list_versions(store, viewer(eng, user))
    if not lists:
        st.info("Freeze a campaign list first (Analysis → Results → Save as campaign list).")
        return
    frozen = st.selectbox(
        "Campaign list",
        lists,
        format_func=lambda f: f"{f.name} v{f.version} · {f.row_count:,} members",
        key="ce_list",
    )
    members = list_members(store, frozen)
    top = st.columns([3, 2])
    name = top[0].text_input("Campaign name", key="ce_name")
    channel = top[1].radio(
        "Channel",
        ["email", "sms"],
        format_func={"email": "E-mail", "sms": "SMS"}.get,
        horizontal=True,
        key="ce_channel",
    )
    template, images = _template_inputs(channel, frozen)
    settings = _send_inputs()
    st.divider()
    checked = _check(template, frozen, members)
    _preview(template, images, members, channel)
    st.divider()
    if st.button("Create draft campaign", key="ce_create", type="primary"):
        _create(store, state.owner(eng, user), name, frozen, template, channel, settings, checked)


def _template_inputs(channel: str, frozen: CampaignList) -> tuple[Template, dict[str, bytes]]:
    st.caption(
        "Jinja2 templates. Each list column is a variable in snake_case "
        f"({', '.join('`' + _var(c) + '`' for c in frozen.field_names[:6])}"
        f"{', …' if len(frozen.field_names) > 6 else ''}), and all of them are in "
        "`member['Column Name']`; `{{ x | default('') }}` makes a field optional."
    )
    subject = st.text_input(
        "Subject" if channel == "email" else "Subject (not sent by SMS; names the message)",
        key="ce_subject",
    )
    text = st.text_area("Text body", height=140, key="ce_text")
    if channel == "sms":
        st.session_state["ce_files"] = ({}, {})
        return Template(subject, text), {}
    html = st.text_area("HTML body (optional)", height=140, key="ce_html")
    cells = st.columns(2)
    uploaded_images = cells[0].file_uploader(
        "Inline images (the HTML refers to them as {{ cid('logo.png') }})",
        type=["png", "jpg", "jpeg", "gif", "webp"],
        accept_multiple_files=True,
        key="ce_images",
    )
    uploaded_files = cells[1].file_uploader(
        "Attachments", accept_multiple_files=True, key="ce_attachments"
    )
    images = {f.name: f.getvalue() for f in uploaded_images or ()}
    attachments = {f.name: f.getvalue() for f in uploaded_files or ()}
    st.session_state["ce_files"] = (images, attachments)  # the bytes _create stores
    template = Template(
        subject,
        text,
        html if html.strip() else None,
        tuple((n, _digest(b)) for n, b in images.items()),
        tuple((n, _digest(b)) for n, b in attachments.items()),
    )
    return template, images


def _send_inputs() -> dict:
    cells = st.columns(3)
    control = cells[0].number_input(
        "Control share",
        min_value=0.0,
        max_value=0.95,
        value=0.0,
        step=0.05,
        help="The share of members held out (no message) to measure lift against.",
        key="ce_control",
    )
    rate = cells[1].number_input(
        "Messages per second (0: no limit)", min_value=0.0, value=0.0, step=1.0, key="ce_rate"
    )
    per_hour = cells[2].number_input(
        "Messages per hour (0: no limit)", min_value=0, value=0, step=100, key="ce_per_hour"
    )
    return {
        "control_share": float(control),
        "rate_per_second": float(rate) or None,
        "rate_per_hour": int(per_hour) or None,
    }


@st.cache_data(max_entries=16, show_spinner="Rendering the template for every member…")
def _checked(template_json: str, content_hash: str, _members) -> tuple[int, int, list[str]]:
    # Keyed by the template and the list's content hash: the same members render the same.
    found = preview(
        Template.from_json(template_json), ((m.key, m.fields) for m in _members), limit=20
    )
    return found.members, found.error_count, [str(e) for e in found.errors]


def _check(template: Template, frozen: CampaignList, members) -> int:
    """Render every member; show the errors (the first 20) and return how many there were."""
    if not template.subject.strip() and not template.text.strip():
        st.info("Write a subject and a text body to check them against the list.")
        return -1
    rendered, errors, shown = _checked(template.to_json(), frozen.content_hash, members)
    if errors:
        st.error(
            f"**{errors:,} rendering error(s)** over {rendered:,} members:\n\n"
            + "\n".join(f"- {line}" for line in shown)
            + ("\n- …" if errors > len(shown) else "")
        )
    else:
        st.success(f"The template renders for all {rendered:,} members.")
    return errors


def _preview(template: Template, images: dict[str, bytes], members, channel: str) -> None:
    st.subheader("Preview")
    if not members:
        st.caption("The list has no members.")
        return
    by_key = {m.key: m for m in members}
    key = st.selectbox("Member key", list(by_key), key="ce_member")
    member = by_key[key]
    st.caption(f"e-mail {member.email or '-'} · phone {member.phone or '-'}")
    try:
        out = render_one(template, member.fields)
    except TemplateErrors as e:
        st.error(str(e))
        return
    if channel == "sms":
        encoding, parts = segments(out.text)
        st.code(out.text, language=None)
        st.caption(f"SMS: {len(out.text)} characters, {encoding}, {parts} segment(s)")
        return
    st.markdown(f"**Subject:** {out.subject}")
    st.code(out.text, language=None)
    if out.html is not None:
        st.html(_inline(out.html, images))
        with st.expander("HTML source"):
            st.code(out.html, language="html")
    if template.attachments:
        st.caption("Attachments: " + ", ".join(n for n, _ in template.attachments))


def _create(store, owner: str, name: str, frozen, template, channel, settings, errors) -> None:
    if not name.strip():
        st.error("Give the campaign a name.")
        return
    if errors < 0:
        st.error("Write a subject and a text body first.")
        return
    if errors:
        st.error("Fix the template first: it must render for every member of the list.")
        return
    images, attachments = st.session_state.get("ce_files", ({}, {}))
    try:
        for content in (*images.values(), *attachments.values()):
            put_file(content)  # content-addressed: the template's digests name these files
        made = create_campaign(
            store, name.strip(), frozen, template, owner, channel=channel, **settings
        )
    except StrataError as e:
        st.error(str(e))
        return
    st.session_state[CREATED] = made.name
    st.session_state[FLASH] = (
        f"Draft campaign {made.name!r} created for list {frozen.name!r} v{frozen.version}."
    )
    st.rerun()


def _inline(html: str, images: dict[str, bytes]) -> str:
    """The HTML with each `cid:` reference replaced by the image itself, for the browser.

    >>> _inline('<img src="cid:a.png@strata.invalid">', {"a.png": b"x"})
    '<img src="data:image/png;base64,eA==">'
    """
    for name, content in images.items():
        kind = name.rpartition(".")[2].lower().replace("jpg", "jpeg")
        data = base64.b64encode(content).decode()
        html = html.replace(f"cid:{name}@{CID_DOMAIN}", f"data:image/{kind};base64,{data}")
    return html


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _var(column: str) -> str:
    from campaigns.templates import variables

    return next(k for k in variables({column: None}) if k != "member")
