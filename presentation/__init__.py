"""The presentation layer's user surface: Streamlit pages over the Python API."""
