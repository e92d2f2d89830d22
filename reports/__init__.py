"""What the dashboard sends without being opened: the stand-up digest by e-mail or chat (``reports.digest``).

It reads through the same data context and the same stand-up functions as the app (``ui.data``,
``ui.standup``), so every number a digest states is the number the stand-up page shows that recipient.
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
