"""Roles and scopes: the configuration, who signs in as what, and the data layer cutting every read to a scope
(on SQLite, PostgreSQL and MariaDB)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import loaders
from loaders import ConfigError, Filters, NotAllowed, Scope
from loaders.settings import settings_from_mapping
from tests.conftest import SAMPLE_END

MANILA = Scope.of({"vendor_site": ["Manila"]})
ROLES = {
    "auth": {"mode": "header"},
    "roles": {
        "admins": ["Ops-Lead@example.com"],
        "analysts": ["*@example.com"],
        "partners": {"lead@vendor-manila.example": {"vendor_site": ["Manila"]},
                     "pm@example.com": {"vendor_site": ["Krakow"], "workflow": ["copyright"]}},
    },
}


def _settings(doc: dict) -> loaders.Settings:
    return settings_from_mapping(doc, url=None, url_source="test")


def test_roles_resolve_admins_first_then_partners_then_analysts():
    access = _settings(ROLES).access
    assert access.user("ops-lead@EXAMPLE.com").role == "admin"
    assert access.user("someone@example.com").role == "analyst"
    # a partner inside the analysts' domain stays scoped: the exact entry wins over the wildcard
    pm = access.user("pm@example.com")
    assert pm.role == "partner" and pm.scope.dimensions == {"vendor_site": ("Krakow",), "workflow": ("copyright",)}
    assert access.user("lead@vendor-manila.example").scope == MANILA
    assert access.user("stranger@elsewhere.example") is None
    assert access.user(None) is None and access.user("") is None


def test_without_sign_in_everyone_is_the_local_admin():
    user = _settings({}).access.user(None)
    assert user.role == "admin" and user.scope.everything


@pytest.mark.parametrize(("doc", "key"), [
    ({"auth": {"mode": "ldap"}}, "auth.mode"),
    ({"auth": {"mode": "header", "header": "X Forwarded: Email"}}, "auth.header"),
    ({"auth": {"mode": "header"}, "roles": {"partners": {"a@b.example": {"site": ["Manila"]}}}},
     "roles.partners.a@b.example"),
    ({"auth": {"mode": "header"}, "roles": {"partners": {"a@b.example": {}}}}, "roles.partners.a@b.example"),
    ({"auth": {"mode": "header"}, "roles": {"analysts": "*@example.com", "owners": []}}, "roles.owners"),
    ({"roles": {"admins": ["a@example.com"]}}, "auth.mode"),  # roles that would not apply: refused
])
def test_bad_access_configuration_names_the_key(doc, key):
    with pytest.raises(ConfigError) as err:
        _settings(doc)
    assert err.value.key == key


def test_a_scope_fills_all_with_its_own_values_and_refuses_others():
    f = Filters(date(2026, 6, 1), date(2026, 6, 30))
    assert MANILA.restrict(f).dimension_filters == {"vendor_site": ("Manila",)}
    assert MANILA.restrict(f.narrowed(workflow="copyright")).dimension_filters == {
        "vendor_site": ("Manila",), "workflow": ("copyright",)}
    with pytest.raises(NotAllowed) as err:
        MANILA.restrict(f.narrowed(vendor_site=("Manila", "Krakow")))
    assert "Krakow" not in str(err.value) + err.value.hint  # the refusal names nothing out of reach
    with pytest.raises(NotAllowed):
        Scope.nothing().restrict(f)
    assert Scope().restrict(f) == f


def test_scopes_nest():
    both = Scope.of({"vendor_site": ["Manila", "Krakow"]})
    assert MANILA.within(both) and not both.within(MANILA)
    assert MANILA.within(Scope()) and not Scope().within(MANILA)
    assert Scope.of({"vendor_site": ["Manila"], "workflow": ["copyright"]}).within(MANILA)
    assert not Scope.nothing().within(Scope.nothing()) and not MANILA.within(Scope.nothing())
    assert Scope.from_record(MANILA.to_record()) == MANILA
    assert Scope.from_record(Scope.nothing().to_record()).blind


def test_every_read_is_cut_to_the_scope(loaded):
    engine, settings = loaded
    window = Filters(date(2026, 5, 1), SAMPLE_END)
    by = ("workflow", "vendor_site")
    # "all" for a partner is exactly an unscoped read filtered to its sites, split or not, opening balances too
    for split in ((), by):
        mine = loaders.load_daily_volume(engine, settings=settings, filters=window, by=split, scope=MANILA)
        theirs = loaders.load_daily_volume(engine, settings=settings, filters=window.narrowed(vendor_site="Manila"),
                                           by=split)
        pd.testing.assert_frame_equal(mine, theirs)
        opening = loaders.load_opening_balance(engine, settings=settings, filters=window, by=split, scope=MANILA)
        pd.testing.assert_series_equal(opening, loaders.load_opening_balance(
            engine, settings=settings, filters=window.narrowed(vendor_site="Manila"), by=split))
    split = loaders.load_daily_volume(engine, settings=settings, filters=window, by=by, scope=MANILA)
    assert set(split["vendor_site"]) == {"Manila"}
    everyone = loaders.load_daily_volume(engine, settings=settings, filters=window)
    assert 0 < split["incoming"].sum() < everyone["incoming"].sum()

    values = loaders.load_dimension_values(engine, settings=settings, scope=MANILA)
    assert values["vendor_site"] == ["Manila"]
    # workflows only other sites serve are not even named
    all_values = loaders.load_dimension_values(engine, settings=settings)
    assert set(values["workflow"]) < set(all_values["workflow"])

    day = date(2026, 6, 29)
    cases = loaders.load_cases(engine, settings=settings, filters=window, day=day, limit=10_000, scope=MANILA)
    assert len(cases) and set(cases["vendor_site"]) == {"Manila"}
    assert len(cases) == loaders.count_cases(engine, settings=settings, filters=window, day=day, scope=MANILA)
    assert loaders.count_cases(engine, settings=settings, filters=window, day=day) > len(cases)

    for read in (
        lambda: loaders.load_daily_volume(engine, settings=settings, filters=window.narrowed(vendor_site="Krakow"),
                                          scope=MANILA),
        lambda: loaders.load_cases(engine, settings=settings, filters=window.narrowed(vendor_site="Krakow"),
                                   scope=MANILA),
        lambda: loaders.load_dimension_values(engine, settings=settings, scope=Scope.nothing()),
        lambda: loaders.load_rollup_bounds(engine, settings=settings, scope=Scope.nothing()),
    ):
        with pytest.raises(NotAllowed):
            read()


SCOPED_READS = {"load_daily_volume", "load_opening_balance", "load_dimension_values", "load_rollup_bounds",
                "load_cases", "count_cases"}


def test_every_read_outside_the_data_layer_says_whose_scope_it_carries():
    """A read that forgot the scope would show a partner everyone's numbers: every call from the app, the charts
    and the reports names its ``scope=`` (``None`` only where an admin-only page reads the whole source)."""
    import ast

    root = Path(__file__).resolve().parent.parent
    files = [root / "app.py", *root.glob("pages/*.py"), *root.glob("ui/*.py"), *root.glob("charts/*.py"),
             *root.glob("reports/*.py")]
    missing, seen = [], 0
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in SCOPED_READS:
                    seen += 1
                    if not any(k.arg == "scope" for k in node.keywords):
                        missing.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    # the reads live in ui/data.py (roll-up), ui/drilldown_data.py (cases) and the Data page: the walk must find them
    assert seen >= 6 and not missing, (seen, missing)


@pytest.mark.parametrize(("values", "email"), [
    (["lead@vendor-manila.example"], "lead@vendor-manila.example"),
    ([" lead@vendor-manila.example "], "lead@vendor-manila.example"),
    ([], None), ([""], None),
    (["evil@example.com", "lead@vendor-manila.example"], None),   # a client's copy beside the proxy's
    (["lead@vendor-manila.example, x@example.com"], None),        # a merged header must not match *@example.com
    (["not an address"], None), (["a@b@example.com"], None),
])
def test_the_proxy_header_must_hold_exactly_one_address(values, email):
    from ui.auth import header_email

    assert header_email(values) == email
