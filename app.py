"""Strata's Streamlit entry point: navigation only; each page lives in `presentation/`."""

import streamlit as st

from presentation import query_page

st.set_page_config(page_title="Strata", layout="wide")
st.navigation([st.Page(query_page.render, title="Logical SQL", url_path="query")]).run()
