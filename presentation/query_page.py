"""A page that runs one Logical SQL request and shows the result, its SQL and its timings."""

from __future__ import annotations

import streamlit as st

from engine import Engine
from presentation import state
from semantic.errors import StrataError

SEED_QUESTION = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email"\n'
    'FROM "Campaigns"\n'
    'WHERE "Customer"."Customer Type" = \'Household\'\n'
    '  AND "Customer"."Distribution Area" = \'Sarajevo\'\n'
    '  AND "E-Services"."Service" = \'e-bill\'\n'
    'ORDER BY "Customer"."Customer Id"'
)


def render() -> None:
    """Draw the page (Streamlit reruns it on every interaction)."""
    opened = state.page()
    if opened is None:
        return
    engine, user = opened
    _sidebar(engine, user)
    st.title("Logical SQL")
    text = st.text_area("Request", SEED_QUESTION, height=180, key="logical_sql")
    if not st.button("Run", type="primary"):
        return
    try:
        result = engine.query(text, user)
    except StrataError as e:
        st.error(str(e))
        return
    st.caption(f"{result.rows:,} row(s) · {sum(ms for _, ms in result.timings):.1f} ms")
    st.dataframe(result.df, hide_index=True, width="stretch")
    with st.expander("Physical SQL and timings"):
        st.code(result.sql, language="sql")
        st.table({stage: f"{ms:.2f} ms" for stage, ms in result.timings})


def _sidebar(engine: Engine, user: str | None) -> None:
    with st.sidebar:
        st.header("Subject areas")
        for area in engine.subject_areas(user):
            with st.expander(area):
                for folder in engine.columns(area, user):
                    st.markdown(
                        f"**{folder.name}**  \n"
                        + "  \n".join(f'`"{folder.name}"."{c.name}"`' for c in folder.columns)
                    )
