"""Strata's Streamlit entry point: navigation only; each page lives in `presentation/`."""

import streamlit as st

from presentation import builder, catalog, log_page, model_page, query_page

st.set_page_config(page_title="Strata", layout="wide")
pages = {
    "builder": st.Page(builder.render, title="Analysis", url_path="analysis", default=True),
    "catalog": st.Page(catalog.render, title="Catalog", url_path="catalog"),
    "query": st.Page(query_page.render, title="Logical SQL", url_path="query"),
    "model": st.Page(model_page.render, title="Model", url_path="model"),
    "log": st.Page(log_page.render, title="Query log", url_path="log"),
}
st.session_state["pages"] = pages
st.navigation(
    {
        "Analyze": [pages["builder"], pages["catalog"], pages["query"]],
        "Administer": [pages["model"], pages["log"]],
    }
).run()
