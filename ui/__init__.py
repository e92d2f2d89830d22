"""The only Streamlit-aware helpers: cached data access, the shared sidebar, error display."""
