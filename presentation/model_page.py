"""The model browser: the three layers of the loaded model and what the check says of it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from presentation import state


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Model")
    if not state.is_admin(eng, user):
        st.info("The model browser is for administrators (modelers).")
        return
    model = eng.model
    st.caption(f"{model.path} · model hash {model.hash[:12]}")
    if eng.reload_errors is None:
        st.success("The model passes `strata check`: no findings.")
    physical, business, presentation = st.tabs(["Physical", "Business", "Presentation"])
    with physical:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "table": t.name,
                        "database": t.database,
                        "name in database": t.table,
                        "columns": ", ".join(c for c, _ in t.columns),
                        "primary key": ", ".join(t.primary_key),
                    }
                    for t in model.tables
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        st.markdown("**Joins**")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "many": f"{j.many}({', '.join(j.many_columns)})",
                        "one": f"{j.one}({', '.join(j.one_columns)})",
                        "cardinality": str(j.cardinality),
                    }
                    for j in model.joins
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    with business:
        for table in model.logical_tables:
            with st.expander(f"{table.name} ({table.kind})"):
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "column": c.name,
                                "kind": str(c.kind),
                                "aggregation": str(c.aggregation or ""),
                                "definition": _definition(c),
                                "description": c.description or "",
                            }
                            for c in table.columns
                        ]
                    ),
                    hide_index=True,
                    width="stretch",
                )
        for hierarchy in model.hierarchies:
            st.markdown(
                f"**{hierarchy.name}** ({hierarchy.table}): "
                + " > ".join(level.name for level in hierarchy.levels)
            )
    with presentation:
        for area in model.subject_areas:
            roles = ", ".join(area.roles) or "everyone"
            with st.expander(f"{area.name} · {roles}"):
                for folder in area.folders:
                    st.markdown(
                        f"**{folder.name}** ({', '.join(folder.roles) or 'everyone'}): "
                        + ", ".join(
                            c.name + (f" [{', '.join(c.roles)}]" if c.roles else "")
                            for c in folder.columns
                        )
                    )


def _definition(column) -> str:
    tree = column.formula if column.formula is not None else column.expr
    return tree.sql() if tree is not None else ""
