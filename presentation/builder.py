"""The analysis builder, as OBIEE Answers lays it out: Criteria, Filters, Results, Advanced.

Every step calls the engine as the user picked in the sidebar; the page never writes SQL.
"""

from __future__ import annotations

import streamlit as st

from engine import Engine
from engine.analysis import (
    Analysis,
    FilterGroup,
    NamedFilterRef,
    Selected,
    analysis_json,
    filters_from_json,
    filters_json,
    to_logical_sql,
)
from presentation import criteria, draft, filters, results, state
from semantic.errors import StrataError
from store import logged_request
from store.analyses import Folder, list_analyses, mark_run, save_analysis

OPEN_REQUEST = "b_open"  # set by the catalog page: (spec, logical_sql, area, (folder, owner, name))


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    areas = eng.subject_areas(user)
    if not areas:
        st.info("This user may not query any subject area.")
        return
    if OPEN_REQUEST in st.session_state:
        spec, logical_sql, area, saved_as = st.session_state.pop(OPEN_REQUEST)
        try:
            draft.load_json(spec, logical_sql, area, saved_as)
        except StrataError as e:
            # A definition this version cannot read: its Logical SQL still can be run.
            st.warning(
                f"The builder cannot read this analysis's definition ({e}); "
                "its Logical SQL is shown instead."
            )
            draft.load(None, logical_sql, area, saved_as)
    if st.session_state.get(draft.AREA) not in areas:
        draft.reset(areas[0])
    st.title("Analysis")
    top = st.columns([2, 3])
    area = top[0].selectbox(
        "Subject area", areas, index=areas.index(st.session_state[draft.AREA]), key="b_area_pick"
    )
    if area != st.session_state[draft.AREA]:
        draft.reset(area)
        st.rerun()
    saved_as = st.session_state.get(draft.NAME)
    if saved_as:
        top[1].caption(f"Saved as **{saved_as[2]}** in {_folder_label(saved_as[0])}")
    saved = _saved_filters(eng, user, area)
    criteria_tab, filters_tab, results_tab, advanced_tab = st.tabs(
        ["Criteria", "Filters", "Results", "Advanced"]
    )
    with criteria_tab:
        criteria.render(eng, user)
    with filters_tab:
        filters.render(eng, user, saved)
        _save_filters(eng, user, area)
    override = st.session_state.get(draft.SQL)
    analysis = None if override else draft.current()
    with results_tab:
        answers = results.prompts(eng, user)
        options = {"named": saved, "prompts": answers}
        sql = _request(analysis, override, options)
        if sql is not None:
            results.render(eng, user, analysis, sql, options)
            _mark_run(eng, saved_as, sql)
        _save(eng, user, area, analysis, override, saved)
        if sql is not None:
            _save_as_list(eng, user, analysis, override, options)
    with advanced_tab:
        _advanced(eng, analysis, override, options)


def _request(analysis: Analysis | None, override: str | None, options) -> str | None:
    if override:
        return override
    if not analysis.columns:
        st.info("Pick columns on the Criteria tab to see results.")
        return None
    try:
        return to_logical_sql(analysis, limit=results.ROW_CAP + 1, **options)
    except StrataError as e:
        st.error(str(e))
        return None


def _saved_filters(eng: Engine, user: str | None, area: str) -> dict[str, FilterGroup]:
    """The saved filters this user may read (their My Folder and Shared), by reference key."""
    found = {}
    for item in list_analyses(state.store(eng), state.owner(eng, user)):
        if item.kind != "filter" or item.subject_area != area or not item.spec:
            continue
        ref = NamedFilterRef(item.name, item.folder.value, item.owner)
        try:
            found[ref.key] = filters_from_json(item.spec)
        except StrataError as e:
            # One unreadable item must not take the builder down for everyone.
            st.warning(f"The saved filter {item.name!r} cannot be read and is left out: {e}")
    return found


def _save_filters(eng: Engine, user: str | None, area: str) -> None:
    with st.expander("Save these filters for reuse"):
        name = st.text_input("Filter name", key="b_filter_name")
        folder = st.radio("Folder", list(Folder), format_func=_folder_label, key="b_filter_folder")
        if st.button("Save filter", key="b_filter_save") and name:
            group = draft.group(st.session_state[draft.FILTERS])
            columns = _filter_columns(group)
            if not columns:
                st.error("There are no conditions to save yet.")
                return
            try:
                sql = to_logical_sql(
                    Analysis(area, columns, group), named=_saved_filters(eng, user, area)
                )
                eng.explain(sql, user=user)  # a filter the engine refuses is not saved
                save_analysis(
                    state.store(eng),
                    state.owner(eng, user),
                    name,
                    sql,
                    area,
                    folder,
                    filters_json(group),
                    "filter",
                    state.is_admin(eng, user),
                )
            except StrataError as e:
                st.error(str(e))
            else:
                st.success(f"Saved filter {name!r}")


def _refuse_private_filters(group: FilterGroup) -> None:
    """A shared analysis must mean the same to every reader: it may not use a filter that
    only its author can read."""
    for item in group.items:
        if isinstance(item, FilterGroup):
            _refuse_private_filters(item)
        elif isinstance(item, NamedFilterRef) and item.folder == "my":
            raise StrataError(
                f"this analysis uses {item.name!r} from your My Folder, which other users "
                "cannot read\n  hint: save that filter to Shared Folders first, or remove it"
            )


def _filter_columns(group: FilterGroup) -> tuple[Selected, ...]:
    seen: dict[tuple[str, str], Selected] = {}
    for item in group.items:
        if isinstance(item, FilterGroup):
            for s in _filter_columns(item):
                seen.setdefault((s.folder, s.column), s)
        elif hasattr(item, "folder"):
            seen.setdefault((item.folder, item.column), Selected(item.folder, item.column))
    return tuple(seen.values())


def _save(eng, user, area, analysis: Analysis | None, override: str | None, saved) -> None:
    st.divider()
    st.markdown("**Save the analysis**")
    current = st.session_state.get(draft.NAME)
    cells = st.columns([3, 2, 1])
    name = cells[0].text_input("Name", value=current[2] if current else "", key="b_save_name")
    folder = cells[1].radio(
        "Folder", list(Folder), format_func=_folder_label, key="b_save_folder", horizontal=True
    )
    if cells[2].button("Save", key="b_save", type="primary"):
        if not name.strip():
            st.error("Give the analysis a name.")
            return
        try:
            if folder is Folder.SHARED and analysis is not None:
                _refuse_private_filters(analysis.filters)
            sql = override or to_logical_sql(analysis, named=saved)
            saved_row = save_analysis(
                state.store(eng),
                state.owner(eng, user),
                name,
                sql,
                area,
                folder,
                None if override else analysis_json(analysis),
                administrator=state.is_admin(eng, user),
            )
        except StrataError as e:
            st.error(str(e))
            return
        st.session_state[draft.NAME] = (saved_row.folder, saved_row.owner, saved_row.name)
        st.success(f"Saved {name!r} in {_folder_label(saved_row.folder)}")


def _advanced(eng: Engine, analysis: Analysis | None, override: str | None, options) -> None:
    try:
        generated = override or (
            to_logical_sql(analysis, **options) if analysis is not None and analysis.columns else ""
        )
    except StrataError as e:
        st.error(str(e))
        generated = ""
    text = st.text_area("Logical SQL", generated, height=160, key=f"b_sql::{generated}")
    left, right = st.columns(2)
    if left.button("Run this Logical SQL", key="b_run_sql") and text.strip():
        st.session_state[draft.SQL] = text
        st.rerun()
    if override and right.button("Back to the builder", key="b_sql_back"):
        st.session_state[draft.SQL] = None
        st.rerun()
    if override:
        st.caption("The results come from this Logical SQL; the builder's criteria are set aside.")
    result = st.session_state.get("b_last_result")
    if result is None:
        return
    eng.log.flush()
    entry = logged_request(state.store(eng), result.request_id)
    st.markdown("**Physical SQL of the last run**, as the query log holds it")
    st.code(entry.physical_sql if entry else result.sql, language="sql")
    if entry is None:
        return
    stages = ("parse", "resolve", "plan", "generate", "execute", "fetch")
    st.table(
        {
            "stage": list(stages),
            "ms": [
                "" if getattr(entry, f"{s}_ms") is None else f"{getattr(entry, f'{s}_ms'):.2f}"
                for s in stages
            ],
        }
    )
    st.caption(
        f"{entry.rows:,} row(s) · cache {entry.cache or 'off'} · dialect {entry.dialect} · "
        f"request {entry.request_id}"
    )


def _mark_run(eng: Engine, saved_as, sql: str) -> None:
    if not saved_as or st.session_state.get("b_marked") == (saved_as, sql):
        return
    folder, owner, name = saved_as
    try:
        mark_run(state.store(eng), owner, name, folder)
    except StrataError:
        return  # renamed or deleted meanwhile: nothing to mark
    st.session_state["b_marked"] = (saved_as, sql)


def _folder_label(folder) -> str:
    return "My Folder" if Folder(folder) is Folder.MY else "Shared Folders"


def _save_as_list(eng: Engine, user, analysis: Analysis | None, override, options) -> None:
    """Freeze the whole result (no screen cap) as the next version of a campaign list, run
    through the engine as this user: the list holds exactly what this user may see."""
    from campaigns import freeze_list
    from campaigns.golden import default_hub

    st.divider()
    st.markdown("**Save as campaign list**")
    cells = st.columns([3, 1])
    name = cells[0].text_input("List name", key="b_list_name")
    if not cells[1].button("Save as campaign list", key="b_list_save"):
        return
    if not name.strip():
        st.error("Give the list a name.")
        return
    try:
        sql = override or to_logical_sql(analysis, **options)
        frozen = freeze_list(eng, state.store(eng), name.strip(), sql, user, hub=default_hub())
    except StrataError as e:
        st.error(str(e))
        return
    st.success(
        f"Campaign list {frozen.name!r} version {frozen.version}: {frozen.row_count:,} members "
        f"(key {frozen.key_column}, e-mail {frozen.email_column or '-'}, "
        f"phone {frozen.phone_column or '-'}; content {frozen.content_hash[:12]})"
    )
