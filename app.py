"""Strata's Streamlit entry point: navigation only; each page lives in `presentation/`."""

import streamlit as st

from presentation import (
    builder,
    campaign_editor,
    campaign_launch,
    campaign_lists,
    campaign_monitor,
    catalog,
    customers_360,
    customers_duplicates,
    customers_import,
    customers_quality,
    log_page,
    model_page,
    query_page,
)

st.set_page_config(page_title="Strata", layout="wide")
pages = {
    "builder": st.Page(builder.render, title="Analysis", url_path="analysis", default=True),
    "catalog": st.Page(catalog.render, title="Catalog", url_path="catalog"),
    "query": st.Page(query_page.render, title="Logical SQL", url_path="query"),
    "model": st.Page(model_page.render, title="Model", url_path="model"),
    "log": st.Page(log_page.render, title="Query log", url_path="log"),
    "c_import": st.Page(customers_import.render, title="Import", url_path="customers-import"),
    "c_dupes": st.Page(customers_duplicates.render, title="Duplicates", url_path="duplicates"),
    "c_quality": st.Page(customers_quality.render, title="Data quality", url_path="quality"),
    "c_360": st.Page(customers_360.render, title="Customer 360", url_path="customer"),
    "campaign_lists": st.Page(campaign_lists.render, title="Campaign lists", url_path="lists"),
    "campaign_new": st.Page(campaign_editor.render, title="New campaign", url_path="campaign"),
    "campaign_launch": st.Page(campaign_launch.render, title="Pre-flight", url_path="launch"),
    "campaign_monitor": st.Page(campaign_monitor.render, title="Monitor", url_path="monitor"),
}
st.session_state["pages"] = pages
st.navigation(
    {
        "Analyze": [pages["builder"], pages["catalog"], pages["query"]],
        "Customers": [pages["c_import"], pages["c_dupes"], pages["c_quality"], pages["c_360"]],
        "Campaigns": [pages[p] for p in pages if p.startswith("campaign_")],
        "Administer": [pages["model"], pages["log"]],
    }
).run()
