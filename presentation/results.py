"""The Results tab: prompts, then the result as a table, a pivot or a chart, and the exports."""

from __future__ import annotations

import io

import pandas as pd
import plotly.express as px
import streamlit as st

from engine import Engine
from engine.analysis import Analysis, drill_down, to_logical_sql
from engine.api import Result
from engine.pivot import PivotLayout
from presentation import draft
from presentation.filters import value_list
from semantic.errors import StrataError

ROW_CAP = 5_000  # rows shown on screen; exports always carry the whole result
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


def prompts(eng: Engine, user: str | None) -> dict[tuple[str, str], tuple]:
    """The prompt row above the results: one picker per "is prompted" condition."""
    asked = draft.prompted(st.session_state[draft.FILTERS])
    answers: dict[tuple[str, str], tuple] = {}
    if not asked:
        return answers
    cells = st.columns(min(len(asked), 4))
    for i, item in enumerate(asked):
        ref = (item["folder"], item["column"])
        found = value_list(eng, eng.model.hash, st.session_state[draft.AREA], *ref, user, "")
        chosen = cells[i % len(cells)].multiselect(
            f"{item['column']} (prompt)",
            list(found.values),
            key=f"p::{item['id']}",
            accept_new_options=True,
            placeholder="all values",
        )
        if chosen:
            answers[ref] = tuple(chosen)
    return answers


def run(eng: Engine, user: str | None, sql: str) -> Result | None:
    try:
        return eng.query(sql, user)
    except StrataError as e:
        st.error(str(e))
        return None


def render(eng: Engine, user: str | None, analysis: Analysis | None, sql: str, options) -> None:
    result = run(eng, user, sql)
    if result is None:
        return
    st.session_state["b_last_result"] = result
    shown = result.df.head(ROW_CAP)
    if result.rows > ROW_CAP:
        st.warning(
            f"More than {ROW_CAP:,} rows: showing the first {ROW_CAP:,}. "
            "Exports below carry every row."
        )
    else:
        st.caption(f"{result.rows:,} row(s) · row cap {ROW_CAP:,}")
    view = st.segmented_control("View", ["Table", "Pivot", "Chart"], default="Table", key="b_view")
    if view == "Pivot" and analysis is not None:
        _pivot(eng, user, analysis, options)
    elif view == "Chart" and analysis is not None:
        _chart(eng, user, analysis, shown)
    else:
        picked = st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            key="b_table",
            on_select="rerun",
            selection_mode="single-row",
        )
        if analysis is not None:
            _drill(eng, user, analysis, shown, picked.selection.rows if picked else [])
    _exports(eng, user, analysis, sql, options)


def _drill(eng: Engine, user, analysis: Analysis, shown: pd.DataFrame, selected: list) -> None:
    """Buttons that drill the selected row's hierarchy members one level down."""
    lower = {lv.column: lv.drills_to for lv in eng.levels(analysis.subject_area, user)}
    drillable = [
        (i, c) for i, c in enumerate(analysis.columns) if lower.get(f'"{c.folder}"."{c.column}"')
    ]
    if not drillable:
        return
    if not selected:
        st.caption("Select a row to drill down on " + ", ".join(c.column for _, c in drillable))
        return
    row = shown.iloc[selected[0]]
    types = {
        (c.folder, c.name): c.value_type
        for f in eng.columns(analysis.subject_area, user)
        for c in f.columns
    }
    cells = st.columns(len(drillable))
    for (i, column), cell in zip(drillable, cells, strict=True):
        value = row.iloc[i]
        value = None if pd.isna(value) else value
        target = lower[f'"{column.folder}"."{column.column}"']
        folder, name = (part.strip('"') for part in target.split('"."'))
        if cell.button(f"Drill into {column.column} = {value}", key=f"b_drill::{i}"):
            ref = (column.folder, column.column)
            drilled = drill_down(analysis, ref, value, (folder, name), types[ref])
            draft.load(drilled, "", analysis.subject_area, st.session_state.get(draft.NAME))
            st.rerun()


def _kinds(eng: Engine, user, analysis: Analysis) -> tuple[list[str], list[str]]:
    info = {
        (c.folder, c.name): c for f in eng.columns(analysis.subject_area, user) for c in f.columns
    }
    attributes, measures = [], []
    for c in analysis.columns:
        (measures if info[(c.folder, c.column)].kind == "measure" else attributes).append(
            c.label or c.column
        )
    return attributes, measures


def _pivot(eng: Engine, user, analysis: Analysis, options) -> None:
    attributes, measures = _kinds(eng, user, analysis)
    if not measures:
        st.info("A pivot needs at least one measure.")
        return
    left, right = st.columns(2)
    rows = left.multiselect("Rows", attributes, default=attributes[:1], key="pv_rows")
    columns = right.multiselect(
        "Columns",
        [a for a in attributes if a not in rows],
        default=[a for a in attributes[1:2] if a not in rows],
        key="pv_cols",
    )
    unused = [a for a in attributes if a not in rows and a not in columns]
    if unused:
        st.caption("Not in the pivot (totals then add over them): " + ", ".join(unused))
    layout = PivotLayout(tuple(rows), tuple(columns), tuple(measures))
    try:
        frame = eng.pivot(_at(analysis, layout), layout, user, **options)
    except StrataError as e:
        st.error(str(e))
        return
    st.dataframe(frame, hide_index=True, width="stretch", key="b_pivot")
    st.download_button(
        f"Download pivot CSV ({len(frame):,} rows)",
        frame.to_csv(index=False).encode(),
        file_name="pivot.csv",
        mime="text/csv",
        key="b_pivot_csv",
    )


def _at(analysis: Analysis, layout: PivotLayout) -> Analysis:
    """The analysis reduced to the pivot's columns: an attribute left out is summed over."""
    keep = {*layout.rows, *layout.columns, *layout.measures}
    return Analysis(
        analysis.subject_area,
        tuple(c for c in analysis.columns if (c.label or c.column) in keep),
        analysis.filters,
    )


def _chart(eng: Engine, user, analysis: Analysis, frame: pd.DataFrame) -> None:
    attributes, measures = _kinds(eng, user, analysis)
    if not measures or not attributes:
        st.info("A chart needs at least one attribute and one measure.")
        return
    a, b, c, d = st.columns(4)
    kind = a.selectbox("Chart", ["Bar", "Line", "Pie"], key="ch_kind")
    x = b.selectbox("Category", attributes, key="ch_x")
    y = c.selectbox("Measure", measures, key="ch_y")
    colours = ["", *(x2 for x2 in attributes if x2 != x)]
    # With a second attribute, colour by it: one bar per member, not a silent stack of them.
    default = 1 if len(colours) > 1 else 0
    colour = (
        d.selectbox("Colour by", colours, index=default, key="ch_colour") if kind != "Pie" else ""
    )
    data = frame.copy()
    for attribute in {x, colour} - {""}:
        data[attribute] = data[attribute].astype(object).where(data[attribute].notna(), "(none)")
        data[attribute] = data[attribute].astype(str)
    if kind == "Pie":
        figure = px.pie(data, names=x, values=y)
    elif kind == "Line":
        figure = px.line(data.sort_values(x), x=x, y=y, color=colour or None, markers=True)
    else:
        figure = px.bar(data, x=x, y=y, color=colour or None, barmode="group")
    st.plotly_chart(figure, key="b_chart")


def _exports(eng: Engine, user, analysis: Analysis | None, sql: str, options) -> None:
    st.divider()
    st.markdown("**Export the full result**")
    full_sql = sql if analysis is None else to_logical_sql(analysis, **options)
    if st.button("Prepare CSV and Excel files", key="b_export"):
        result = run(eng, user, full_sql)
        if result is not None:
            st.session_state["b_export_files"] = (full_sql, user, _files(result.df))
    prepared = st.session_state.get("b_export_files")
    # Files prepared for another request or user are stale: never offer them.
    files = prepared[2] if prepared and prepared[:2] == (full_sql, user) else None
    if not files:
        st.caption("The export runs the analysis again without the row cap, as the same user.")
        return
    rows, csv, xlsx = files
    left, right = st.columns(2)
    left.download_button(
        f"Download CSV ({rows:,} rows)",
        csv,
        file_name=f"analysis-{rows}-rows.csv",
        mime="text/csv",
        key="b_csv",
    )
    if xlsx is None:
        right.warning(f"{rows:,} rows do not fit in an Excel sheet; use the CSV.")
    else:
        right.download_button(
            f"Download Excel ({rows:,} rows)",
            xlsx,
            file_name=f"analysis-{rows}-rows.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key="b_xlsx",
        )


def _files(frame: pd.DataFrame) -> tuple[int, bytes, bytes | None]:
    csv = frame.to_csv(index=False).encode()
    if len(frame) > XLSX_MAX_ROWS:
        return len(frame), csv, None
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name="Result")
    return len(frame), csv, buffer.getvalue()
