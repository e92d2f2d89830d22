"""Data: is the connection up, is the mapping right, is the roll-up fresh — and what to change if not.

This page works when the data does not (it is where a user goes to fix that), so it asks the shell not to
stop on data errors and checks each part on its own.
"""

import streamlit as st

from ui.data_page import (
    render_access,
    render_checks,
    render_connection,
    render_import,
    render_kpis,
    render_mapping,
    render_rollup,
    render_settings,
)
from ui.shell import page

ctx, filters = page("Data", require_data=False)
st.title("Data")
st.caption("Connection, mapping, column checks and the daily roll-up of the source — and file import.")

settings = render_settings()
if settings is not None:
    engine = render_connection(settings)
    render_mapping(settings)
    if engine is not None:
        render_checks(engine, settings)
        render_kpis(engine, settings)
        render_rollup(engine, settings, failed=ctx.refresh_problem if ctx is not None else None)
render_import(settings)
render_access(settings)
