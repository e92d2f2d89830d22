"""The command-line weekly deck: runs against a real database without the UI, titles every slide with a takeaway
computed from the numbers, and exits non-zero with a clear message on bad input."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from metrics.kpis import PARTS, get_kpi, kpi_parts
from reports.weekly import main, week_over_week


@pytest.fixture(autouse=True)
def no_env_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPS_DB_URL", raising=False)
    monkeypatch.delenv("OPS_CONFIG", raising=False)


# ----------------------------------------------------------------------------- takeaways from numbers


def two_weeks(incoming: dict[str, tuple[float, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily parts for 14 days ending 2026-06-14, per workflow: (daily incoming week 1, week 2)."""
    days = pd.date_range("2026-06-01", periods=14, freq="D", name="day")
    frames = []
    for workflow, (before, after) in incoming.items():
        frame = pd.DataFrame(0.0, index=days, columns=list(PARTS))
        frame["incoming"] = np.r_[np.full(7, before), np.full(7, after)]
        frame["solved"] = frame["incoming"]
        frame["solved_in_sla"] = frame["solved"] * np.r_[np.full(7, 0.95), np.full(7, 0.90)]
        frame.insert(0, "workflow", workflow)
        frames.append(frame)
    split = kpi_parts(pd.concat(frames).sort_index(kind="stable"), by=("workflow",))
    total = kpi_parts(pd.concat(frames).drop(columns="workflow").groupby(level=0).sum())
    return total, split


def test_incoming_takeaway_gives_the_change_and_the_workflow_driving_it() -> None:
    total, split = two_weeks({"copyright": (50.0, 60.0), "trademark": (50.0, 50.0)})
    takeaway, numbers = week_over_week(total, get_kpi("incoming"), date(2026, 6, 14), split=split, by="workflow")
    assert takeaway == "Incoming +10.0 % week over week (770 vs 700); copyright drives most of it"
    assert ("Change, copyright", "+70") in numbers


def test_a_change_spread_over_workflows_is_called_so() -> None:
    total, split = two_weeks({"a": (10.0, 11.0), "b": (10.0, 11.0), "c": (10.0, 11.0), "d": (10.0, 11.0),
                              "e": (10.0, 11.0)})
    takeaway, _ = week_over_week(total, get_kpi("incoming"), date(2026, 6, 14), split=split, by="workflow")
    assert takeaway.endswith("; spread across workflows")


def test_a_percent_kpi_moves_in_points_and_names_its_worst_value() -> None:
    total, split = two_weeks({"copyright": (50.0, 50.0), "trademark": (10.0, 10.0)})
    split.loc[split["workflow"] == "trademark", "solved_in_sla"] *= 0.5
    takeaway, _ = week_over_week(total, get_kpi("sla_attainment"), date(2026, 6, 14), split=split, by="workflow")
    assert takeaway.startswith("SLA attainment -5.0 pts week over week (90.0 % vs 95.0 %)")
    assert takeaway.endswith("lowest at trademark (45.0 %)")


def test_a_small_change_is_called_flat() -> None:
    total, _ = two_weeks({"copyright": (1000.0, 1001.0)})
    takeaway, _ = week_over_week(total, get_kpi("incoming"), date(2026, 6, 14))
    assert takeaway == "Incoming flat week over week (7,007 last 7 days)"


# ----------------------------------------------------------------------------- the command


def test_weekly_deck_from_the_sample_database(chart_browser: None, sample_db: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "weekly.pptx"
    status = main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(out), "--url", f"sqlite:///{sample_db}"])
    assert status == 0, capsys.readouterr().err
    assert f"wrote {out}: 12 slides" in capsys.readouterr().out
    prs = Presentation(str(out))
    titles = [s.shapes.title.text for s in prs.slides]
    assert len(titles) == 12
    assert titles[0] == "Identity Ops weekly review" and titles[-1] == "Appendix: definitions"
    for kpi, title in zip(("Incoming", "Solved", "Backlog", "AHT", "AAS", "SLA attainment"), titles[1:7], strict=True):
        assert re.match(rf"{kpi} ([+-]\d+\.\d (%|pts) week over week|flat week over week)", title), title
    assert "largest workflow" in titles[7] and "solved the most" in titles[8]
    assert titles[9].startswith("SLA attainment by vendor site: lowest at")
    assert re.match(r"\d+ incidents? in 24 Jun – 30 Jun 2026; the most severe: ", titles[10]), titles[10]
    subtitle = " ".join(sh.text_frame.text for sh in prs.slides[0].shapes if sh.has_text_frame)
    assert "01 Jun 2026 – 30 Jun 2026" in subtitle
    for slide in list(prs.slides)[1:10]:
        assert len([s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]) == 1
        notes = slide.notes_slide.notes_text_frame.text
        assert "Week over week compares 24 Jun – 30 Jun 2026 with 17 Jun – 23 Jun 2026." in notes
        assert "Source: ops_daily_volume (daily roll-up) · Data as of 2026-06-30" in notes
        assert "Definitions:" in notes


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--from", "2026-13-01", "--to", "2026-06-30"], "--from must be a date as YYYY-MM-DD, got '2026-13-01'"),
     (["--from", "2026-06-30", "--to", "2026-06-01"], "the date range is empty: --from 2026-06-30 is after --to"),
     (["--from", "2026-06-01", "--to", "2026-06-30", "--out", "deck.pdf"], "--out must end in .pptx"),
     (["--from", "2026-06-01", "--to", "2026-06-30", "--template", "/no/such.pptx"],
      "--template must be an existing .pptx file")],
)
def test_bad_arguments_exit_2_with_the_rule(argv: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "deck.pptx")]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_range_without_data_exits_1_naming_the_data_range(sample_db: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deck.pptx"
    status = main(["--from", "2030-01-01", "--to", "2030-01-31", "--out", str(out), "--url", f"sqlite:///{sample_db}",
                   "--no-refresh"])
    assert status == 1
    err = capsys.readouterr().err
    assert "no data between 2030-01-01 and 2030-01-31: the data covers" in err and "2026-06-30" in err
    assert not out.exists()


@pytest.mark.parametrize(("content", "said"), [
    ("day,title\n2026-06-15,Launch\n", "must have a `start` (or `day`) and a `name` column"),
    (None, "the events file named by OPS_EVENTS does not exist"),
])
def test_a_broken_events_file_stops_the_deck_instead_of_calling_the_week_normal(
        content: str | None, said: str, sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.csv"
    if content is not None:
        events.write_text(content)
    monkeypatch.setenv("OPS_EVENTS", str(events))
    out = tmp_path / "deck.pptx"
    status = main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(out), "--url", f"sqlite:///{sample_db}",
                   "--no-refresh"])
    assert status == 1 and said in capsys.readouterr().err
    assert not out.exists()


def test_an_unreachable_database_exits_1_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(tmp_path / "deck.pptx"),
                   "--url", "postgresql+psycopg://nobody@127.0.0.1:1/none"])
    assert status == 1
    err = capsys.readouterr().err
    assert "error: cannot connect" in err and "hint: " in err


def test_a_missing_sqlite_file_is_reported_and_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.sqlite"
    status = main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(tmp_path / "deck.pptx"),
                   "--url", f"sqlite:///{missing}"])
    assert status == 1
    assert f"database file {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_the_weekly_abnormal_slide_states_what_the_anomalies_page_states(chart_browser: None, sample_db: Path,
                                                                         tmp_path: Path, monkeypatch) -> None:
    """One judgment: the CLI's week of flags is the Anomalies page's "last 7 days" (same incidents, same points)."""
    from streamlit.testing.v1 import AppTest

    out = tmp_path / "weekly.pptx"
    assert main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(out), "--url",
                 f"sqlite:///{sample_db}"]) == 0
    slide = Presentation(str(out)).slides[10]
    numbers = [p.text for sh in slide.shapes if sh.has_text_frame and sh.name == "Key numbers"
               for p in sh.text_frame.paragraphs]
    incidents, points = int(numbers[0].replace(",", "")), int(numbers[2].replace(",", ""))
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.query_params["span"] = "week"
    at.switch_page("pages/anomalies.py").run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "abnormal point" in c.value)
    plural = "s" if incidents != 1 else ""
    assert caption.startswith(f"{incidents} incident{plural} ({points} abnormal point{'s' if points != 1 else ''}) "
                              "between 24 Jun 2026 and 30 Jun 2026")
    lead = at.dataframe[0].value.iloc[0]
    assert f"{lead['KPI']}" in slide.shapes.title.text


def test_the_weekly_deck_as_a_partner_holds_only_its_own_sites(chart_browser: None, sample_db: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from loaders import load_settings
    from reports.weekly import load_weekly_data
    from sample_data.generate import VENDOR_SITES
    from tests.conftest import PARTNER, ROLES_CONFIG

    config = tmp_path / "ops.toml"
    config.write_text(ROLES_CONFIG)
    monkeypatch.setenv("OPS_CONFIG", str(config))
    monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
    settings = load_settings()
    theirs = load_weekly_data(settings, date(2026, 6, 1), date(2026, 6, 30), refresh=False,
                              user=settings.access.user(PARTNER))
    everyone = load_weekly_data(settings, date(2026, 6, 1), date(2026, 6, 30), refresh=False)
    manila = everyone.by_site[everyone.by_site["vendor_site"] == "Manila"]
    # the partner's total is exactly its site's, and its split holds nothing else
    assert theirs.total["incoming"].sum() == manila["incoming"].sum() > 0
    assert set(theirs.by_site["vendor_site"]) == {"Manila"}

    out = tmp_path / "manila.pptx"
    assert main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(out), "--as", PARTNER,
                 "--no-refresh"]) == 0, capsys.readouterr().err
    prs = Presentation(str(out))
    text = "\n".join([sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame]
                     + [s.notes_slide.notes_text_frame.text for s in prs.slides])
    assert "Vendor site: Manila" in text
    assert not [s for s in VENDOR_SITES if s != "Manila" and s in text]

    assert main(["--from", "2026-06-01", "--to", "2026-06-30", "--out", str(out), "--as",
                 "stranger@elsewhere.example", "--no-refresh"]) == 1
    assert "has no role" in capsys.readouterr().err
