"""Campaign lists: every frozen version with its provenance (rows, content hash, who and when,
model hash, the Logical SQL), a preview of its members, and "freeze again" as the acting user.

Lists are made from the builder's Results tab ("Save as campaign list"); freezing again
re-runs the same Logical SQL through the engine as the user picked in the sidebar.
"""

from __future__ import annotations

import streamlit as st

from campaigns import CampaignList, freeze_list, list_members, list_versions, viewer
from campaigns.golden import default_hub
from presentation import state
from semantic.errors import StrataError

PREVIEW_ROWS = 50
FLASH = "cl_flash"  # a message that outlives the rerun that shows the new version


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Campaign lists")
    if flash := st.session_state.pop(FLASH, None):
        st.success(flash)
    store = state.store(eng)
    lists = list_versions(store, viewer(eng, user))
    if not lists:
        st.info(
            "No campaign lists yet. Build an analysis on the Analysis page and use "
            "**Save as campaign list** on its Results tab."
        )
        return
    names = list(dict.fromkeys(f.name for f in lists))
    name = st.selectbox("List", names, key="cl_name")
    versions = [f for f in lists if f.name == name]
    st.dataframe(
        [_provenance(f) for f in versions], hide_index=True, key="cl_versions", width="stretch"
    )
    chosen = st.selectbox(
        "Version",
        versions,
        format_func=lambda f: f"v{f.version} · {f.row_count:,} members · {f.created_by}",
        key=f"cl_version::{name}",
    )
    _details(store, chosen)
    _freeze_again(eng, user, chosen)


def _provenance(f: CampaignList) -> dict:
    return {
        "version": f.version,
        "members": f.row_count,
        "content hash": f.content_hash[:12],
        "frozen by": f.created_by,
        "frozen at": f.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "model hash": f.model_hash[:12],
        "subject area": f.subject_area or "",
        "key": f.key_column,
        "e-mail": f.email_column or "",
        "phone": f.phone_column or "",
    }


def _details(store, frozen: CampaignList) -> None:
    st.markdown(f"**Logical SQL of version {frozen.version}**")
    st.code(frozen.logical_sql, language="sql")
    st.caption(f"content {frozen.content_hash} · model {frozen.model_hash}")
    members = list_members(store, frozen)
    merged = any(m.merged_into for m in members)
    st.markdown(
        f"**Members** (first {min(PREVIEW_ROWS, len(members)):,} of {len(members):,}, in key order)"
    )
    st.dataframe(
        [
            {
                "key": m.key,
                "e-mail": m.email,
                "phone": m.phone,
                # Only on lists the customer hub collapsed: whom this member is contacted as.
                **({"merged into": m.merged_into or ""} if merged else {}),
                **m.fields,
            }
            for m in members[:PREVIEW_ROWS]
        ],
        hide_index=True,
        key=f"cl_members::{frozen.id}",
        width="stretch",
    )


def _freeze_again(eng, user: str | None, frozen: CampaignList) -> None:
    st.divider()
    st.markdown("**Freeze again**")
    st.caption(
        f"Runs the Logical SQL above as **{state.owner(eng, user)}** (their permissions and row "
        "filters apply) and stores the answer as the next version; earlier versions, and "
        "campaigns that use them, stay as they are."
    )
    if not st.button("Freeze again", key=f"cl_refreeze::{frozen.id}"):
        return
    try:
        made = freeze_list(
            eng,
            state.store(eng),
            frozen.name,
            frozen.logical_sql,
            user,
            key=frozen.key_column,
            email=frozen.email_column,
            phone=frozen.phone_column,
            hub=default_hub(),
        )
    except StrataError as e:
        st.error(str(e))
        return
    same = " (same content as before)" if made.content_hash == frozen.content_hash else ""
    st.session_state[FLASH] = (
        f"Campaign list {made.name!r} version {made.version}: {made.row_count:,} members{same}"
    )
    st.session_state.pop(f"cl_version::{made.name}", None)  # show the new version
    st.rerun()
