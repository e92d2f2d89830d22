"""The floors of the house (docs/architecture.md): which package may import which. Read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"app", "charts", "examples", "loaders", "metrics", "pages", "reports", "sample_data", "store", "ui"}

#: package -> the first-party packages it may import (besides itself); the table in docs/architecture.md
MAY_IMPORT: dict[str, set[str]] = {
    "loaders": set(),
    "store": set(),
    "metrics": set(),
    "sample_data": {"loaders"},
    "charts": {"metrics"},
    "ui": {"loaders", "store", "metrics", "charts", "sample_data"},
    "reports": {"loaders", "store", "metrics", "charts", "ui"},
    "pages": {"loaders", "store", "metrics", "charts", "ui", "reports"},
    "app": {"loaders", "metrics", "charts", "ui"},
}
#: only the screens and their helpers talk to Streamlit; only the data layers to a database
THIRD_PARTY_ONLY_IN = {"streamlit": {"ui", "pages", "app"}, "sqlalchemy": {"loaders", "store", "ui", "examples"},
                       "alembic": {"store"}}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources():
    yield "app", ROOT / "app.py"
    for package in sorted(MAY_IMPORT):
        folder = ROOT / package
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                if "migrations" not in path.parts:
                    yield package, path


@pytest.mark.parametrize(("package", "path"), list(_sources()), ids=lambda v: v if isinstance(v, str) else
                         v.relative_to(ROOT).as_posix())
def test_a_module_imports_only_from_the_floors_below_it(package, path):
    imported = _imports(path)
    upward = sorted((imported & FIRST_PARTY) - MAY_IMPORT[package] - {package})
    assert not upward, f"{path.relative_to(ROOT)} imports {upward}; {package}/ may import {sorted(MAY_IMPORT[package])}"
    wrong = sorted(lib for lib, allowed in THIRD_PARTY_ONLY_IN.items() if lib in imported and package not in allowed)
    owners = [sorted(THIRD_PARTY_ONLY_IN[w]) for w in wrong]
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}, which belong to {owners}"


def test_style_sheets_take_their_colours_from_the_theme():
    import re

    from charts.theme import BAD, GOOD_TINT, css_variables

    sheets = sorted((ROOT / "ui" / "assets").glob("*.css"))
    assert sheets
    for sheet in sheets:
        rules = re.sub(r"/\*.*?\*/", "", sheet.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"#[0-9A-Fa-f]{3,8}\b|rgba?\(", rules), f"{sheet.name} names a colour of its own"
        used = set(re.findall(r"var\((--ops-[a-z-]+)\)", rules))
        assert used <= set(re.findall(r"(--ops-[a-z-]+):", css_variables())), f"{sheet.name}: unknown {used}"
    assert f"--ops-bad: {BAD};" in css_variables() and f"--ops-good-tint: {GOOD_TINT};" in css_variables()
