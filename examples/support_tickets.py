"""Build a demo ``support_tickets`` table — our sample in someone else's shape — for the example config.

The table has the user's names (``ticket_id``, ``opened_ts``, ``closed_ts``, ``queue_name``, ``site_code``,
``solved_by`` …) and the user's values (``queue_name = 'DMCA'``, ``site_code = 'MNL'``, ``solved_by = 'bot'``);
``examples/support_tickets.toml`` maps both back onto ours.

Run: ``python -m examples.support_tickets --url sqlite:///tickets.sqlite`` (any SQLAlchemy URL).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from loaders import Settings, create_cases_table, load_settings, make_engine, write_cases

__all__ = ["CONFIG_PATH", "example_settings", "theirs", "write_support_tickets"]

CONFIG_PATH = Path(__file__).resolve().parent / "support_tickets.toml"


def example_settings(url: str) -> Settings:
    """The example configuration, pointed at ``url``."""
    return load_settings(environ={"OPS_DB_URL": url}, config_path=CONFIG_PATH)


def theirs(cases: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Our canonical cases with the user's values (the value mapping run backwards).

    Where one of ours maps to several of theirs (``copyright`` -> ``COPYRIGHT``, ``DMCA``), the case id picks
    one, so both spellings occur.
    """
    out = cases.copy()
    ids = out["case_id"].to_numpy()
    for dim, mapping in settings.value_maps.items():
        col = out[dim].astype("str").to_numpy(copy=True)
        for ours, their_values in mapping.items():
            hit = col == ours
            pick = ids[hit] % len(their_values)
            col[hit] = [their_values[i] for i in pick]
        out[dim] = col
    route = out["route"].astype("str")
    out["route"] = route.map({"manual": settings.route_values["manual"][0],
                              "automated": settings.route_values["automated"][0]})
    return out


def write_support_tickets(engine: sa.Engine, cases: pd.DataFrame, *, settings: Settings) -> int:
    """(Re)create the ``support_tickets`` table in ``engine`` and fill it from canonical ``cases``."""
    create_cases_table(engine, settings, drop=True)
    return write_cases(engine, theirs(cases, settings), settings=settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the database to write into")
    args = parser.parse_args()
    from sample_data import SampleConfig, generate_cases

    settings = example_settings(args.url)
    engine = make_engine(args.url)
    cases = pd.concat(list(generate_cases(SampleConfig.small())), ignore_index=True)
    print(f"wrote {write_support_tickets(engine, cases, settings=settings):,} tickets into {settings.source_table}")


if __name__ == "__main__":
    main()
