"""The Filters tab: AND/OR groups of conditions, operators by type, values from the engine."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from engine import Engine
from engine.analysis import ARITY, OPERATORS_BY_TYPE, UNITS
from engine.columns import ColumnInfo
from presentation import draft

VALUE_LIMIT = 200


@st.cache_data(ttl=600, max_entries=512, show_spinner=False)
def value_list(
    _eng: Engine, model_hash: str, area: str, folder: str, column: str, user, search: str
):
    """Distinct values, searched in the database; cached per user and term (ttl: stale lists
    refresh on their own, and the "Refresh values" button clears them at once)."""
    return _eng.values(area, folder, column, user, search or None, VALUE_LIMIT)


def render(eng: Engine, user: str | None, saved_filters: dict) -> None:
    area = st.session_state[draft.AREA]
    columns = {(c.folder, c.name): c for f in eng.columns(area, user) for c in f.columns}
    root = st.session_state[draft.FILTERS]
    _group(eng, user, area, columns, root, None, saved_filters, depth=0)
    if st.button("Refresh values", help="Read value lists from the database again"):
        value_list.clear()


def _group(eng, user, area, columns, node, parent, saved_filters, depth: int) -> None:
    with st.container(border=True):
        head = st.columns([2, 1, 1, 1, 2, 1] if parent is not None else [2, 1, 1, 1, 2])
        node["op"] = (
            head[0].segmented_control(
                "Combine with",
                ["and", "or"],
                default=node["op"],
                key=f"f_op::{node['id']}",
                format_func=str.upper,
            )
            or node["op"]
        )
        node["negate"] = head[1].checkbox("NOT", value=node["negate"], key=f"f_not::{node['id']}")
        if head[2].button("+ Condition", key=f"f_addc::{node['id']}"):
            first = next(iter(columns.values()))
            node["items"].append(_condition_for(first))
            st.rerun()
        if head[3].button("+ Group", key=f"f_addg::{node['id']}"):
            node["items"].append(draft.empty_group("or" if node["op"] == "and" else "and"))
            st.rerun()
        if saved_filters:
            named = head[4].selectbox(
                "+ Saved filter",
                ["", *sorted(saved_filters)],
                key=f"f_addn::{node['id']}",
                format_func=_filter_label,
            )
            if named:
                folder, *owner, name = (
                    named.split("/", 2) if named.startswith("my/") else (named.split("/", 1))
                )
                node["items"].append(
                    {
                        "id": draft.new_id(),
                        "named": name,
                        "folder": folder,
                        "owner": owner[0] if owner else None,
                    }
                )
                del st.session_state[f"f_addn::{node['id']}"]
                st.rerun()
        if parent is not None and head[-1].button("✕", key=f"f_delg::{node['id']}"):
            parent["items"].remove(node)
            st.rerun()
        if not node["items"]:
            st.caption("No conditions: every row is kept.")
        for item in list(node["items"]):
            if "items" in item:
                _group(eng, user, area, columns, item, node, saved_filters, depth + 1)
            elif "named" in item:
                row = st.columns([8, 1])
                where = "Shared" if item.get("folder", "shared") == "shared" else "My Folder"
                row[0].markdown(f"Saved filter **{item['named']}** ({where})")
                if row[1].button("✕", key=f"f_del::{item['id']}"):
                    node["items"].remove(item)
                    st.rerun()
            else:
                _condition(eng, user, area, columns, item, node)


def _filter_label(key: str) -> str:
    """'shared/Households' reads "Households (Shared)"; 'my/ana/Households' "(My Folder)"."""
    if not key:
        return ""
    folder, _, rest = key.partition("/")
    return f"{rest.split('/', 1)[-1]} ({'Shared' if folder == 'shared' else 'My Folder'})"


def _condition_for(column: ColumnInfo) -> dict[str, Any]:
    operator = OPERATORS_BY_TYPE[column.value_type][0]
    return {
        "id": draft.new_id(),
        "folder": column.folder,
        "column": column.name,
        "operator": operator,
        "values": [],
        "value_type": column.value_type,
    }


def _condition(eng, user, area, columns, item, parent) -> None:
    key = item["id"]
    refs = list(columns)
    row = st.columns([3, 2, 5, 1])
    ref = (item["folder"], item["column"])
    if ref not in columns:
        # Hidden from this user, or gone from the model: never swap in another column (the
        # filter would silently vanish); keep it, so the engine refuses the request.
        row[0].error(
            f'"{ref[0]}"."{ref[1]}" is not available to you or no longer in the model; '
            "the analysis runs again once this condition is removed."
        )
        if row[3].button("✕", key=f"f_del::{key}"):
            parent["items"].remove(item)
            st.rerun()
        return
    picked = row[0].selectbox(
        "Column",
        refs,
        index=refs.index(ref),
        format_func=lambda r: f"{r[0]}.{r[1]}",
        key=f"f_col::{key}",
    )
    column = columns[picked]
    if picked != ref:
        # The rest of the row is drawn for the new column in this same run.
        item.update(_condition_for(column), id=key)
    operators = list(OPERATORS_BY_TYPE[column.value_type])
    operator = row[1].selectbox(
        "Operator",
        operators,
        index=operators.index(item["operator"]) if item["operator"] in operators else 0,
        key=f"f_opr::{key}",
    )
    if operator != item["operator"]:
        item["operator"], item["values"] = operator, []
    with row[2]:
        item["values"] = _values(eng, user, area, column, item)
        if not draft.complete(item):
            st.caption("Not applied until its value is given.")
    if row[3].button("✕", key=f"f_del::{key}"):
        parent["items"].remove(item)
        st.rerun()


def _values(eng, user, area, column: ColumnInfo, item) -> list:
    operator, kind = item["operator"], column.value_type
    # A value widget belongs to one column and operator: picking another starts it afresh.
    key = f"{item['id']}::{column.folder}.{column.name}::{operator}"
    arity = ARITY[operator]
    values = list(item["values"])
    if arity == 0:
        return []
    if operator == "is prompted":
        st.caption("The value is asked for on the Results tab.")
        return []
    if operator == "last":
        n = st.number_input(
            "Last", min_value=1, step=1, value=int(values[0]) if values else 30, key=f"f_n::{key}"
        )
        unit = st.selectbox("Unit", UNITS, key=f"f_unit::{key}")
        return [int(n), unit]
    if operator in ("contains", "starts with", "like", "not like"):
        text = st.text_input("Value", value=values[0] if values else "", key=f"f_text::{key}")
        return [text] if text else []
    if kind == "boolean":
        choice = st.selectbox("Value", ["", "true", "false"], key=f"f_bool::{key}")
        return [choice == "true"] if choice else []
    if kind in ("date", "timestamp"):
        if arity == 2:
            picked = st.date_input("Between", value=(), key=f"f_dates::{key}")
            return [d.isoformat() for d in picked] if len(picked) == 2 else []
        if operator != "in":
            chosen = st.date_input("Date", value=None, key=f"f_date::{key}")
            return [chosen.isoformat()] if isinstance(chosen, date) else []
    if kind == "number" and arity in (1, 2) and column.kind == "measure":
        # Empty until typed: a 0 nobody entered must not filter the result.
        numbers = [
            st.number_input(
                label,
                value=float(values[i]) if len(values) > i else None,
                key=f"f_num{i}::{key}",
            )
            for i, label in enumerate(["From", "To"][:arity] if arity == 2 else ["Value"])
        ]
        return numbers if all(n is not None for n in numbers) else []
    return _picked_values(eng, user, area, column, item, arity)


def _picked_values(eng, user, area, column: ColumnInfo, item, arity) -> list:
    """A multiselect of the column's values, searched on the server when the list is long."""
    key = f"{item['id']}::{column.folder}.{column.name}::{item['operator']}"
    search = st.session_state.get(f"f_search::{key}", "")
    found = value_list(eng, eng.model.hash, area, column.folder, column.name, user, search)
    current = list(item["values"])
    options = list(dict.fromkeys([*found.values, *current]))
    chosen = st.multiselect(
        "Values",
        options,
        default=current,
        key=f"f_vals::{key}",
        max_selections=arity if arity else None,
        accept_new_options=True,
        format_func=lambda v: "(null)" if v is None else str(v),
    )
    if found.truncated or search:
        st.text_input(
            "Search values",
            key=f"f_search::{key}",
            help="The list shows the first values only; type to search the database",
        )
        if found.truncated:
            st.caption(f"List truncated at {len(found.values)} values: type to search.")
    return [_typed(v, column.value_type) for v in chosen]


def _typed(value, kind: str):
    if kind == "number" and isinstance(value, str):
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
