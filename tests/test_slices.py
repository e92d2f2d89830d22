"""The one slice value object: key, parse and words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.slices import Slice

DIMENSIONS = ("workflow", "vendor_site", "channel", "language")
SPIKE = {"workflow": "brand_impersonation", "vendor_site": "Manila", "channel": "web_form"}


def test_a_key_is_canonical_whatever_order_the_pairs_came_in():
    a = Slice.of({"vendor_site": "Manila", "workflow": "copyright"})
    b = Slice.of([("workflow", "copyright"), ("vendor_site", "Manila")])
    assert a.key == b.key == "workflow=copyright|vendor_site=Manila"
    assert a == b and hash(a) == hash(b)
    assert a.filters == {"vendor_site": "Manila", "workflow": "copyright"}  # the order given is kept for words
    assert Slice.of({"workflow": "x", "channel": "web", "department": "d"}).key == \
        "workflow=x|channel=web|department=d"  # the key order first, then by name
    assert Slice().key == "all" and Slice.parse("all") == Slice() == Slice.of(None) and not Slice()


@pytest.mark.parametrize("value", ["Billing | Refunds", "a=b", "Streets, Sanitation", "R&D", "100%", "%7C", "plain"])
def test_any_dimension_value_round_trips_through_a_key(value):
    s = Slice.of({"workflow": value, "vendor_site": "x|y"})
    assert Slice.parse(s.key).filters == {"workflow": value, "vendor_site": "x|y"}
    assert len(s.key.split("|")) == 2  # separators inside values are encoded


@given(st.dictionaries(st.sampled_from(DIMENSIONS), st.text(min_size=0, max_size=12), max_size=4))
def test_parse_inverts_key(pairs):
    s = Slice.of(pairs)
    assert Slice.parse(s.key) == s
    assert Slice.parse(s.key).filters == {d: pairs[d] for d in Slice.parse(s.key)}


@pytest.mark.parametrize(("call", "match"), [
    (lambda: Slice.of({"work=flow": "a"}).key, r"a slice dimension must be a plain name"),
    (lambda: Slice.parse("workflow"), r"must be 'dimension=value'"),
    (lambda: Slice.parse("=x"), r"must be 'dimension=value'"),
])
def test_a_bad_key_or_dimension_says_the_rule(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_words_read_like_a_sentence():
    assert Slice.of(SPIKE).words() == "brand impersonation × web form at Manila"
    assert Slice.of({"vendor_site": "Krakow"}).words() == "Krakow"
    assert Slice.of({"language": "de", "channel": "api"}).words(DIMENSIONS) == "api × language de"
    assert Slice.of({"language": "de", "channel": "api"}).words() == "language de × api"  # as given
    assert Slice().words() == "all cases"


def test_the_subject_of_a_sentence_names_the_place_or_the_total():
    assert Slice().subject() == "overall"
    assert Slice.of({"vendor_site": "Manila"}).subject() == "at Manila"
    assert Slice.of(SPIKE).subject() == "brand impersonation × web form at Manila"


def test_pieces_tell_whether_one_slice_is_inside_another():
    pair = Slice.of({"workflow": "a", "vendor_site": "X"})
    assert Slice.of({"workflow": "a"}).pieces < pair.pieces
    assert pair.narrowed(channel="web").filters == {"workflow": "a", "vendor_site": "X", "channel": "web"}
