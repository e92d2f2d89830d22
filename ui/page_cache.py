"""Page results kept on disk: a server restart, a second server or a command does not compute them again.

A function cached with ``ui.data.cached(..., stored=True)`` is looked up in memory first (``st.cache_data``),
then here, and only then computed (and written here). Only small results are stored: what a page draws (the
stand-up's tiles, scorecard and small multiples, the ranked flags, one judged series), not the panel they are
computed from, so a cold page reads a few files instead of judging every series again.

An entry's key is the function, the product's code (another release is another key), the library versions that
pickle it, and the function's arguments as ``ui.data.cached`` keys them — a ``DataContext`` by its key: the
configuration, the roll-up rows' version, the user's scope and the known events. An entry is therefore valid for
as long as what it was computed from, and nothing expires: the oldest entries are removed when the directory
outgrows :data:`MAX_ENTRIES` or :data:`MAX_BYTES`. A write is atomic (a whole file or none); an entry that
cannot be read (a killed write, another Python) is removed and computed again.

Entries are pickles the dashboard writes and reads itself: the directory (``[cache] dir``, see
``docs/configuration.md``) must be writable only by the dashboard's account.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import pickle
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "code_version", "entry_key", "read", "stored", "write"]

log = logging.getLogger("identity_ops.page_cache")

#: bounds of the directory; beyond either, the least recently written entries are removed
MAX_ENTRIES = 400
MAX_BYTES = 512 * 1024 * 1024
_SUFFIX = ".pickle"
_PRODUCT = ("app.py", "pages", "ui", "metrics", "loaders", "charts", "reports")
_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def code_version() -> str:
    """A digest of the product's Python files and the versions of what pickles an entry (cached per process)."""
    import numpy
    import pandas
    import plotly

    digest = hashlib.sha256(f"{platform.python_version()}|{numpy.__version__}|{pandas.__version__}|"
                            f"{plotly.__version__}".encode())
    for part in _PRODUCT:
        path = _ROOT / part
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []:
            digest.update(file.relative_to(_ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def entry_key(func: Callable, tokens: list[str]) -> str:
    """The file name of one call's entry: function, code version and argument tokens, digested."""
    text = "\x1f".join([func.__module__, func.__qualname__, code_version(), *tokens])
    return hashlib.sha256(text.encode()).hexdigest()


def _private(directory: Path) -> bool:
    """Whether the directory is the dashboard's own: owned by this account and writable by nobody else (an
    entry is a pickle: a file someone else could write would run their code). Logged when it is not."""
    try:
        info = directory.stat()
    except FileNotFoundError:
        return True  # created by `write`, with mode 0700
    except OSError as err:
        log.warning("the page cache %s cannot be used: %s", directory, err)
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and (info.st_uid != getuid() or info.st_mode & 0o022):
        log.warning("the page cache %s is not used: it must belong to this account and be writable by it alone "
                    "(chmod 700)", directory)
        return False
    return True


def read(directory: Path, key: str) -> tuple[bool, Any]:
    """``(True, value)`` for a stored entry, ``(False, None)`` when there is none or it cannot be read."""
    path = directory / f"{key}{_SUFFIX}"
    if not _private(directory):
        return False, None
    try:
        with path.open("rb") as handle:
            return True, pickle.load(handle)
    except (FileNotFoundError, NotADirectoryError):
        return False, None
    except OSError as err:  # not readable by this account: computed, and the write will say why
        log.warning("cannot read the page cache entry %s: %s", path.name, err)
        return False, None
    except Exception as err:  # a torn or foreign file: it is only a cache, compute again
        log.warning("removing an unreadable page cache entry %s: %s", path.name, err)
        path.unlink(missing_ok=True)
        return False, None


def write(directory: Path, key: str, value: Any) -> bool:
    """Store ``value`` atomically; ``False`` (logged) when it cannot be pickled or the directory is not writable."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(directory):
            return False
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".writing-", suffix=_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, directory / f"{key}{_SUFFIX}")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except Exception as err:  # a cache that cannot be written costs time, never a page
        log.warning("could not store a page cache entry in %s: %s", directory, err)
        return False
    _prune(directory)
    return True


def _prune(directory: Path) -> None:
    """Remove the oldest entries beyond the bounds (and writes a killed process left behind)."""
    try:
        files = []
        for path in directory.iterdir():
            if path.suffix != _SUFFIX:
                continue
            stat = path.stat()
            if path.name.startswith(".writing-"):
                if stat.st_mtime < time.time() - 3600:  # no write takes an hour: a killed one
                    path.unlink(missing_ok=True)
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        files.sort(reverse=True)
        total = 0
        for kept, (_mtime, size, path) in enumerate(files, start=1):
            total += size
            if kept > MAX_ENTRIES or total > MAX_BYTES:
                path.unlink(missing_ok=True)
    except OSError as err:  # another process pruned first
        log.debug("page cache prune: %s", err)


def stored(func: Callable, *, directory: Callable[[tuple, dict], Path | None],
           token: Callable[[Any], str]) -> Callable:
    """``func`` looked up on disk before it runs.

    ``directory(args, kwargs)`` gives the entry's directory (``None``: not stored, e.g. caching turned off);
    ``token(value)`` one argument's stable text (it raises ``TypeError`` for a type it cannot key: the call is
    then computed and not stored). Arguments whose name starts with ``_`` are left out of the key, as
    ``st.cache_data`` leaves them out of its own.
    """
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        where = directory(args, kwargs)
        if where is None:
            return func(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        try:
            tokens = [f"{name}={token(value)}" for name, value in bound.arguments.items() if not name.startswith("_")]
        except TypeError as err:
            log.debug("not stored: %s", err)
            return func(*args, **kwargs)
        key = entry_key(func, tokens)
        found, value = read(where, key)
        if found:
            return value
        value = func(*args, **kwargs)
        write(where, key, value)
        return value

    wrapper.__stored__ = True  # type: ignore[attr-defined]
    return wrapper
