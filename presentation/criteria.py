"""The Criteria tab: a searchable column tree and the selected columns' labels, sort and order."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine import Engine
from engine.columns import ColumnInfo
from presentation import draft

SORTS = ["", "asc", "desc"]


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _combinable(
    _eng: Engine, model_hash: str, area: str, selected: tuple, user: str | None
) -> dict:
    # The engine compiles the selection with each candidate; cached per model, selection, user.
    return _eng.combinable(area, selected, user)


def render(eng: Engine, user: str | None) -> None:
    area = st.session_state[draft.AREA]
    folders = eng.columns(area, user)
    selected = [(c["folder"], c["column"]) for c in st.session_state[draft.COLUMNS]]
    reasons = _combinable(eng, eng.model.hash, area, tuple(selected), user)
    left, right = st.columns([2, 3])
    with left:
        search = st.text_input("Find a column", key="b_search", placeholder="name or folder")
        needle = search.strip().lower()
        for folder in folders:
            shown = [
                c
                for c in folder.columns
                if not needle or needle in c.name.lower() or needle in folder.name.lower()
            ]
            if not shown:
                continue
            with st.expander(folder.name, expanded=bool(needle) or len(folders) <= 3):
                if folder.description:
                    st.caption(folder.description)
                for kind in ("attribute", "measure"):
                    for column in (c for c in shown if c.kind == kind):
                        _checkbox(column, (column.folder, column.name) in selected, reasons)
    with right:
        _selected_editor(folders)


def _checkbox(column: ColumnInfo, chosen: bool, reasons: dict) -> None:
    reason = reasons.get((column.folder, column.name))
    key = f"b_col::{st.session_state[draft.GENERATION]}::{column.folder}::{column.name}"
    icon = "Σ " if column.kind == "measure" else ""
    help_text = f"Cannot be added: {reason}" if reason and not chosen else column.description
    st.checkbox(
        f"{icon}{column.name}",
        value=chosen,
        key=key,
        disabled=bool(reason) and not chosen,
        help=help_text,
        on_change=_toggle,
        args=(column, key),
    )


def _toggle(column: ColumnInfo, key: str) -> None:
    columns = st.session_state[draft.COLUMNS]
    ref = (column.folder, column.name)
    present = any((c["folder"], c["column"]) == ref for c in columns)
    if st.session_state[key] and not present:
        columns.append(
            {"folder": column.folder, "column": column.name, "label": None, "sort": None}
        )
    elif not st.session_state[key]:
        columns[:] = [c for c in columns if (c["folder"], c["column"]) != ref]
    draft.bump()


def _selected_editor(folders) -> None:
    columns = st.session_state[draft.COLUMNS]
    st.markdown("**Selected columns**")
    if not columns:
        st.info("Tick columns on the left to add them to the analysis.")
        return
    frame = pd.DataFrame(
        {
            "Position": range(1, len(columns) + 1),
            "Column": [f"{c['folder']}.{c['column']}" for c in columns],
            "Label": [c.get("label") or "" for c in columns],
            "Sort": [c.get("sort") or "" for c in columns],
        }
    )
    edited = st.data_editor(
        frame,
        key=f"b_selected::{st.session_state[draft.VERSION]}",
        hide_index=True,
        disabled=["Column"],
        column_config={
            "Position": st.column_config.NumberColumn(min_value=1, step=1, help="Order"),
            "Label": st.column_config.TextColumn(help="The column's heading in the result"),
            "Sort": st.column_config.SelectboxColumn(options=SORTS, help="Sort by this column"),
        },
        width="stretch",
    )
    rows = sorted(
        zip(edited["Position"].fillna(len(columns)).tolist(), range(len(columns)), strict=True)
    )
    updated = [
        {
            **columns[i],
            "label": (edited["Label"].iloc[i] or None),
            "sort": (edited["Sort"].iloc[i] or None),
        }
        for _, i in rows
    ]
    labels = [c.get("label") or c["column"] for c in updated]
    if len(set(labels)) < len(labels):
        st.error("Two columns would have the same heading; give each its own label.")
        return
    if updated != columns:
        st.session_state[draft.COLUMNS] = updated
        draft.bump()
        st.rerun()
