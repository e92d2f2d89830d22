"""Role × page matrix, on values: a vendor partner's pages show exactly what an admin sees with the filters
set to that partner's sites, and nothing anywhere names another site.

The sign-in itself (a proxy's header, an OpenID Connect provider) is tested in the browser
(``tests/e2e/test_sign_in.py``); here the signed-in address is given to ``ui.auth`` directly.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from sample_data.generate import VENDOR_SITES
from tests.conftest import ADMIN, ANALYST, PARTNER

OTHER_SITES = [s for s in VENDOR_SITES if s != "Manila"]


def _main(at: AppTest) -> list:
    """Everything the page's main area states: texts, tiles, tables and chart data."""
    main = at.main
    out: list = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out += [(kind, e.value) for e in getattr(main, kind)]
    out += [("metric", m.label, m.value, m.delta) for m in main.metric]
    out += [("table", d.value.to_csv()) for d in main.dataframe]
    out += [("chart", c.proto.spec) for c in main.get("plotly_chart")]
    return out


def _everything(at: AppTest) -> str:
    """Every text, value and chart spec of the page, sidebar included, as one string."""
    texts = [json.dumps(_main(at), default=str)]
    side = at.sidebar
    for kind in ("markdown", "caption", "info", "warning", "error"):
        texts += [e.value for e in getattr(side, kind)]
    texts += [repr(w.options) for w in side.multiselect]
    return "\n".join(texts)


PAGES = ["app.py", "pages/trends.py", "pages/anomalies.py"]


@pytest.mark.parametrize("script", PAGES)
def test_a_partner_sees_what_an_admin_sees_filtered_to_its_sites(signed_in, script):
    partner = signed_in(script, as_=PARTNER)
    admin = signed_in(script, as_=ADMIN, **{"f.vendor_site": "Manila"})
    mine, theirs = _main(partner), _main(admin)
    assert any(e[0] in ("metric", "table", "chart") for e in mine)  # a page of numbers, not a refusal
    assert mine == theirs
    page = _everything(partner)
    leaked = [s for s in OTHER_SITES if s in page]
    assert not leaked, f"{script} names {leaked} to a Manila partner"
    assert partner.multiselect(key="sidebar_vendor_site").options == ["Manila"]


def test_the_partner_drilldown_equals_the_admin_one_and_its_total_names_no_other_site(signed_in):
    day = signed_in("app.py", as_=ADMIN).date_input(key="standup_day").value.isoformat()
    link = {"kpi": "incoming", "day": day, "vendor_site": "Manila"}
    partner = signed_in("pages/drilldown.py", as_=PARTNER, **link)
    admin = signed_in("pages/drilldown.py", as_=ADMIN, **link)
    assert _main(partner) == _main(admin)
    total = signed_in("pages/drilldown.py", as_=PARTNER, kpi="incoming", day=day)
    assert any(e[0] == "chart" for e in _main(total))
    assert not [s for s in OTHER_SITES if s in _everything(total)]


@pytest.mark.parametrize(("script", "params"), [
    ("app.py", {"f.vendor_site": "Krakow"}),
    ("pages/trends.py", {"f.vendor_site": ["Manila", "Krakow"]}),
    ("pages/drilldown.py", {"kpi": "incoming", "day": "2026-06-29", "vendor_site": "Krakow"}),
])
def test_a_link_to_another_sites_slice_is_not_allowed_and_shows_no_numbers(signed_in, script, params):
    at = signed_in(script, as_=PARTNER, **params)
    assert any("Not allowed" in e.value for e in at.error)
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")


def test_nobody_and_strangers_see_nothing(signed_in):
    for who, says in ((None, "Nobody is signed in"), ("stranger@elsewhere.example", "has no access")):
        at = signed_in("app.py", as_=who)
        assert any(says in e.value for e in at.error)
        assert not at.metric and not at.dataframe and not at.get("plotly_chart") and not at.sidebar.multiselect


def test_only_admins_open_the_data_page(signed_in):
    for who in (ANALYST, PARTNER):
        at = signed_in("pages/data.py", as_=who)
        assert any("Only an admin" in i.value for i in at.info)
        assert not at.button and not at.text_input
    admin = signed_in("pages/data.py", as_=ADMIN)
    assert not any("Only an admin" in i.value for i in admin.info) and admin.button


def test_a_partner_opens_only_decks_made_within_its_scope(signed_in):
    import os

    from store import AppStore

    store = AppStore(os.environ["OPS_APP_DB_URL"])
    try:
        everything = store.create_deck("All sites, weekly", owner=ANALYST, scope={})
        before_sign_in = store.create_deck("Made before sign-in")
        own = store.create_deck("Manila weekly", owner=PARTNER, scope={"vendor_site": ["Manila"]})
    finally:
        store.dispose()
    partner = signed_in("pages/deck.py", as_=PARTNER, deck=everything)
    assert any("may not open" in w.value for w in partner.warning)
    assert [o.split(" · ")[0] for o in partner.selectbox(key="deck_pick").options] == ["Manila weekly"]
    analyst = signed_in("pages/deck.py", as_=ANALYST, deck=own)  # an analyst sees everything a partner does
    assert not analyst.warning
    titles = {o.split(" · ")[0] for o in analyst.selectbox(key="deck_pick").options}
    assert titles == {"All sites, weekly", "Made before sign-in", "Manila weekly"}
    assert before_sign_in and everything != own


def test_an_analysts_chart_never_lands_in_a_partners_deck(signed_in):
    import os

    from store import AppStore

    store = AppStore(os.environ["OPS_APP_DB_URL"])
    try:
        own = store.create_deck("Manila weekly", owner=PARTNER, scope={"vendor_site": ["Manila"]})
        at = signed_in("pages/trends.py", as_=ANALYST, deck=own)  # the partner's deck link, opened by an analyst
        at.button(key="trends_chart_deck").click().run()
        assert not at.exception
        assert store.items(own) == []                       # the all-sites chart did not go into it
        started = at.session_state["current_deck_id"]
        assert started != own and len(store.items(started)) == 1
        assert store.deck(started).owner == ANALYST
        partner = signed_in("pages/trends.py", as_=PARTNER, deck=own)  # the partner still collects into its own
        partner.button(key="trends_chart_deck").click().run()
        assert len(store.items(own)) == 1
    finally:
        store.dispose()


def test_a_broken_configuration_still_signs_in_before_showing_its_problem(signed_in, tmp_path):
    from tests.conftest import ROLES_CONFIG

    config = tmp_path / "ops.toml"
    config.write_text(ROLES_CONFIG + '\n[rollup]\nmode = "nowhere"\n')  # a rule broken outside [auth]/[roles]
    for who in (None, PARTNER):
        at = signed_in("pages/data.py", as_=who)
        shown = " ".join(e.value for e in [*at.error, *at.info])
        assert "Nobody is signed in" in shown or "Only an admin" in shown
        assert "nowhere" not in shown and not at.code  # the file's problem is an admin's to see
    admin = signed_in("pages/data.py", as_=ADMIN)
    assert "nowhere" in " ".join(e.value for e in [*admin.main.get("code"), *admin.error])
    config.write_text(ROLES_CONFIG + "\n[rollup\n")  # not even TOML: nobody can be told apart, nothing is shown
    at = signed_in("pages/data.py", as_=ADMIN)
    assert any("cannot be read, and it sets who may sign in" in e.value for e in at.error) and not at.code


def test_a_known_event_noted_on_the_company_total_stays_out_of_a_partners_pages(signed_in):
    import os

    from store import AppStore

    day = signed_in("app.py", as_=ADMIN).date_input(key="standup_day").value
    store = AppStore(os.environ["OPS_APP_DB_URL"])
    try:
        store.add_note(day=day, slice=(), status="expected", text="company-wide routing change", event=True,
                       author=ANALYST)
    finally:
        store.dispose()
    for script in ("app.py", "pages/anomalies.py", "pages/trends.py"):
        assert "company-wide routing change" not in _everything(signed_in(script, as_=PARTNER))
