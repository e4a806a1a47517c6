"""Duplicates: run Splink, see blocking coverage, move the threshold, review, merge, unmerge.

Every number comes from `customers`: `find_duplicates` (train, predict, coverage), `cluster`
(the threshold's effect, from the stored pairs), `review_queue` and `compare` (the steward's
side-by-side with per-field match weights), `decide`, `unmerge`, `held_records` and
`resolve_held`. The acting user is the one written in every audit row.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from customers import CustomerError
from customers.cluster import Clusters, cluster
from customers.dedupe import find_duplicates
from customers.held import held_records, resolve_held
from customers.hub import Hub
from customers.lookup import golden, history, latest_coverage
from customers.merge import unmerge
from customers.review import ReviewPair, compare, decide, review_queue
from customers.survivorship import GoldenValue
from presentation import hub, state

APPLIED = "cd_threshold"  # the threshold the review queue uses, once applied
DEFAULT_THRESHOLD = 0.9
MERGED = "cd_merged"  # the last merge's golden record, shown after the rerun
NOTE = "cd_note"  # what the last action did, shown after the rerun


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Duplicates")
    if not hub.may_steward(eng, user):
        return
    steward = state.owner(eng, user)
    if NOTE in st.session_state:
        st.success(st.session_state.pop(NOTE))
    with hub.opened(eng) as h:
        _run(h)
        applied = _threshold(h)
        if applied is not None:
            _review(h, applied, steward)
        _held(h, steward)
        _history(h, steward)


def _run(h: Hub) -> None:
    if st.button("Find duplicates", key="cd_run", type="primary"):
        try:
            with st.spinner("Training Splink and scoring the blocked pairs…"):
                run = find_duplicates(h)
        except CustomerError as e:
            st.error(str(e))
            return
        timings = ", ".join(f"{phase} {s:.1f} s" for phase, s in run.seconds)
        st.success(
            f"Run {run.run_id}: {run.records:,} records compared on {', '.join(run.attributes)}; "
            f"{run.pairs:,} pairs kept ({timings})"
        )
    coverage = latest_coverage(h)
    if not coverage:
        return
    st.subheader("Blocking rules")
    frame = pd.DataFrame(
        {
            "rule": [c.rule for c in coverage],
            "pairs added": [c.pairs for c in coverage],
            "cumulative": [c.cumulative for c in coverage],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="cd_coverage")
    st.plotly_chart(
        px.bar(frame, x="pairs added", y="rule", orientation="h", title="Pairs each rule adds"),
        key="cd_coverage_chart",
    )


def _threshold(h: Hub) -> float | None:
    st.subheader("Threshold")
    applied = st.session_state.get(APPLIED, DEFAULT_THRESHOLD)
    proposed = st.slider(
        "Match probability at or above which records cluster",
        0.3,
        1.0,
        value=applied,
        step=0.01,
        key="cd_slider",
    )
    try:
        now, then = cluster(h, applied), cluster(h, proposed)
    except CustomerError as e:
        st.info(str(e))
        return None
    cells = st.columns(3)
    cells[0].metric("Clusters", f"{then.clusters:,}", _change(then.clusters - now.clusters))
    cells[1].metric(
        "Records in clusters",
        f"{then.records_in_clusters:,}",
        _change(then.records_in_clusters - now.records_in_clusters),
    )
    cells[2].metric("Records", f"{then.records:,}")
    st.caption(_sizes(then) + f" · the review queue uses p ≥ {applied:.2f}")
    if proposed != applied and st.button(f"Apply p ≥ {proposed:.2f}", key="cd_apply"):
        st.session_state[APPLIED] = proposed
        st.rerun()
    return applied


def _change(delta: int) -> str | None:
    # The change against the applied threshold: what applying the slider's value would do.
    return None if delta == 0 else f"{delta:+,} if applied"


def _sizes(c: Clusters) -> str:
    sizes = ", ".join(f"{n} of {size}" for size, n in c.sizes) or "none"
    return f"At p ≥ {c.threshold:.2f}: clusters by size: {sizes}"


def _review(h: Hub, threshold: float, steward: str) -> None:
    st.subheader("Review queue")
    if MERGED in st.session_state:
        entity, values = st.session_state.pop(MERGED)
        st.success(f"Merged into entity {entity}; its golden record:")
        _golden_table(values, "cd_merged_golden")
    queue = review_queue(h, threshold)
    if not queue:
        st.info(f"No candidate clusters at p ≥ {threshold:.2f}.")
        return
    labels = {
        i: f"cluster {item.cluster_id}: records {', '.join(map(str, item.record_ids))} "
        f"· uncertainty {item.uncertainty:.2f}"
        for i, item in enumerate(queue)
    }
    pick = st.selectbox(
        f"{len(queue)} candidate cluster(s), most uncertain first",
        list(labels),
        format_func=labels.get,
        key="cd_pick",
    )
    item = queue[pick]
    st.dataframe(compare(h, item.record_ids), width="stretch", key="cd_compare")
    for pair in item.pairs:
        _waterfall(pair, f"cd_w_{item.cluster_id}_{pair.record_id_l}_{pair.record_id_r}")
    cells = st.columns(2)
    if cells[0].button("Same customer: merge", key="cd_same", type="primary"):
        try:
            result = decide(h, item, True, steward)
        except CustomerError as e:
            st.error(str(e))
            return
        st.session_state[MERGED] = (result.entity_id, result.golden)
        st.rerun()
    if cells[1].button("Different customers", key="cd_distinct"):
        decide(h, item, False, steward)
        st.session_state[NOTE] = f"Records {', '.join(map(str, item.record_ids))} marked distinct"
        st.rerun()


def _waterfall(pair: ReviewPair, key: str) -> None:
    """Splink's waterfall as a bar per field: how much each agreement or difference moved
    the match weight (the prior and the total are in the title)."""
    frame = pd.DataFrame(pair.field_weights, columns=["field", "match weight"])
    title = (
        f"records {pair.record_id_l} and {pair.record_id_r}: p {pair.match_probability:.3f}, "
        f"match weight {pair.match_weight:+.2f}"
    )
    st.plotly_chart(
        px.bar(frame, x="match weight", y="field", orientation="h", title=title, height=320),
        key=key,
    )


def _golden_table(values: tuple[GoldenValue, ...], key: str) -> None:
    st.dataframe(
        pd.DataFrame(
            [(g.attribute, g.value, g.record_id, g.rule) for g in values],
            columns=["attribute", "value", "from record", "rule"],
        ),
        hide_index=True,
        width="stretch",
        key=key,
    )


def _held(h: Hub, steward: str) -> None:
    held = held_records(h)
    if not held:
        return
    st.subheader("Held at import")
    labels = {
        r.record_id: f"record {r.record_id} resembles record {r.candidate_record_id} "
        f"(entity {r.candidate_entity_id}), p {r.match_probability:.3f}"
        for r in held
    }
    chosen = st.selectbox(
        f"{len(held)} record(s) wait for a decision",
        list(labels),
        format_func=labels.get,
        key="cd_held",
    )
    record = next(r for r in held if r.record_id == chosen)
    st.dataframe(
        compare(h, [record.record_id, record.candidate_record_id]),
        width="stretch",
        key="cd_held_compare",
    )
    cells = st.columns(2)
    same = cells[0].button("Same customer", key="cd_held_same")
    distinct = cells[1].button("A new customer", key="cd_held_distinct")
    if same or distinct:
        result = resolve_held(h, record.record_id, same, steward)
        if result is not None:
            st.session_state[MERGED] = (result.entity_id, result.golden)
        else:
            st.session_state[NOTE] = f"Record {record.record_id} is a customer of its own"
        st.rerun()


def _history(h: Hub, steward: str) -> None:
    events = history(h)
    if events.empty:
        return
    st.subheader("History")
    st.dataframe(events, hide_index=True, width="stretch", key="cd_history")
    open_merges = events[(events["kind"] == "merge") & events["undone_by"].isna()]
    if open_merges.empty:
        return
    cells = st.columns([2, 1, 2])
    event = cells[0].selectbox("Merge", open_merges["event"].tolist(), key="cd_event")
    entity = int(open_merges.loc[open_merges["event"] == event, "entity"].iloc[0])
    if cells[1].button("Unmerge", key="cd_unmerge"):
        try:
            undo = unmerge(h, int(event), steward)
        except CustomerError as e:
            st.error(str(e))
        else:
            st.session_state[NOTE] = f"Merge {event} undone (event {undo})"
            st.rerun()
    with cells[2].expander(f"Golden record of entity {entity}"):
        _golden_table(golden(h, entity), "cd_history_golden")
