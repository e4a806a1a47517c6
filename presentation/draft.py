"""The analysis being built, as the builder keeps it in Streamlit's session state.

Widgets edit plain dicts (a column list and a filter tree with stable ids for widget keys);
`current` turns them into the engine's frozen `Analysis` for every engine call.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from engine.analysis import (
    ARITY,
    Analysis,
    Condition,
    FilterGroup,
    NamedFilterRef,
    Selected,
    analysis_from_json,
)

# GENERATION changes with each new or opened analysis (the column tree's widgets start over),
# VERSION with every change of the column list (the selected-columns editor starts over).
GENERATION = "b_generation"
AREA, COLUMNS, FILTERS, SQL, NAME, VERSION = (
    "b_area",
    "b_columns",
    "b_filters",
    "b_sql_override",
    "b_saved_as",
    "b_version",
)


def new_id() -> str:
    return uuid.uuid4().hex[:8]


def empty_group(op: str = "and") -> dict[str, Any]:
    return {"id": new_id(), "op": op, "negate": False, "items": []}


def reset(area: str) -> None:
    """Start a new analysis on `area`."""
    st.session_state[AREA] = area
    st.session_state[COLUMNS] = []
    st.session_state[FILTERS] = empty_group()
    st.session_state[SQL] = None
    st.session_state[NAME] = None
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1
    bump()


def bump() -> None:
    """Give the editors new keys: their old edits belong to rows that moved."""
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def load(analysis: Analysis | None, logical_sql: str, area: str, saved_as: tuple) -> None:
    """Open a saved analysis: the builder's own definition if it has one, else its SQL."""
    reset(area)
    st.session_state[NAME] = saved_as
    if analysis is None:
        st.session_state[SQL] = logical_sql
        return
    st.session_state[COLUMNS] = [
        {"folder": c.folder, "column": c.column, "label": c.label, "sort": c.sort}
        for c in analysis.columns
    ]
    st.session_state[FILTERS] = group_dict(analysis.filters)


def load_json(spec: str | None, logical_sql: str, area: str, saved_as: tuple) -> None:
    load(analysis_from_json(spec) if spec else None, logical_sql, area, saved_as)


def current() -> Analysis:
    return Analysis(
        st.session_state[AREA],
        tuple(
            Selected(c["folder"], c["column"], c.get("label") or None, c.get("sort") or None)
            for c in st.session_state[COLUMNS]
        ),
        group(st.session_state[FILTERS]),
    )


def group(node: dict[str, Any]) -> FilterGroup:
    """The tree as the engine takes it; a condition still waiting for its values is left out
    (the Filters tab says so), as OBIEE does not apply a filter until it is complete."""
    items = tuple(_item(i) for i in node["items"] if "items" in i or complete(i))
    return FilterGroup(node["op"], items, node["negate"])


def complete(node: dict[str, Any]) -> bool:
    if "named" in node or node["operator"] == "is prompted":
        return True
    wanted = ARITY[node["operator"]]
    given = [v for v in node["values"] if v not in (None, "")]
    return bool(given) if wanted is None else len(given) == wanted


def _item(node: dict[str, Any]) -> Condition | FilterGroup | NamedFilterRef:
    if "items" in node:
        return group(node)
    if "named" in node:
        return NamedFilterRef(node["named"], node.get("folder", "shared"), node.get("owner"))
    return Condition(
        node["folder"], node["column"], node["operator"], tuple(node["values"]), node["value_type"]
    )


def group_dict(g: FilterGroup) -> dict[str, Any]:
    return {
        "id": new_id(),
        "op": g.op,
        "negate": g.negate,
        "items": [_item_dict(i) for i in g.items],
    }


def _item_dict(item: Condition | FilterGroup | NamedFilterRef) -> dict[str, Any]:
    if isinstance(item, FilterGroup):
        return group_dict(item)
    if isinstance(item, NamedFilterRef):
        return {"id": new_id(), "named": item.name, "folder": item.folder, "owner": item.owner}
    return {
        "id": new_id(),
        "folder": item.folder,
        "column": item.column,
        "operator": item.operator,
        "values": list(item.values),
        "value_type": item.value_type,
    }


def prompted(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every "is prompted" condition of the tree, in order."""
    found = []
    for item in node["items"]:
        if "items" in item:
            found += prompted(item)
        elif item.get("operator") == "is prompted":
            found.append(item)
    return found
