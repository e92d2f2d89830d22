"""Notes on spikes, in the pages: written on the stand-up, shown with author and time, on the drill-down and as
marks on charts, seen only by those who may see the slice, and a known event masked by the detector."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from store import AppStore
from tests.conftest import ADMIN, ANALYST, PARTNER, stored_deck, visible


def _items(at: AppTest) -> list[str]:
    """The titles of "What is abnormal today", in order."""
    return [m.value for m in at.main.markdown if "-badge[" in m.value and "severity" in m.value]


def _save(at: AppTest, form: str) -> None:
    """Submit the form ``form`` (its Save button)."""
    next(b for b in at.button if b.label == "Save" and str(b.proto.form_id) == form).click().run()


@pytest.fixture()
def store() -> AppStore:
    s = AppStore(os.environ["OPS_APP_DB_URL"])
    yield s
    s.dispose()


def test_a_note_written_on_the_standup_shows_with_its_author(signed_in, store):
    at = signed_in("app.py", as_=ANALYST)
    day = at.date_input(key="standup_day").value
    assert _items(at), "the sample's newest day has abnormal items"
    at.text_area(key="standup_note_0_text").input("known: routing change")
    at.text_input(key="standup_note_0_link").input("https://tickets.example/OPS-7")
    next(b for b in at.button if b.label == "Save" and "standup_note_0" in str(b.proto.form_id)).click().run()
    assert not at.exception
    [note] = store.notes(day, day)
    assert (note.text, note.link, note.author, note.status) == (
        "known: routing change", "https://tickets.example/OPS-7", ANALYST, "note")
    shown = visible(" ".join(m.value for m in at.main.markdown))
    assert f"known: routing change · [ticket](https://tickets.example/OPS-7) — {ANALYST}," in shown


def test_a_partner_never_sees_the_admins_can_write_or_read_notes_of_other_sites(signed_in, store):
    day = signed_in("app.py", as_=ADMIN).date_input(key="standup_day").value
    store.add_note(day=day, slice=(("vendor_site", "Manila"),), text="Manila: vendor outage", author=ANALYST)
    store.add_note(day=day, slice=(("vendor_site", "Krakow"),), text="Krakow: training day", author=ANALYST)
    store.add_note(day=day, slice=(), text="global: routing change", author=ANALYST)
    link = {"kpi": "incoming", "day": day.isoformat()}
    partner = signed_in("pages/drilldown.py", as_=PARTNER, **link)       # its total: its own site
    admin = signed_in("pages/drilldown.py", as_=ADMIN, vendor_site="Manila", **link)
    for at in (partner, admin):
        text = visible(" ".join(m.value for m in at.main.markdown))
        assert "Manila: vendor outage" in text
        assert "Krakow" not in text and "global: routing change" not in text
    assert not [b for b in partner.button if b.label == "Save"]  # a partner reads notes, it does not write them
    total = signed_in("pages/drilldown.py", as_=ADMIN, **link)
    assert "global: routing change" in visible(" ".join(m.value for m in total.main.markdown))


def test_notes_are_marked_on_the_trends_chart(signed_in, store):
    day = signed_in("app.py", as_=ADMIN).date_input(key="standup_day").value
    store.add_note(day=day, slice=(("vendor_site", "Manila"),), kpi="incoming", status="expected",
                   text="<b>launch</b> of the new form", author=ANALYST)
    at = signed_in("pages/trends.py", as_=PARTNER)
    spec = json.loads(at.main.get("plotly_chart")[0].proto.spec)
    marks = [a for a in spec["layout"].get("annotations", []) if a.get("text") == "✎"]
    assert [m["hovertext"] for m in marks] == ["Expected: &lt;b&gt;launch&lt;/b&gt; of the new form"]
    assert marks[0]["x"].startswith(day.isoformat())
    at.button(key="trends_chart_deck").click().run()  # into a deck: the note is in the slide's speaker notes
    [item] = stored_deck(at)
    assert f"{day:%a %d %b %Y} — Expected: <b>launch</b> of the new form ({ANALYST}, " in item.notes
    assert item.figure().to_dict()["layout"]["annotations"][-1]["text"] == "✎"  # and marked on its chart
    unfiltered = signed_in("pages/trends.py", as_=ADMIN)  # the total's chart: not this slice's note
    spec = json.loads(unfiltered.main.get("plotly_chart")[0].proto.spec)
    assert not [a for a in spec["layout"].get("annotations", []) if a.get("text") == "✎"]


def test_a_flag_turned_into_a_known_event_is_no_longer_flagged(signed_in, store):
    at = signed_in("app.py", as_=ANALYST)
    day: date = at.date_input(key="standup_day").value
    before = _items(at)
    assert before
    at.segmented_control(key="standup_note_0_status").set_value("expected")
    at.checkbox(key="standup_note_0_event").check()
    next(b for b in at.button if b.label == "Save" and "standup_note_0" in str(b.proto.form_id)).click().run()
    assert not at.exception
    [note] = store.notes(day, day)
    assert note.event and note.status == "expected"
    after = _items(signed_in("app.py", as_=ANALYST))
    # masked by the detector from now on (the workflow's own total, which holds that site's spike, may now lead
    # an incident of its own: only the slice noted is known)
    assert before[0] not in after


def test_an_edit_over_someone_elses_newer_one_is_refused_not_written(signed_in, store):
    at = signed_in("app.py", as_=ANALYST)
    day = at.date_input(key="standup_day").value
    note = store.add_note(day=day, slice=(("vendor_site", "Manila"), ("workflow", "brand_impersonation")),
                          kpi="incoming", text="first draft", author=ANALYST)
    at = signed_in("app.py", as_=ANALYST)
    edit = f"standup_note_0_edit_{note}_text"
    assert at.text_area(key=edit).value == "first draft"
    store.update_note(note, version=1, author=ADMIN, text="the admin's correction")  # another tab, meanwhile
    at.text_area(key=edit).input("my stale edit")
    _save(at, f"standup_note_0_edit_{note}")
    assert any("changed meanwhile" in e.value and "the admin" in e.value for e in at.error)
    [saved] = store.notes(day, day)
    assert saved.text == "the admin's correction" and saved.author == ANALYST  # kept; the author too
    at = signed_in("app.py", as_=ANALYST)  # reopened: the newer text, editable from its version
    at.text_area(key=edit).input("agreed: routing change")
    _save(at, f"standup_note_0_edit_{note}")
    assert store.notes(day, day)[0].text == "agreed: routing change"


def test_a_note_on_a_workflow_is_marked_on_its_own_small_multiple(signed_in, store):
    at = signed_in("app.py", as_=ANALYST)
    day = at.date_input(key="standup_day").value
    store.add_note(day=day - timedelta(days=3), slice=(("workflow", "account_security"),), kpi="incoming",
                   text="queue merge", author=ANALYST)
    at = signed_in("app.py", as_=ANALYST)
    spec = json.loads(next(c for c in at.main.get("plotly_chart") if "standup_multiples" in c.proto.id).proto.spec)
    notes = [a for a in spec["layout"]["annotations"] if a.get("text") == "✎"]
    titles = [a["text"] for a in spec["layout"]["annotations"] if a.get("text") != "✎"]
    panel = titles.index("account security") + 1
    assert [(n["hovertext"], n["xref"]) for n in notes] == [("Note: queue merge", "x" if panel == 1 else f"x{panel}")]
