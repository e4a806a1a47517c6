"""A page that runs one Logical SQL request and shows the result, its SQL and its timings."""

from __future__ import annotations

import os

import streamlit as st

from engine import Engine
from semantic.errors import StrataError

SEED_QUESTION = (
    'SELECT "Customer"."Customer Id", "Customer"."Customer Name", "Contact"."Email"\n'
    'FROM "Campaigns"\n'
    'WHERE "Customer"."Customer Type" = \'Household\'\n'
    '  AND "Customer"."Distribution Area" = \'Sarajevo\'\n'
    '  AND "E-Services"."Service" = \'e-bill\'\n'
    'ORDER BY "Customer"."Customer Id"'
)


@st.cache_resource
def _engine(model_dir: str) -> Engine:
    return Engine.open(model_dir)


def render() -> None:
    """Draw the page (Streamlit reruns it on every interaction)."""
    model_dir = os.environ.get("STRATA_MODEL", "models/demo")
    try:
        engine = _engine(model_dir)
    except StrataError as e:
        st.error(f"The model in {model_dir} cannot be loaded:\n\n```\n{e}\n```")
        return
    engine.reload_if_changed()
    if engine.reload_errors is not None:
        st.warning(
            "The model on disk has errors; the last good model stays in use.\n\n"
            f"```\n{engine.reload_errors}\n```"
        )
    _sidebar(engine)
    st.title("Logical SQL")
    text = st.text_area("Request", SEED_QUESTION, height=180, key="logical_sql")
    if not st.button("Run", type="primary"):
        return
    try:
        result = engine.query(text)
    except StrataError as e:
        st.error(str(e))
        return
    st.caption(f"{result.rows:,} row(s) · {sum(ms for _, ms in result.timings):.1f} ms")
    st.dataframe(result.df, hide_index=True, width="stretch")
    with st.expander("Physical SQL and timings"):
        st.code(result.sql, language="sql")
        st.table({stage: f"{ms:.2f} ms" for stage, ms in result.timings})


def _sidebar(engine: Engine) -> None:
    with st.sidebar:
        st.header("Subject areas")
        for area in engine.model.subject_areas:
            with st.expander(area.name):
                for folder in area.folders:
                    st.markdown(
                        f"**{folder.name}**  \n"
                        + "  \n".join(f'`"{folder.name}"."{c.name}"`' for c in folder.columns)
                    )
