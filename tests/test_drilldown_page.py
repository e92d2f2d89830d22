"""AppTest of the Drill-down page opened from a link (the view lives in the URL's query parameters)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import visible

APP = Path(__file__).resolve().parent.parent / "app.py"
SPIKE_LINK = {"kpi": "incoming", "day": "2026-06-30"}  # the sample's last day: the planted spike


@pytest.fixture()
def open_link(sample_db: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)

    def run(params: dict[str, str]) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.switch_page("pages/drilldown.py")
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception
        return at

    return run


def _table(at: AppTest, column: str):
    """The first table holding ``column`` (AppTest dataframes carry no key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _sentence(at: AppTest) -> str:
    return " ".join(visible(h.value) for h in at.subheader)


def test_a_link_to_the_spike_names_the_planted_slice_and_lists_its_cases(open_link):
    at = open_link(SPIKE_LINK)
    sentence = _sentence(at)
    assert sentence.startswith("Incoming +")
    assert "brand impersonation × web form at Manila explains" in sentence
    cases = _table(at, "case_id")
    assert len(cases) > 0
    assert set(cases["created_at"].dt.date.astype(str)) == {"2026-06-30"}


def test_finer_and_coarser_step_through_the_slices_in_the_url(open_link):
    at = open_link(SPIKE_LINK)
    at.button(key="drilldown_finer").click().run()
    assert not at.exception
    assert at.query_params["workflow"] in ("brand_impersonation", ["brand_impersonation"])
    assert "web form at Manila explains" in _sentence(at)
    cases = _table(at, "case_id")
    assert set(cases["workflow"]) == {"brand_impersonation"}
    at.button(key="drilldown_coarser").click().run()
    assert "workflow" not in at.query_params


def test_a_ratio_kpi_shows_mix_and_rate(open_link):
    at = open_link({"kpi": "aas", "day": "2026-05-19"})  # Hyderabad catches up after its outage
    assert "rate" in _sentence(at) and "mix" in _sentence(at)
    assert "Hyderabad explains" in _sentence(at)
    assert len(_table(at, "mix_effect")) > 0


@pytest.mark.parametrize(("params", "message"), [
    ({"kpi": "revenue"}, "unknown KPI 'revenue'"),
    ({"kpi": "incoming", "day": "yesterday"}, "`day` must be a date like"),
    ({"kpi": "incoming", "day": "2031-01-01"}, "outside the data"),
    ({"kpi": "incoming", "workflow": "kyc"}, "workflow 'kyc' does not occur in the data"),
])
def test_bad_links_give_a_message_not_a_traceback(open_link, params, message):
    at = open_link(params)
    assert any(message in visible(e.value) for e in at.error), [e.value for e in at.error]


def test_a_slice_that_matches_nothing_says_so(open_link):
    at = open_link({"kpi": "incoming", "day": "2026-06-30", "workflow": "copyright", "vendor_site": "Manila"})
    assert any("Step to a coarser slice" in w.value for w in at.warning)


def test_too_little_history_for_the_decomposition_keeps_the_rest(open_link):
    at = open_link({"kpi": "incoming", "day": "2026-03-03"})  # a month into the sample
    assert any("No decomposition" in w.value for w in at.warning)
    assert _sentence(at).startswith("Incoming")


def test_the_case_table_shows_units_blanks_and_an_age_in_hours():
    import pandas as pd

    from ui.drilldown_data import case_table

    cases = pd.DataFrame({
        "case_id": [1, 2], "created_at": pd.to_datetime(["2026-06-30 01:00:00", "2026-06-30 02:30:00"]),
        "solved_at": pd.to_datetime(["2026-06-30 07:30:00", None]), "workflow": ["copyright", "trademark"],
        "handle_time_s": [494.6231, None], "escalated": [1, 0], "reopened": [0, None], "csat": [None, 4.0]})
    shown, config = case_table(cases)
    assert list(shown.columns) == ["case_id", "created_at", "solved_at", "age_h", "workflow", "handle_time_s",
                                   "escalated", "reopened", "csat"]
    assert shown["age_h"].iloc[0] == pytest.approx(6.5) and pd.isna(shown["age_h"].iloc[1])  # blank while open
    assert shown["escalated"].tolist() == [True, False]
    assert shown["reopened"].iloc[0] is False and pd.isna(shown["reopened"].iloc[1])
    pd.testing.assert_series_equal(shown["handle_time_s"], cases["handle_time_s"])  # values kept, format shows them
    assert set(config) == set(shown.columns) - {"workflow"}
    assert config["handle_time_s"]["type_config"]["format"] == "%.0f s"
    assert config["created_at"]["type_config"]["format"] == "YYYY-MM-DD HH:mm"
    assert config["age_h"]["label"] == "age (h)"
