"""The catalog: My Folder and Shared Folders, with owner and last run; open, rename, delete."""

from __future__ import annotations

import streamlit as st

from presentation import state
from presentation.builder import OPEN_REQUEST, _folder_label
from semantic.errors import StrataError
from store.analyses import Folder, delete_analysis, list_analyses, rename_analysis


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Catalog")
    admin = state.is_admin(eng, user)
    user = state.owner(eng, user)
    items = list_analyses(state.store(eng), user)
    for folder in Folder:
        st.subheader(_folder_label(folder))
        here = [a for a in items if a.folder is folder]
        if not here:
            st.caption("Nothing saved here yet.")
        for item in here:
            _row(eng, user, item, admin)


def _row(eng, user: str, item, admin: bool) -> None:
    key = f"{item.folder.value}::{item.owner}::{item.name}"
    with st.container(border=True):
        cells = st.columns([4, 2, 2, 3])
        kind = "Filter" if item.kind == "filter" else "Analysis"
        cells[0].markdown(f"**{item.name}**  \n{kind} · {item.subject_area}")
        cells[1].caption(f"owner  \n{item.owner}")
        last = item.last_run_at.strftime("%Y-%m-%d %H:%M") if item.last_run_at else "never"
        cells[2].caption(f"last run  \n{last}")
        actions = cells[3].columns(3)
        if item.kind == "analysis" and actions[0].button("Open", key=f"cat_open::{key}"):
            st.session_state[OPEN_REQUEST] = (
                item.spec,
                item.logical_sql,
                item.subject_area,
                (item.folder.value, item.owner, item.name),
            )
            st.switch_page(st.session_state["pages"]["builder"])
        if actions[1].button("Rename", key=f"cat_ren::{key}"):
            st.session_state["cat_renaming"] = key
        if actions[2].button("Delete", key=f"cat_del::{key}"):
            try:
                delete_analysis(state.store(eng), user, item.name, item.folder, admin)
            except StrataError as e:
                st.error(str(e))
            else:
                st.rerun()
        if st.session_state.get("cat_renaming") == key:
            new = st.text_input("New name", value=item.name, key=f"cat_name::{key}")
            if st.button("Rename it", key=f"cat_do::{key}"):
                try:
                    rename_analysis(state.store(eng), user, item.name, new, item.folder, admin)
                except StrataError as e:
                    st.error(str(e))
                else:
                    st.session_state.pop("cat_renaming")
                    st.rerun()
