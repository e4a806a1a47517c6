"""A pivot table whose totals come from the engine, not from adding up cells.

Summing the cells of "# Customers" (a distinct count) or "Collection Rate" (a ratio) across a
row gives a wrong total. As OBIEE's BI Server does, each total is its own request at its own
grain: cells at rows × columns, row totals at rows, column totals at columns, the grand total
at no grain, every one with the analysis's filters. The frame that is shown is the frame that is
exported, so the export always matches the screen.

>>> import pandas as pd
>>> cells = pd.DataFrame({"Area": ["A", "A", "B"], "Year": [1, 2, 1], "N": [2, 3, 4]})
>>> frame = pivot_frame(
...     cells, pd.DataFrame({"Area": ["A", "B"], "N": [4, 4]}),
...     pd.DataFrame({"Year": [1, 2], "N": [5, 3]}), pd.DataFrame({"N": [7]}),
...     ("Area",), ("Year",), ("N",))
>>> print(frame.to_string(index=False))
 Area  1 · N  2 · N  Total · N
    A    2.0    3.0          4
    B    4.0    NaN          4
Total    5.0    3.0          7
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from engine.analysis import (
    Analysis,
    Condition,
    FilterGroup,
    Selected,
    _plain,
    conditions_on,
    expand_named,
    without,
)
from engine.errors import LogicalSQLError

TOTAL = "Total"
NULL_MEMBER = "(none)"


@dataclass(frozen=True)
class PivotLayout:
    rows: tuple[str, ...]  # labels of attribute columns of the analysis
    columns: tuple[str, ...]
    measures: tuple[str, ...]


def pivot_requests(analysis: Analysis, layout: PivotLayout) -> dict[str, Analysis | None]:
    """The analyses a pivot needs: cells, row totals, column totals and the grand total.

    A total that the layout makes redundant (no column attributes: row totals are the cells)
    is None.
    """
    by_label = {_label(c): c for c in analysis.columns}
    if len(by_label) < len(analysis.columns):
        raise LogicalSQLError(
            "two columns of the analysis have the same heading",
            "give each column its own label before pivoting",
        )

    def at(labels: tuple[str, ...]) -> Analysis:
        picked = tuple(replace(by_label[x], sort=None) for x in (*labels, *layout.measures))
        return replace(analysis, columns=picked)

    return {
        "cells": at((*layout.rows, *layout.columns)),
        "row_totals": at(layout.rows) if layout.columns else None,
        "column_totals": at(layout.columns) if layout.rows else None,
        "grand": at(()) if layout.rows or layout.columns else None,
    }


def pivot_frame(
    cells: pd.DataFrame,
    row_totals: pd.DataFrame | None,
    column_totals: pd.DataFrame | None,
    grand: pd.DataFrame | None,
    rows: tuple[str, ...],
    columns: tuple[str, ...],
    measures: tuple[str, ...],
) -> pd.DataFrame:
    """One flat frame: a column per row attribute, then "member · measure" columns, then
    totals; the last row holds the column totals."""
    # Members in their natural order, the unknown (NULL) member last, as OBIEE lays them out.
    if rows or columns:
        cells = cells.sort_values([*rows, *columns], na_position="last", kind="stable")
    cells = _members(cells, (*rows, *columns))
    if columns:
        if rows:
            wide = cells.set_index([*rows, *columns])[list(measures)].unstack(list(columns))
        else:
            wide = pd.DataFrame(
                [
                    {
                        (m, *(r[c] for c in columns)): r[m]
                        for _, r in cells.iterrows()
                        for m in measures
                    }
                ]
            )
        wide.columns = [_header(c, len(columns)) for c in wide.columns]
        order = _member_order(cells, columns)
        wide = wide[sorted(wide.columns, key=lambda h: _order(h, order, measures))]
        wide = wide.reset_index() if rows else wide.reset_index(drop=True)
    else:
        wide = cells[[*rows, *measures]].reset_index(drop=True)
    if columns and row_totals is not None:
        totals = _members(row_totals, rows).rename(columns={m: f"{TOTAL} · {m}" for m in measures})
        wide = (
            wide.merge(totals, on=list(rows), how="left")
            if rows
            else pd.concat([wide, totals.reset_index(drop=True)], axis=1)
        )
    elif columns and grand is not None:
        wide = pd.concat(
            [wide, grand.rename(columns={m: f"{TOTAL} · {m}" for m in measures})], axis=1
        )
    if rows and grand is not None:
        last = {r: (TOTAL if i == 0 else "") for i, r in enumerate(rows)}
        if columns and column_totals is not None:
            for _, total in _members(column_totals, columns).iterrows():
                key = " · ".join(str(total[c]) for c in columns)
                for m in measures:
                    last[f"{key} · {m}"] = total[m]
        for m in measures:
            last[f"{TOTAL} · {m}" if columns else m] = grand[m].iloc[0]
        wide = pd.concat([wide, pd.DataFrame([last])], ignore_index=True)
    return wide


def _label(column: Selected) -> str:
    return column.label or column.column


def _members(frame: pd.DataFrame, attributes: tuple[str, ...]) -> pd.DataFrame:
    """A NULL member is a member ("unknown area"), not a missing key that pandas would drop."""
    frame = frame.copy()
    for a in attributes:
        frame[a] = frame[a].astype(object).where(frame[a].notna(), NULL_MEMBER)
    return frame


def _header(key: tuple, n_columns: int) -> str:
    measure, *members = key
    return " · ".join([*(str(m) for m in members[:n_columns]), measure])


def _member_order(cells: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, int]:
    """Each column-member combination's place in the sorted cells, computed once."""
    seen = cells[list(columns)].astype(str).drop_duplicates().agg(" · ".join, axis=1)
    return {member: i for i, member in enumerate(seen)}


def _order(header: str, order: dict[str, int], measures: tuple[str, ...]) -> tuple[int, int]:
    """Members in the order of the sorted cells, measures in selection order."""
    *members, measure = header.split(" · ")
    return (order[" · ".join(members)], measures.index(measure))


# A measure filter makes each total ask for the cells that passed it, one condition per cell.
MAX_FILTERED_CELLS = 2_000


def totals_filters(
    analysis: Analysis,
    layout: PivotLayout,
    cells: pd.DataFrame,
    measures: set[tuple[str, str]],
    value_types: dict[tuple[str, str], str],
    named: dict,
) -> FilterGroup | None:
    """The filters of the total requests when the analysis filters on a measure, else None.

    A measure condition holds at the cells' grain. Asked again at a total's grain it would keep
    or drop other rows (Bakir's 30 passes `> 25`, but so does a month's 145), so each total is
    asked instead for exactly the cells on screen: the attribute conditions as they are, and
    the members of every cell that passed.
    """
    expanded = expand_named(analysis.filters, named)
    filtered = conditions_on(expanded) & measures
    if not filtered:
        return None
    if len(cells) > MAX_FILTERED_CELLS:
        raise LogicalSQLError(
            f"the pivot has {len(cells):,} cells under a measure filter; its totals would need "
            "a condition per cell",
            "narrow it with attribute filters, or pivot without the measure filter",
        )
    by_label = {_label(c): (c.folder, c.column) for c in analysis.columns}
    attributes = [*layout.rows, *layout.columns]
    cells_passed = tuple(
        FilterGroup(
            "and",
            tuple(
                Condition(*by_label[a], "is null")
                if pd.isna(row[a])
                else Condition(*by_label[a], "=", (_plain(row[a]),), value_types[by_label[a]])
                for a in attributes
            ),
        )
        for _, row in cells.iterrows()
    )
    rest = without(expanded, filtered)
    # No cell passed: every total is empty, which a condition that no row meets says.
    passed = FilterGroup("or", cells_passed) if cells_passed else _nothing(by_label[attributes[0]])
    return FilterGroup("and", (*([rest] if rest.items else []), passed))


def _nothing(column: tuple[str, str]) -> FilterGroup:
    return FilterGroup("and", (Condition(*column, "is null"), Condition(*column, "is not null")))
