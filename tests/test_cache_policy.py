"""One cache policy: ``ui.data.cached`` keys a data context by its key, and nothing else caches data itself."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

import loaders
from loaders import Scope, User

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ctx(tmp_path):
    from ui.data import DataContext

    settings = loaders.load_settings(environ={"OPS_DB_URL": f"sqlite:///{tmp_path / 'none.sqlite'}"})
    # the engines are never used: the function under test only counts its calls
    return DataContext(settings, source=None, rollup=None, version="v1")


def test_a_context_is_keyed_by_its_key_not_by_identity(ctx):
    from ui.data import cached

    calls: list[str] = []

    @cached(entries=8)
    def read(c, day: str) -> str:
        calls.append(day)
        return f"{c.version}:{day}"

    read.clear()
    assert read(ctx, "mon") == "v1:mon"
    assert read(replace(ctx), "mon") == "v1:mon"  # another object, the same key: served from the cache
    assert calls == ["mon"]
    assert read(ctx, "tue") == "v1:tue"  # another argument: computed
    assert read(replace(ctx, version="v2"), "mon") == "v2:mon"  # a refreshed roll-up: computed
    partner = User("lead@vendor.example", "partner", Scope.of({"vendor_site": ["Manila"]}))
    assert read(replace(ctx, user=partner), "mon") == "v1:mon"  # another scope: computed, never shared
    assert calls == ["mon", "tue", "mon", "mon"]
    read.clear()


def test_two_cached_functions_with_the_same_arguments_do_not_share_entries(ctx):
    from ui.data import cached

    @cached(entries=4)
    def first(c) -> str:
        return "first"

    @cached(entries=4)
    def second(c) -> str:
        return "second"

    assert (first(ctx), second(ctx)) == ("first", "second")


def test_only_ui_data_decides_what_is_cached_and_for_how_long():
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("tests/", ".")) or rel == "ui/data.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "cache_data"
                    and isinstance(node.ctx, ast.Load)):
                parent_call = node  # st.cache_data(...) or @st.cache_data
                offenders.append(f"{rel}:{parent_call.lineno}")
    # clearing every cached frame (after a refresh or an import) is allowed; defining a cache is not
    defined = [o for o in offenders if not _is_clear(o)]
    assert not defined, f"st.cache_data used outside ui/data.py (use ui.data.cached): {defined}"


def _is_clear(where: str) -> bool:
    rel, line = where.rsplit(":", 1)
    text = (ROOT / rel).read_text(encoding="utf-8").splitlines()[int(line) - 1]
    return "cache_data.clear()" in text
