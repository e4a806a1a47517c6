"""The query log: each request with its Logical SQL, physical SQL, timings and outcome."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from presentation import state
from store import recent_queries


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Query log")
    admin = state.is_admin(eng, user)
    eng.log.flush()
    entries = recent_queries(state.store(eng), user=None if admin else user, last=200)
    st.caption("Every user's requests" if admin else f"Requests of {user}")
    if not entries:
        st.info("No requests logged yet.")
        return
    frame = pd.DataFrame(
        [
            {
                "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "user": e.user_name,
                "subject area": e.subject_area,
                "rows": e.rows,
                "compile ms": sum(
                    x or 0 for x in (e.parse_ms, e.resolve_ms, e.plan_ms, e.generate_ms)
                ),
                "execute ms": e.execute_ms,
                "cache": e.cache,
                "error": e.error,
                "logical SQL": e.logical_sql,
            }
            for e in entries
        ]
    )
    picked = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="log_table",
    )
    rows = picked.selection.rows if picked else []
    if rows:
        entry = entries[rows[0]]
        st.code(entry.logical_sql, language="sql")
        st.code(entry.physical_sql or "(not compiled)", language="sql")
