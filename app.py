"""Identity Ops Dashboard — the router: page config, navigation and the shared sidebar, nothing else."""

import streamlit as st

from ui.data import context
from ui.errors import guarded
from ui.sidebar import render_sidebar

st.set_page_config(page_title="Identity Ops", page_icon=":material/shield_person:", layout="wide")

# st.navigation owns the page list (Streamlit's automatic discovery of pages/ is off when it is used).
PAGES = [
    st.Page("pages/standup.py", title="Stand-up", icon=":material/today:", default=True, url_path="standup"),
    st.Page("pages/trends.py", title="Trends", icon=":material/show_chart:", url_path="trends"),
]
page = st.navigation(PAGES)

with guarded():
    render_sidebar(context())

page.run()
