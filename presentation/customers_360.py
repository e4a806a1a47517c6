"""Customer 360: find a customer by name, e-mail or phone, then see everything about them.

Identity, contacts, addresses and e-services come from the "Campaigns" subject area and the
invoices from "Billing", asked of the engine as the acting user, so a customer outside the
user's row filter is never found and a folder the user may not see is not shown. The campaign
history comes from the campaigns API, over the campaigns the acting user may open. Duplicates
and merge history come from the customer hub (`customers`), for users who may steward it:
a hub record belongs to a warehouse customer when its source key is the customer's number
(what an export of the warehouse carries).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from campaigns import list_campaigns, viewer
from campaigns.history import member_history
from customers.held import held_records
from customers.hub import default_hub_path
from customers.lookup import entity_of, golden, history, members, records_with_keys
from customers.review import compare
from engine import Engine
from engine.analysis import Analysis, Condition, FilterGroup, Selected, to_logical_sql
from presentation import customer_search, hub, state
from semantic.errors import StrataError

ID = ("Customer", "Customer Id")
PARAM = "customer"  # ?customer=<id>: a shareable link to one customer


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Customer 360")
    if customer_search.AREA not in eng.subject_areas(user):
        st.info(f'Acting as **{eng.session(user).user}**, who may not see "Campaigns".')
        return
    visible = _visible(eng, customer_search.AREA, user)
    chosen = _search(eng, user, visible)
    if chosen is None:
        return
    identity = _ask(eng, user, customer_search.AREA, visible, "Customer", chosen)
    if identity is None or identity.empty:
        st.warning(f"Customer {chosen} is not found or not permitted for this user.")
        return
    row = identity.iloc[0]
    st.header(f"{row.get('Customer Name', '')} ({row.get('Customer Number', chosen)})")
    st.subheader("Identity")
    st.table(_card(identity))
    if any(f == "Contact" for f, _ in visible):
        st.subheader("Contacts and address")
        contact = _ask(eng, user, customer_search.AREA, visible, "Contact", chosen)
        if contact is not None:
            st.table(_card(contact))
    st.subheader("E-services")
    services = _ask(eng, user, customer_search.AREA, visible, "E-Services", chosen)
    _frame(services, "c3_services", "No e-services.")
    st.subheader("Invoices")
    _frame(_invoices(eng, user, chosen), "c3_invoices", "No invoices.")
    _campaigns(eng, user, chosen, row.get("Customer Number"))
    _hub(eng, user, row.get("Customer Number"))


def _card(df: pd.DataFrame) -> pd.DataFrame:
    """One customer's row as a two-column card (every value as text: the types differ)."""
    row = df.iloc[0]
    return pd.DataFrame(
        {"value": ["" if pd.isna(v) else str(v) for v in row.tolist()]}, index=list(df.columns)
    )


def _visible(eng: Engine, area: str, user: str | None) -> set[tuple[str, str]]:
    return {(c.folder, c.name) for f in eng.columns(area, user) for c in f.columns}


def _search(eng: Engine, user: str | None, visible: set[tuple[str, str]]) -> int | None:
    term = st.text_input("Search by name, e-mail or phone", key="c3_term").strip()
    linked = st.query_params.get(PARAM)
    if not term:
        return int(linked) if linked and linked.isdigit() else None
    analysis = customer_search.search_analysis(term, visible)
    if analysis is None:
        st.info("Type at least three letters of a name or e-mail, or six digits of a phone.")
        return None
    try:
        sql = to_logical_sql(analysis, limit=customer_search.CANDIDATES)
        candidates = eng.query(sql, user=user).df
    except StrataError as e:
        st.error(str(e))
        return None
    found = customer_search.rank(candidates, term)
    if found.empty:
        st.info(f"No customer resembles {term!r}.")
        return None
    st.dataframe(found, hide_index=True, width="stretch", key="c3_found")
    labels = {
        int(r["Customer Id"]): f"{r.get('Customer Name', '')} · {r.get('Customer Number', '')}"
        f" · {r.get('Distribution Area', '')} · score {r['score']:.2f}"
        for _, r in found.iterrows()
    }
    chosen = st.selectbox("Customer", list(labels), format_func=labels.get, key="c3_pick")
    st.query_params[PARAM] = str(chosen)
    return chosen


def _ask(
    eng: Engine,
    user: str | None,
    area: str,
    visible: set[tuple[str, str]],
    folder: str,
    customer_id: int,
) -> pd.DataFrame | None:
    columns = tuple(
        Selected(f, c) for f, c in sorted(visible, key=_order(eng, area, user)) if f == folder
    )
    if not columns:
        return None
    analysis = Analysis(
        area, columns, FilterGroup("and", (Condition(*ID, "=", (customer_id,), "number"),))
    )
    try:
        return eng.query(to_logical_sql(analysis), user=user).df
    except StrataError as e:
        st.error(str(e))
        return None


def _order(eng: Engine, area: str, user: str | None):
    order = {
        (c.folder, c.name): i
        for i, c in enumerate(c for f in eng.columns(area, user) for c in f.columns)
    }
    return lambda key: order.get(key, len(order))


def _invoices(eng: Engine, user: str | None, customer_id: int) -> pd.DataFrame | None:
    if "Billing" not in eng.subject_areas(user):
        return None
    wanted = (
        ("Time", "Month"),
        ("Facts", "# Invoices"),
        ("Facts", "Billed Amount"),
        ("Facts", "Paid Amount"),
        ("Facts", "Outstanding Amount"),
        ("Facts", "Consumption (kWh)"),
    )
    visible = _visible(eng, "Billing", user)
    columns = tuple(
        Selected(f, c, sort="desc" if c == "Month" else None)
        for f, c in wanted
        if (f, c) in visible
    )
    analysis = Analysis(
        "Billing", columns, FilterGroup("and", (Condition(*ID, "=", (customer_id,), "number"),))
    )
    try:
        return eng.query(to_logical_sql(analysis), user=user).df
    except StrataError as e:
        st.error(str(e))
        return None


def _campaigns(eng: Engine, user: str | None, customer_id: int, number: str | None) -> None:
    """The campaigns this customer was a member of, among those the acting user may open
    (their own; every one for an administrator), as the campaign pages decide."""
    st.subheader("Campaign history")
    store = state.store(eng)
    mine = list_campaigns(store, viewer(eng, user))
    # A list is keyed by the column its author chose: the customer's id or number.
    keys = {ID[1]: str(customer_id), **({"Customer Number": str(number)} if number else {})}
    rows = member_history(store, keys, mine)
    if not rows:
        st.caption("In no campaign this user may see.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "campaign": r.campaign,
                    "status": r.status,
                    "channel": r.channel,
                    "state": r.state,
                    "reason": r.reason or "",
                    "address": r.address or "",
                    "sent at": r.sent_at,
                    "response": r.response or "",
                    "responded at": r.responded_at,
                    "unsubscribed": r.unsubscribed,
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
        key="c3_campaigns",
    )


def _frame(df: pd.DataFrame | None, key: str, empty: str) -> None:
    if df is None or df.empty:
        st.caption(empty)
        return
    st.dataframe(df, hide_index=True, width="stretch", key=key)


def _hub(eng: Engine, user: str | None, number: str | None) -> None:
    st.subheader("Duplicates and merge history")
    if not default_hub_path().exists():
        st.caption("The customer hub is empty.")
        return
    if not hub.may_steward(eng, user):
        return
    with hub.opened(eng) as h:
        records = records_with_keys(h, [number] if number else [])
        if not records:
            st.caption(f"No record in the customer hub has source key {number}.")
            return
        entities = sorted(set(entity_of(h, records).values()))
        related = sorted({r for e in entities for r in members(h, e)} | set(records))
        st.caption(
            f"Hub records {', '.join(map(str, records))}; entity "
            f"{', '.join(map(str, entities)) or '(held for review)'} holds records "
            f"{', '.join(map(str, related))}"
        )
        st.dataframe(compare(h, related), width="stretch", key="c3_records")
        for entity in entities:
            values = golden(h, entity)
            st.markdown(f"**Golden record of entity {entity}**, each value with its source")
            st.dataframe(
                pd.DataFrame(
                    [(g.attribute, g.value, g.record_id, g.rule) for g in values],
                    columns=["attribute", "value", "from record", "rule"],
                ),
                hide_index=True,
                width="stretch",
                key=f"c3_golden_{entity}",
            )
        held = [r for r in held_records(h) if {r.record_id, r.candidate_record_id} & set(related)]
        for r in held:
            st.info(
                f"Record {r.record_id} is held at import as a likely duplicate of record "
                f"{r.candidate_record_id} (p {r.match_probability:.3f}): see Duplicates."
            )
        _frame(history(h, related), "c3_history", "No merge or unmerge yet.")
