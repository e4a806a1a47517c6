"""The query log: each request with its Logical SQL, physical SQL, timings and outcome, and
for a routed request the source each fact query read (what `strata log` prints as `route:`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from presentation import state
from store import QueryRoute, recent_queries


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
                "sources": ", ".join(dict.fromkeys(r.source for r in e.routes)),
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
        _routes(entry.routes)


def route_rows(routes: tuple[QueryRoute, ...]) -> list[dict]:
    """One row per hierarchy of each fact query that had a choice of source: the source it
    read, whether that is an aggregate, the request's lowest level of the hierarchy and the
    level the source's rows hold (its coverage), and the data version it read.

    >>> route = QueryRoute("Billing", "monthly", True, "Time: Year from Month; Geo: Area from Area")
    >>> [(r["source"], r["aggregate"], r["hierarchy"], r["query level"], r["source level"])
    ...  for r in route_rows((route,))]
    [('monthly', 'yes', 'Time', 'Year', 'Month'), ('monthly', 'yes', 'Geo', 'Area', 'Area')]
    """
    return [
        {
            "fact": r.fact,
            "source": r.source,
            "aggregate": "yes" if r.aggregate else "no",
            **_coverage(part),
            "data version": r.data_version or "",
        }
        for r in routes
        for part in (r.coverage.split("; ") if r.coverage else [""])
    ]


def _coverage(part: str) -> dict[str, str]:
    # "Time: Year from Month", as engine/route.py writes each hierarchy's coverage.
    hierarchy, _, levels = part.partition(": ")
    asked, _, held = levels.rpartition(" from ")
    return {"hierarchy": hierarchy, "query level": asked, "source level": held}


def _routes(routes: tuple[QueryRoute, ...]) -> None:
    st.subheader("Routes")
    if not routes:
        st.caption("One source per fact: nothing was routed.")
        return
    st.caption(
        "The source each fact query read, chosen by aggregate navigation; coverage is, per "
        "hierarchy, the request's lowest level and the level the source holds."
    )
    st.dataframe(route_rows(routes), hide_index=True, width="stretch", key="log_routes")
