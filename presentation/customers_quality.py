"""Data quality: the "Data Quality" subject area's answers, asked of the engine as the acting
user (`customers.quality.quality_report`), as tables and plotly charts.

The page adds no number of its own: a saved analysis, the CLI and this page agree.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from customers.hub import default_hub_path
from customers.quality import SUBJECT_AREA, quality_report
from presentation import hub, state
from semantic.errors import StrataError


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Data quality")
    if SUBJECT_AREA not in eng.subject_areas(user):
        st.info(f'Acting as **{eng.session(user).user}**, who may not see "{SUBJECT_AREA}".')
        return
    if not default_hub_path().exists():
        st.info("The customer hub is empty: import a file on the Import page first.")
        return
    try:
        report = quality_report(eng, user)
    except StrataError as e:
        st.error(str(e))
        return
    finally:
        hub.release(eng)  # the answers are in hand: never hold the hub between page views
    _summary(report.table("summary"))
    left, right = st.columns(2)
    with left:
        _chart(
            report.table("cluster sizes"),
            "Entities by records per entity",
            lambda df: px.bar(df, x="Records per Entity", y="# Entities"),
            "dq_sizes",
        )
    with right:
        _chart(
            report.table("severity"),
            "Candidate pairs of the newest run by severity",
            lambda df: px.bar(df, x="Severity", y="# Candidate Pairs"),
            "dq_severity",
        )
    _chart(
        report.table("completeness by area"),
        "Completeness by distribution area",
        lambda df: px.bar(
            df.melt(
                id_vars="Distribution Area",
                value_vars=["# Missing E-mail", "# Invalid E-mail", "# Missing Phone"],
                var_name="problem",
                value_name="records",
            ),
            x="Distribution Area",
            y="records",
            color="problem",
            barmode="group",
        ),
        "dq_completeness",
    )
    _chart(
        report.table("growth by month"),
        "Customer base by month (customer since)",
        lambda df: px.line(df, x="Customer Since Month", y=["# Records", "# Entities"]),
        "dq_growth",
    )
    st.markdown("**Duplicates by import batch**")
    st.dataframe(report.table("by batch"), hide_index=True, key="dq_by_batch")


def _summary(df: pd.DataFrame) -> None:
    row = df.iloc[0] if len(df) else None
    cells = st.columns(4)
    for cell, name in zip(
        cells, ["# Records", "# Entities", "Duplicate Rate", "# Duplicate Records"], strict=True
    ):
        value = None if row is None else row[name]
        cell.metric(name, _number(value))


def _number(value) -> str:
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}"


def _chart(df: pd.DataFrame, title: str, figure, key: str) -> None:
    st.markdown(f"**{title}**")
    if df.empty:
        st.caption("No rows.")
        return
    st.plotly_chart(figure(df), key=key)
    st.dataframe(df, hide_index=True, key=f"{key}_table")
