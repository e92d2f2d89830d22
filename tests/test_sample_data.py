"""The sample generator: seeded, shaped like real operations, with visible planted incidents."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sample_data
from sample_data import (
    CHANNELS,
    LANGUAGES,
    VENDOR_SITES,
    WORKFLOWS,
    SampleConfig,
    expected_total_cases,
    generate_cases,
    holidays,
    incidents,
)
from sample_data import generate as gen_module

END = dt.date(2025, 3, 31)  # a Monday; the 150 days hold Christmas and New Year
CASE_DTYPES = {
    "case_id": "int64",
    "created_at": "datetime64[ns]",
    "solved_at": "datetime64[ns]",
    "workflow": "str",
    "vendor_site": "str",
    "channel": "str",
    "language": "str",
    "route": "str",
    "handle_time_s": "float64",
    "sla_hours": "float64",
    "escalated": "int8",
    "reopened": "int8",
    "csat": "float64",
    "qa_score": "float64",
}
KPI_NAMES = {
    "incoming",
    "manual_incoming",
    "solved",
    "manual_solved",
    "automation_rate",
    "aht",
    "aas",
    "backlog",
    "sla_attainment",
    "escalation_rate",
    "reopen_rate",
    "csat",
    "qa_score",
}


def _all(config: SampleConfig, **kwargs: int) -> pd.DataFrame:
    return pd.concat(list(generate_cases(config, **kwargs)), ignore_index=True)


@pytest.fixture(scope="module")
def config() -> SampleConfig:
    return SampleConfig.small(end=END)


@pytest.fixture(scope="module")
def cases(config: SampleConfig) -> pd.DataFrame:
    return _all(config)


@pytest.fixture(scope="module")
def truth(config: SampleConfig) -> pd.DataFrame:
    return incidents(config)


def _window(truth: pd.DataFrame, kind: str, kpi: str) -> tuple[dt.date, dt.date]:
    row = truth[(truth["kind"] == kind) & (truth["kpi"] == kpi)].iloc[0]
    return row["start"], row["end"]


def _daily(frame: pd.DataFrame, column: str, config: SampleConfig) -> pd.Series:
    """Cases per UTC day of `column`, every day of the period present."""
    days = pd.date_range(config.start, config.end, freq="D")
    return (
        frame[column]
        .dt.floor("D")
        .value_counts()
        .reindex(days, fill_value=0)
        .sort_index()
    )


def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day)


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames(
    config: SampleConfig, cases: pd.DataFrame
) -> None:
    gen_module._plan.cache_clear()  # redraw the daily volumes too, not only the cases
    again = _all(SampleConfig.small(end=END))
    pd.testing.assert_frame_equal(cases, again)
    pd.testing.assert_frame_equal(
        incidents(config), incidents(SampleConfig.small(end=END))
    )


def test_other_seed_gives_other_frames(cases: pd.DataFrame) -> None:
    other = _all(SampleConfig.small(seed=8, end=END))
    assert len(other) != len(cases) or not other["created_at"].equals(
        cases["created_at"]
    )


def test_chunking_changes_memory_not_data(
    cases: pd.DataFrame, config: SampleConfig
) -> None:
    chunks = list(generate_cases(config, chunk_days=7))
    assert len(chunks) == -(-config.days // 7)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk["case_id"].iloc[0] == previous["case_id"].iloc[-1] + 1
        assert chunk["created_at"].iloc[0] >= previous["created_at"].iloc[-1]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), cases)


def test_end_none_means_yesterday_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_NOW", "2026-03-01T00:30:00")
    yesterday = dt.date(2026, 2, 28)
    resolved = SampleConfig().resolved()
    assert resolved.end == yesterday
    assert resolved.start == yesterday - dt.timedelta(days=729)
    assert SampleConfig(end=END).resolved() == SampleConfig(end=END)


# --- contract --------------------------------------------------------------------------------


def test_package_exports_public_api() -> None:
    for name in (
        "SampleConfig",
        "WORKFLOWS",
        "VENDOR_SITES",
        "CHANNELS",
        "LANGUAGES",
        "incidents",
        "holidays",
        "generate_cases",
        "expected_total_cases",
    ):
        assert name in sample_data.__all__
        assert hasattr(sample_data, name)


def test_cases_have_contract_columns_and_dtypes(cases: pd.DataFrame) -> None:
    assert {c: str(t) for c, t in cases.dtypes.items()} == CASE_DTYPES


def test_case_ids_unique_and_increasing_with_created_at(cases: pd.DataFrame) -> None:
    assert cases["case_id"].is_unique
    assert cases["case_id"].is_monotonic_increasing
    assert cases["created_at"].is_monotonic_increasing


def test_created_within_period(cases: pd.DataFrame, config: SampleConfig) -> None:
    assert cases["created_at"].min() >= _ts(config.start)
    assert cases["created_at"].max() < _ts(config.end) + pd.Timedelta(days=1)


def test_expected_total_close_to_drawn(
    cases: pd.DataFrame, config: SampleConfig
) -> None:
    assert abs(expected_total_cases(config) / len(cases) - 1) < 0.03
    assert 350 * config.days < len(cases) < 450 * config.days


def test_text_columns_use_known_values(cases: pd.DataFrame) -> None:
    assert set(cases["workflow"]) <= set(WORKFLOWS)
    assert set(cases["vendor_site"]) <= set(VENDOR_SITES)
    assert set(cases["channel"]) <= set(CHANNELS)
    assert set(cases["language"]) <= set(LANGUAGES)
    assert set(cases["route"]) == {"manual", "automated"}
    assert all(name.isascii() for name in VENDOR_SITES)


# --- structure -------------------------------------------------------------------------------


def test_enough_dimension_values_but_few_hundred_slices(cases: pd.DataFrame) -> None:
    assert cases["workflow"].nunique() >= 6
    assert cases["vendor_site"].nunique() >= 5
    assert cases["channel"].nunique() >= 3
    assert cases["language"].nunique() >= 4
    assert (
        50
        <= cases.groupby(["workflow", "vendor_site", "channel", "language"]).ngroups
        <= 300
    )


def test_sites_mix_kinds_and_time_zones() -> None:
    kinds = {site.kind for site in VENDOR_SITES.values()}
    assert kinds == {"in-house", "outsourced"}
    assert len({site.tz_offset_h for site in VENDOR_SITES.values()}) >= 5


def test_sites_only_get_their_workflows_and_languages(cases: pd.DataFrame) -> None:
    for name, group in cases.groupby("vendor_site"):
        site = VENDOR_SITES[name]
        assert set(group["workflow"]) == set(site.workflows)
        assert set(group["language"]) == set(site.languages)


def test_weekends_lower_than_weekdays(
    cases: pd.DataFrame, config: SampleConfig
) -> None:
    daily = _daily(cases, "created_at", config)
    weekend = daily.index.day_of_week >= 5
    assert daily[weekend].mean() < 0.9 * daily[~weekend].mean()
    # business workflows drop more at weekends than account security
    by_wf = cases.assign(weekend=cases["created_at"].dt.day_of_week >= 5)
    share = by_wf.groupby("workflow")["weekend"].mean()
    assert share["compliance"] < share["account_security"]


def test_christmas_day_volume_is_low(cases: pd.DataFrame, config: SampleConfig) -> None:
    daily = _daily(cases, "created_at", config)
    christmas = _ts(dt.date(2024, 12, 25))
    same_weekday = [christmas + pd.Timedelta(weeks=k) for k in (-3, -2, 2, 3)]
    assert daily[christmas] < 0.75 * daily[same_weekday].median()


def test_holidays_frame(config: SampleConfig) -> None:
    frame = holidays(config)
    assert list(frame.columns) == ["day", "name", "vendor_site"]
    assert all(config.start <= day <= config.end for day in frame["day"])
    assert dt.date(2024, 12, 25) in set(frame["day"])
    assert frame["vendor_site"].isna().any() and frame["vendor_site"].notna().any()
    assert set(frame["vendor_site"].dropna()) <= set(VENDOR_SITES)


def test_growth_over_two_years() -> None:
    long = _all(SampleConfig(end=END, days=730, cases_per_day=40.0), chunk_days=365)
    per_day = long["created_at"].dt.floor("D").value_counts().sort_index()
    # same season one year apart, before the planted level shift
    assert per_day.iloc[365:456].mean() > 1.08 * per_day.iloc[:91].mean()


def test_created_time_follows_site_working_hours(cases: pd.DataFrame) -> None:
    utc_hour = cases["created_at"].dt.hour
    manila_morning_utc = (utc_hour[cases["vendor_site"] == "Manila"] < 12).mean()
    austin_morning_utc = (utc_hour[cases["vendor_site"] == "Austin"] < 12).mean()
    assert manila_morning_utc > 0.7  # 08:00-20:00 in Manila is 00:00-12:00 UTC
    assert austin_morning_utc < 0.3


def test_automated_cases_have_no_handle_time(cases: pd.DataFrame) -> None:
    automated = cases["route"] == "automated"
    solved = cases["solved_at"].notna()
    assert cases.loc[automated, "handle_time_s"].isna().all()
    assert cases.loc[~automated & ~solved, "handle_time_s"].isna().all()
    assert cases.loc[~automated & solved, "handle_time_s"].gt(0).all()


def test_automated_cases_solve_in_minutes_manual_in_hours(cases: pd.DataFrame) -> None:
    age_h = (cases["solved_at"] - cases["created_at"]).dt.total_seconds() / 3600
    median = age_h.groupby(cases["route"]).median()
    assert median["automated"] < 0.25
    assert 4 < median["manual"] < 72


def test_solved_never_before_created(cases: pd.DataFrame) -> None:
    solved = cases.dropna(subset=["solved_at"])
    assert (solved["solved_at"] >= solved["created_at"]).all()


def test_open_cases_only_near_the_end(
    cases: pd.DataFrame, config: SampleConfig
) -> None:
    open_cases = cases[cases["solved_at"].isna()]
    recent = cases["created_at"] >= _ts(config.end) - pd.Timedelta(days=1)
    assert cases.loc[recent, "solved_at"].isna().sum() > 0
    assert open_cases["created_at"].min() > _ts(config.end) - pd.Timedelta(days=30)


def test_sla_targets_per_workflow_and_mostly_met(cases: pd.DataFrame) -> None:
    sla = cases.groupby("workflow")["sla_hours"].agg(["min", "max"])
    assert (sla["min"] == sla["max"]).all()
    assert sla["min"].nunique() >= 3
    solved = cases.dropna(subset=["solved_at"])
    age_h = (solved["solved_at"] - solved["created_at"]).dt.total_seconds() / 3600
    assert 0.8 < (age_h <= solved["sla_hours"]).mean() < 0.99


def test_flags_and_scores_on_samples(cases: pd.DataFrame) -> None:
    solved = cases["solved_at"].notna()
    manual_solved = solved & (cases["route"] == "manual")
    assert set(cases["escalated"].unique()) == {0, 1}
    assert set(cases["reopened"].unique()) == {0, 1}
    assert cases.loc[~solved, "reopened"].eq(0).all()
    csat = cases["csat"].dropna()
    assert set(csat.unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert cases.loc[~solved, "csat"].isna().all()
    assert 0.06 < cases.loc[solved, "csat"].notna().mean() < 0.10
    assert cases["qa_score"].dropna().between(0, 100).all()
    assert cases.loc[~manual_solved, "qa_score"].isna().all()
    assert 0.035 < cases.loc[manual_solved, "qa_score"].notna().mean() < 0.065


def test_automation_share_differs_by_workflow(cases: pd.DataFrame) -> None:
    share = (cases["route"] == "automated").groupby(cases["workflow"]).mean()
    assert share.max() - share.min() > 0.3


# --- ground truth and planted incidents ---------------------------------------------------------


def test_ground_truth_frame(truth: pd.DataFrame, config: SampleConfig) -> None:
    assert list(truth.columns) == [
        "kind",
        "start",
        "end",
        "kpi",
        "workflow",
        "vendor_site",
        "channel",
        "language",
        "size",
        "description",
    ]
    assert set(truth["kind"]) == {
        "channel_spike",
        "site_outage",
        "automation_failure",
        "policy_change",
        "aht_creep",
    }
    assert set(truth["kpi"]) <= KPI_NAMES
    assert all(
        config.start <= s <= e <= config.end
        for s, e in zip(truth["start"], truth["end"], strict=False)
    )
    assert truth["size"].notna().all() and (truth["size"] != 0).all()
    assert set(truth["workflow"].dropna()) <= set(WORKFLOWS)
    assert set(truth["vendor_site"].dropna()) <= set(VENDOR_SITES)


def test_incidents_fit_in_the_shortest_history() -> None:
    short = SampleConfig(end=END, days=60, cases_per_day=50.0)
    truth = incidents(short)
    assert truth["start"].min() > short.start


def test_channel_spike_on_last_day(
    cases: pd.DataFrame, config: SampleConfig, truth: pd.DataFrame
) -> None:
    start, _ = _window(truth, "channel_spike", "incoming")
    assert start == config.end
    end = _ts(config.end)
    previous = [end - pd.Timedelta(weeks=k) for k in range(1, 7)]
    brand = cases[cases["workflow"] == "brand_impersonation"]
    cell = brand[(brand["channel"] == "web_form") & (brand["vendor_site"] == "Manila")]
    for frame, factor in ((cell, 2.0), (brand, 1.3), (cases, 1.05)):
        daily = _daily(frame, "created_at", config)
        assert daily[end] > factor * daily[previous].median()
    other_cell = brand[
        (brand["channel"] == "email") & (brand["vendor_site"] == "Manila")
    ]
    daily = _daily(other_cell, "created_at", config)
    assert daily[end] < 1.6 * daily[previous].median()


def test_site_outage_stops_solving_then_backlog_and_aas_climb(
    cases: pd.DataFrame, config: SampleConfig, truth: pd.DataFrame
) -> None:
    start, end = _window(truth, "site_outage", "solved")
    site = cases[cases["vendor_site"] == "Hyderabad"]
    solved = _daily(site, "solved_at", config)
    outage = pd.date_range(start, end)
    before = pd.date_range(_ts(start) - pd.Timedelta(days=14), periods=14)
    assert solved[outage].max() < 0.15 * solved[before].median()

    def backlog_at(t: pd.Timestamp) -> int:
        return int(((site["created_at"] < t) & ~(site["solved_at"] < t)).sum())

    after_outage = _ts(end) + pd.Timedelta(days=1)
    assert backlog_at(after_outage) > 2 * backlog_at(_ts(start) - pd.Timedelta(days=7))

    age_h = (site["solved_at"] - site["created_at"]).dt.total_seconds() / 3600
    solved_day = site["solved_at"].dt.floor("D")
    aas_start, aas_end = _window(truth, "site_outage", "aas")
    catch_up = solved_day.between(_ts(aas_start), _ts(aas_end))
    normal = solved_day.between(before[0], before[-1])
    assert age_h[catch_up].mean() > 1.5 * age_h[normal].mean()


def test_automation_failure_sends_everything_to_humans(
    cases: pd.DataFrame, truth: pd.DataFrame
) -> None:
    start, end = _window(truth, "automation_failure", "manual_incoming")
    acct = cases[cases["workflow"] == "account_security"]
    day = acct["created_at"].dt.floor("D")
    manual = acct["route"] == "manual"
    during = day.between(_ts(start), _ts(end))
    before = day.between(
        _ts(start) - pd.Timedelta(days=14), _ts(start) - pd.Timedelta(days=1)
    )
    assert manual[during].mean() > 0.99
    assert manual[before].mean() < 0.7
    other = cases["created_at"].dt.floor("D").between(_ts(start), _ts(end))
    assert (
        cases.loc[other & (cases["workflow"] != "account_security"), "route"]
        == "automated"
    ).mean() > 0.2


def test_policy_change_lifts_copyright_level(
    cases: pd.DataFrame, config: SampleConfig, truth: pd.DataFrame
) -> None:
    shift, _ = _window(truth, "policy_change", "incoming")
    after = pd.date_range(shift, periods=28)
    before = pd.date_range(_ts(shift) - pd.Timedelta(days=28), periods=28)

    def ratio(workflow: str) -> float:
        daily = _daily(cases[cases["workflow"] == workflow], "created_at", config)
        return daily[after].mean() / daily[before].mean()

    # trademark shares the weekday pattern and the holidays, not the policy change
    assert ratio("copyright") > 1.2 * ratio("trademark")


def test_aht_creep_at_krakow(
    cases: pd.DataFrame, config: SampleConfig, truth: pd.DataFrame
) -> None:
    start, _ = _window(truth, "aht_creep", "aht")
    solved_day = cases["solved_at"].dt.floor("D")
    late = solved_day >= _ts(config.end) - pd.Timedelta(days=6)
    early = solved_day.between(
        _ts(start) - pd.Timedelta(days=28), _ts(start) - pd.Timedelta(days=1)
    )

    def ratio(site: str) -> float:
        at_site = cases["vendor_site"] == site
        return (
            cases.loc[at_site & late, "handle_time_s"].mean()
            / cases.loc[at_site & early, "handle_time_s"].mean()
        )

    assert ratio("Krakow") > 1.25
    assert ratio("Krakow") > 1.2 * ratio("Dublin")


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"days": 59}, ValueError, r"`days` must be >= 60, got 59"),
        ({"cases_per_day": 0.0}, ValueError, r"`cases_per_day` must be > 0"),
        ({"cases_per_day": -5.0}, ValueError, r"`cases_per_day` must be > 0"),
        ({"cases_per_day": float("nan")}, ValueError, r"`cases_per_day` must be > 0"),
        ({"seed": -1}, ValueError, r"`seed` must be >= 0, got -1"),
        ({"seed": 1.5}, TypeError, r"`seed` must be an int"),
        ({"days": 90.0}, TypeError, r"`days` must be an int"),
        (
            {"end": dt.datetime(2025, 3, 31)},
            TypeError,
            r"`end` must be a datetime.date",
        ),
        ({"end": "2025-03-31"}, TypeError, r"`end` must be a datetime.date"),
    ],
)
def test_bad_config_is_refused(
    kwargs: dict, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        SampleConfig(**kwargs)


def test_bad_chunk_days_is_refused(config: SampleConfig) -> None:
    with pytest.raises(ValueError, match=r"`chunk_days` must be >= 1, got 0"):
        next(generate_cases(config, chunk_days=0))


def test_small_config_is_small() -> None:
    small = SampleConfig.small(seed=3, end=END)
    assert (small.seed, small.days, small.end) == (3, 150, END)
    assert small.cases_per_day < SampleConfig().cases_per_day
    assert SampleConfig().days >= 730
    assert SampleConfig().days * SampleConfig().cases_per_day >= 3_000_000
    assert np.isclose(SampleConfig().cases_per_day, 4200.0)


def test_the_build_writes_the_sample_holidays_as_the_events_file_the_dashboard_reads(sample_db: Path,
                                                                                     small_config: SampleConfig):
    from metrics.events import events_paths, known_events
    from sample_data.build import events_file

    found = events_paths(None, {}, source_url=f"sqlite:///{sample_db}")
    assert found == [events_file(sample_db)] and found[0].exists()
    events = known_events(("workflow", "vendor_site"), paths=found)
    planted = holidays(small_config)
    assert len(events) == len(planted) > 0
    first = events.iloc[0]
    assert (first["end"] - first["start"]).days == 1  # the holiday and its catch-up day
    assert set(events["vendor_site"].dropna()) <= set(planted["vendor_site"].dropna())


def test_a_teams_events_file_adds_to_the_sample_holidays_and_ops_events_replaces_it(tmp_path: Path,
                                                                                    sample_db: Path):
    from metrics.events import events_paths, known_events
    from sample_data.build import events_file

    config = tmp_path / "ops.toml"
    config.write_text("")
    (tmp_path / "events.csv").write_text("start,name\n2026-06-15,Launch of the new form\n")
    source = f"sqlite:///{sample_db}"
    both = events_paths(config, {}, source_url=source)
    assert both == [tmp_path / "events.csv", events_file(sample_db)]
    names = set(known_events(("workflow", "vendor_site"), paths=both)["name"])
    assert "Launch of the new form" in names and len(names) > 1  # the launch and the sample's holidays
    named = tmp_path / "mine.csv"
    assert events_paths(config, {"OPS_EVENTS": str(named)}, source_url=source) == [named, events_file(sample_db)]
    assert events_paths(None, {}, source_url=f"sqlite:///{tmp_path / 'cases.sqlite'}") == []
    assert events_paths(None, {}, source_url="postgresql://db/ops") == []


def test_a_sample_built_before_the_events_file_gets_one(tmp_path: Path, sample_db: Path):
    import shutil

    from loaders import load_settings
    from sample_data.build import events_file
    from ui.data import _ensure_sample_events

    copy = tmp_path / "ops_sample.sqlite"
    shutil.copy(sample_db, copy)
    assert not events_file(copy).exists()
    _ensure_sample_events(load_settings(environ={"OPS_DB_URL": f"sqlite:///{copy}"}), copy)
    written = pd.read_csv(events_file(copy))
    assert {"start", "end", "name", "vendor_site"} <= set(written.columns) and len(written) > 0


def test_a_killed_build_leaves_no_half_built_file_behind_the_next_one(tmp_path: Path):
    from sample_data.build import _forget_dead_builds

    target = tmp_path / "ops.sqlite"
    dead = tmp_path / f".ops.sqlite.{2 ** 22 + 17}.partial"  # above the default pid_max: no such process
    dead.write_bytes(b"half")
    mine = tmp_path / f".ops.sqlite.{os.getpid()}.partial"
    mine.write_bytes(b"running")
    _forget_dead_builds(target)
    assert not dead.exists() and mine.exists()
