"""What the dashboard produces without being opened: the weekly deck (``reports.weekly``), the stand-up digest by
e-mail or chat (``reports.digest``) and alerts (``reports.alerts``).

Each reads through the same data context and the same functions as the app (``ui.data``, ``ui.anomaly_data``,
``ui.standup``; :func:`command_context` makes the context a page would have), so every number a deck or a
digest states is the number the app shows that recipient.
"""

from __future__ import annotations

import logging
import sys

import loaders


def command_settings() -> loaders.Settings | None:
    """The settings a command runs with (``.streamlit/secrets.toml`` read as the app reads it), or ``None`` after
    saying on stderr what is wrong. The app's caches, used here without a server, would warn about that on every
    call: not news for a command, so that warning is dropped."""
    logging.getLogger("streamlit.runtime.caching.cache_data_api").addFilter(
        lambda record: "No runtime found" not in record.getMessage())
    try:
        return loaders.load_settings(loaders.settings.secrets_file())
    except loaders.OpsDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def command_context(settings: loaders.Settings, user: loaders.User = loaders.LOCAL_USER):
    """The data context a page of the app would have for ``user`` (the same engines, roll-up, scope and known
    events), for a command run without a server. The caller disposes ``ctx.source`` and ``ctx.rollup``.

    Raises
    ------
    loaders.OpsDataError
        The source cannot be reached, or the roll-up is empty (``ConfigError``, with a hint).
    """
    from ui.data import make_context

    source = loaders.engine_for(settings)
    rollup = loaders.rollup_engine(source, settings)
    try:
        state = loaders.rollup_state(rollup, settings)
        if not state.rows:
            raise loaders.ConfigError("the roll-up is empty: there is nothing to report yet",
                                      hint="Open the dashboard once (it builds the roll-up) or load data.")
        return make_context(settings, source, rollup, state, loaders.available_measures(source, settings), user)
    except BaseException:
        rollup.dispose()
        source.dispose()
        raise
