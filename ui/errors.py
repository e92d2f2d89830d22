"""Turning data-layer errors into a message, a hint and a stop — never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from loaders import NotAllowed, OpsDataError, SchemaMismatch
from ui.data import forget_failed_refresh, show_new_rows_now
from ui.text import md

__all__ = ["guarded", "show_error", "show_problem"]


def show_error(err: Exception, *, retry: Callable[[], None] | None = None, key: str | None = None) -> None:
    """Show what is wrong and how to fix it, with a Retry button (``key`` tells several apart)."""
    if isinstance(err, NotAllowed):  # nothing to retry, and nothing about what is out of reach
        st.error(f"**Not allowed: {md(err)}.** {md(err.hint)}", icon=":material/block:")
        return
    st.error(f"**{md(err, code=True)}**")
    if isinstance(err, SchemaMismatch) and err.problems:
        st.markdown("\n".join(f"- {md(p, code=True)}" for p in err.problems))
    if isinstance(err, OpsDataError) and err.hint:
        st.info(err.hint, icon=":material/build:")
    # validation errors from metrics (ValueError) carry a message that states the rule, and no hint
    if st.button("Retry", key=key or f"retry_{type(err).__name__}", icon=":material/refresh:"):
        show_new_rows_now()
        forget_failed_refresh()
        if retry:
            retry()
        st.rerun()


def show_problem(err: Exception | str, *, what: str = "", icon: str = ":material/error:") -> None:
    """What went wrong with one action, in the house's one shape: ``**What failed:** why`` (escaped), then the
    error's hint when it has one. For an error that should end the page with a Retry, use :func:`show_error`."""
    st.error(f"**{md(what)}** {md(err)}" if what else md(err), icon=icon)
    hint = getattr(err, "hint", None)
    if hint:
        st.info(md(hint), icon=":material/build:")


@contextmanager
def guarded() -> Iterator[None]:
    """Run a page block; data errors end the page with a message instead of a traceback."""
    try:
        yield
    except (OpsDataError, ValueError) as err:
        show_error(err)
        st.stop()
