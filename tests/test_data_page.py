"""AppTest of the Data page: status on a healthy source, a broken configuration shown with its line, a volume-only
source (every page still works; case rows said to be unavailable), the refresh buttons and the file import."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from loaders import CasesUnavailable, Filters, Settings, load_cases, load_daily_volume, make_engine
from tests.conftest import SAMPLE_END, visible

APP = Path(__file__).resolve().parent.parent / "app.py"


def _data_page(monkeypatch: pytest.MonkeyPatch, url: str, config: Path | None = None) -> AppTest:
    monkeypatch.setenv("OPS_DB_URL", url)
    if config:
        monkeypatch.setenv("OPS_CONFIG", str(config))
    else:
        monkeypatch.delenv("OPS_CONFIG", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    at.switch_page("pages/data.py").run()
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_data_page_shows_connection_mapping_checks_and_rollup(sample_db: Path, monkeypatch):
    at = _data_page(monkeypatch, f"sqlite:///{sample_db}")
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["Dialect"] == "sqlite" and metrics["Latency"].endswith("ms")
    engine = make_engine(f"sqlite:///{sample_db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar()
    engine.dispose()
    assert metrics["Rows in the source"] == f"{rows:,}"
    assert metrics["Newest day"] == str(SAMPLE_END)
    checks = at.dataframe[2].value
    assert checks.set_index("column").loc["created_at", "ok"]
    assert at.success and "Every mapped column" in at.success[0].value
    mapping = at.dataframe[0].value
    assert mapping.set_index("ours").loc["created_at", "theirs"] == "created_at"


def test_refresh_button_refreshes_the_rollup(sample_db: Path, monkeypatch):
    at = _data_page(monkeypatch, f"sqlite:///{sample_db}")
    at.button(key="data_refresh").click().run()
    assert not at.exception
    assert _metrics(at)["Kind"] == "incremental"
    at.button(key="data_rebuild").click().run()
    assert not at.exception
    assert _metrics(at)["Kind"] == "full"


def test_a_broken_config_is_shown_with_its_line(sample_db: Path, monkeypatch, tmp_path: Path):
    config = tmp_path / "ops.toml"
    config.write_text('[source]\ntable = "cases"\n\n[rollup]\nmode = "sometimes"\n', encoding="utf-8")
    at = _data_page(monkeypatch, f"sqlite:///{sample_db}", config)
    assert not at.exception
    assert "ops.toml line 5: `rollup.mode` must be 'source' or 'local'" in visible(at.error[0].value)
    assert "5>" in at.code[0].value  # the offending line is pointed at
    assert any(b.label == "Retry" for b in at.button)


def test_unmapped_columns_are_listed_with_the_fix(sample_db: Path, monkeypatch, tmp_path: Path):
    config = tmp_path / "ops.toml"
    config.write_text('[columns]\ncreated_at = "opened_ts"\n\n[rollup]\nmode = "local"\n'
                      f'local_path = "{tmp_path / "cache.sqlite"}"\n', encoding="utf-8")
    at = _data_page(monkeypatch, f"sqlite:///{sample_db}", config)
    assert not at.exception
    text = " ".join(visible(m.value) for m in at.markdown)
    assert "Map `created_at`: add [columns] created_at = \"<your column>\" in the configuration file" in text


@pytest.fixture()
def volume_source(sample_db: Path, tmp_path: Path) -> tuple[str, Path]:
    """A database holding only a vendor's daily volume table (renamed columns, no language split)."""
    src = make_engine(f"sqlite:///{sample_db}")
    frame = load_daily_volume(src, settings=Settings(url="x"), filters=Filters(SAMPLE_END.replace(month=3),
                                                                               SAMPLE_END),
                              by=["workflow", "vendor_site", "channel"]).reset_index()
    src.dispose()
    frame = frame[frame["incoming"] + frame["solved"] > 0].rename(columns={"day": "report_date"})
    frame["report_date"] = frame["report_date"].dt.strftime("%Y-%m-%d")
    url = f"sqlite:///{tmp_path / 'volume.sqlite'}"
    engine = make_engine(url)
    frame.to_sql("vendor_daily", engine, index=False)
    engine.dispose()
    config = tmp_path / "ops.toml"
    config.write_text('[source]\nkind = "volume"\ntable = "vendor_daily"\n\n[columns]\nday = "report_date"\n',
                      encoding="utf-8")
    return url, config


def test_every_page_works_from_a_volume_only_source(volume_source, monkeypatch):
    url, config = volume_source
    at = _data_page(monkeypatch, url, config)
    assert not at.exception
    assert _metrics(at)["Source kind"] == "daily volumes"
    assert any("nothing is built or written" in i.value for i in at.info)
    assert not any(b.label == "Refresh roll-up now" for b in at.button)
    at.switch_page("app.py").run()
    assert not at.exception
    incoming = _metrics(at)["Incoming"]
    assert incoming not in ("", "–") and int(incoming.replace(",", "")) > 0
    at.switch_page("pages/trends.py").run()
    assert not at.exception and len(at.dataframe[0].value) > 0
    engine = make_engine(url)
    settings = Settings(url=url, source_kind="volume", cases_table="vendor_daily", columns={"day": "report_date"})
    with pytest.raises(CasesUnavailable, match="case rows are not available"):
        load_cases(engine, settings=settings, filters=Filters(SAMPLE_END, SAMPLE_END))
    assert set(pd.read_sql("SELECT name FROM sqlite_master WHERE type='table'", engine)["name"]) == {"vendor_daily"}
    engine.dispose()


@pytest.mark.parametrize(("value", "shown"), [
    (84.598181361893, "84.6"), (5181.953641, "5,182"), (120.0, "120"), (1, "1"), (61211, "61,211"),
    (None, ""), (float("nan"), ""), ("2026-06-30 23:59:54.123456", "2026-06-30 23:59"),
    (pd.Timestamp("2026-05-27 00:00:09"), "2026-05-27 00:00"), ("manual", "manual"),
])
def test_column_check_bounds_read_as_numbers_and_minutes_not_raw_floats(value, shown):
    from ui.data_page import format_value

    assert format_value(value) == shown


def test_an_upload_without_a_good_row_is_an_error_with_its_bad_rows_listed(sample_db: Path, monkeypatch,
                                                                            tmp_path: Path):
    target = tmp_path / "imported.sqlite"
    monkeypatch.setenv("OPS_IMPORT_DB", str(target))
    at = _data_page(monkeypatch, f"sqlite:///{sample_db}")
    header = "case_id,created_at,solved_at,workflow,vendor_site,channel,language,route,handle_time_s,sla_hours"
    rows = ['"=HYPERLINK(""http://x"")",2026-06-01 10:00,,copyright,Dublin,email,en,robot,300,24',
            "2,0001-01-01 10:00,,copyright,Dublin,email,en,manual,300,24"]
    at.file_uploader(key="data_import_file").set_value(
        ("all_bad.csv", "\n".join([header, *rows]).encode(), "text/csv")).run()
    at.button(key="data_import_go").click().run()
    assert not at.exception
    errors = [visible(e.value) for e in at.error]
    assert any("none of the 2 row(s) read is good, so nothing was written" in e for e in errors), errors
    assert not any("Imported" in s.value for s in at.success)
    bad = next(d.value for d in at.dataframe if "reasons" in d.value.columns)
    assert bad["line"].tolist() == [2, 3]
    assert "before 1990-01-01" in bad["reasons"].iloc[1]
    assert [b.label for b in at.get("download_button")] == ["Download the bad rows (CSV)"]
    engine = make_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar() == 0
    engine.dispose()
