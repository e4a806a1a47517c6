"""Pre-flight and launch: the pre-flight report (members, exclusions by reason, expected
duration, three rendered samples), then launch now or schedule for a time, and pause, resume
or cancel as the status machine allows.

A launch hands the report to `campaigns.launch`, which refuses one made for another list or
template, so the report on screen is exactly what is approved.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from campaigns import (
    Campaign,
    Preflight,
    Status,
    get_list,
    launch,
    list_campaigns,
    preflight,
    schedule_campaign,
    set_status,
    viewer,
)
from campaigns.campaign import TRANSITIONS
from presentation import state
from presentation.campaign_common import sender_log, start_sender
from presentation.campaign_editor import CREATED
from semantic.errors import StrataError

FLASH = "cp_flash"
REPORTS = "cp_reports"  # campaign id → its latest pre-flight report, for launch to approve


def render() -> None:
    opened = state.page()
    if opened is None:
        return
    eng, user = opened
    st.title("Pre-flight and launch")
    if flash := st.session_state.pop(FLASH, None):
        st.success(flash)
    store = state.store(eng)
    campaigns = list_campaigns(store, viewer(eng, user))
    if not campaigns:
        st.info("No campaigns yet: create one on the New campaign page.")
        return
    names = [c.name for c in campaigns]
    if (created := st.session_state.pop(CREATED, None)) in names:
        st.session_state["cp_campaign"] = created
    name = st.selectbox("Campaign", names, key="cp_campaign")
    campaign = next(c for c in campaigns if c.name == name)
    frozen = get_list(store, list_id=campaign.list_id)
    st.caption(
        f"**{campaign.status}** · {campaign.channel} · list {frozen.name!r} v{frozen.version} "
        f"({frozen.row_count:,} members) · control share {campaign.control_share:.0%} · "
        f"created by {campaign.created_by}"
        + (
            f" · scheduled for {campaign.scheduled_at:%Y-%m-%d %H:%M} UTC"
            if _waits(campaign)
            else ""
        )
    )
    if campaign.status in (Status.DRAFT, Status.SCHEDULED):
        report = _preflight(store, campaign)
        if report is not None:
            _approve(store, campaign, report)
    _moves(store, campaign)


def _waits(campaign: Campaign) -> bool:
    return campaign.status is Status.SCHEDULED and campaign.scheduled_at is not None


def _preflight(store, campaign: Campaign) -> Preflight | None:
    reports = st.session_state.setdefault(REPORTS, {})
    if st.button("Run the pre-flight", key="cp_run", type="primary"):
        with st.spinner("Deciding and rendering every member…"):
            reports[campaign.id] = preflight(store, campaign)
    report = reports.get(campaign.id)
    if report is None:
        st.info("Run the pre-flight to see who will get the message; launching needs it.")
        return None
    _show(report)
    return report


def _show(report: Preflight) -> None:
    st.subheader("Pre-flight report")
    cells = st.columns(4)
    cells[0].metric("Members", f"{report.members:,}")
    cells[1].metric("To send", f"{report.to_send:,}")
    cells[2].metric("Excluded", f"{report.members - report.to_send:,}")
    cells[3].metric("Expected duration", _duration(report.duration_s))
    st.table(
        {"reason": [r for r, _ in report.exclusions], "members": [n for _, n in report.exclusions]}
    )
    if report.sms_segments:
        encoding, most = report.sms_segments
        st.caption(f"SMS: {encoding}, up to {most} segment(s) per message")
    if report.error_count:
        st.error(
            f"**{report.error_count:,} template error(s)**; fix them to launch:\n\n"
            + "\n".join(f"- {e}" for e in report.errors)
        )
    for i, sample in enumerate(report.samples):
        label = f"Sample: member {sample.member_key}, {sample.address}"
        with st.expander(label, expanded=i == 0):
            st.markdown(f"**Subject:** {sample.rendered.subject}")
            st.code(sample.rendered.text, language=None)
            if sample.rendered.html is not None:
                st.code(sample.rendered.html, language="html")
    st.caption(
        f"List content {report.content_hash[:12]} · template {report.template_hash[:12]}: a launch "
        "approves exactly these."
    )


def _approve(store, campaign: Campaign, report: Preflight) -> None:
    st.subheader("Launch")
    now_tab, later_tab = st.tabs(["Now", "On a schedule"])
    with now_tab:
        send = st.checkbox(
            "Start sending from this server now",
            value=True,
            key="cp_send",
            help="Otherwise `strata scheduler` (or `strata campaign run`) sends it.",
        )
        if st.button("Launch", key="cp_launch", type="primary", disabled=not report.ok):
            try:
                launched = launch(store, campaign.id, report)
            except StrataError as e:
                st.error(str(e))
                return
            _done(launched, "is running", send)
    with later_tab:
        cells = st.columns(2)
        day = cells[0].date_input("Day (UTC)", key="cp_day")
        time = cells[1].time_input("Time (UTC)", value=dt.time(9, 0), key="cp_time")
        if st.button("Schedule", key="cp_schedule", disabled=not report.ok):
            when = dt.datetime.combine(day, time, tzinfo=dt.UTC)
            try:
                moved = schedule_campaign(store, campaign.id, when, report)
            except StrataError as e:
                st.error(str(e))
                return
            _done(moved, f"is scheduled for {when:%Y-%m-%d %H:%M} UTC", False)


def _moves(store, campaign: Campaign) -> None:
    """Pause, resume, cancel: a button for each move the status machine allows from here."""
    allowed = TRANSITIONS[campaign.status]
    labels = {
        Status.PAUSED: "Pause",
        Status.RUNNING: "Resume" if campaign.status is Status.PAUSED else None,
        Status.DRAFT: "Unschedule" if campaign.status is Status.SCHEDULED else None,
        Status.CANCELLED: "Cancel campaign",
    }
    moves = [(s, label) for s, label in labels.items() if s in allowed and label]
    if campaign.status is Status.RUNNING:
        st.info(
            "Sending. The Monitor page shows progress; the sender's log is "
            f"{sender_log(campaign.id)}."
        )
        if st.button("Start a sender", key="cp_sender", help="Safe: a second one does nothing."):
            start_sender(campaign.name, campaign.id)
            st.success("A sender started.")
    if not moves:
        if campaign.status in (Status.FINISHED, Status.CANCELLED):
            st.info(f"The campaign is {campaign.status}; its ledger stays for reports.")
        return
    cells = st.columns(len(moves) + 2)
    for cell, (status, label) in zip(cells, moves, strict=False):
        if cell.button(label, key=f"cp_move::{status}"):
            try:
                moved = set_status(store, campaign.id, status, expected=campaign.status)
            except StrataError as e:
                st.error(str(e))
                return
            _done(moved, f"is {moved.status}", status is Status.RUNNING)


def _done(campaign: Campaign, what: str, send: bool) -> None:
    message = f"Campaign {campaign.name!r} {what}."
    if send:
        start_sender(campaign.name, campaign.id)
        message += " A sender is on it; the Monitor page shows progress."
    st.session_state[FLASH] = message
    st.session_state.get(REPORTS, {}).pop(campaign.id, None)
    st.rerun()


def _duration(seconds: float | None) -> str:
    """The expected duration, or "no limit" when the campaign has no rate.

    >>> _duration(None), _duration(45), _duration(600), _duration(7200)
    ('no rate limit', '45 s', '10 min', '2.0 h')
    """
    if seconds is None:
        return "no rate limit"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
