"""The examples in the docstrings are run: a documented result that drifted from the code fails here."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
                 for folder in ("metrics", "ui", "loaders", "charts", "reports", "store", "sample_data")
                 for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} no longer hold"
