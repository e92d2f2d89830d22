"""Build a city's 311 ``service_requests`` table: Open311 GeoReport v2 fields plus a city export's extras.

The GeoReport v2 fields keep their names: ``service_request_id`` (text, ``26-00012345``), ``status``
(``open``/``closed``), ``status_notes``, ``service_code``, ``service_name`` (about 150 request types, a few
common and a long tail of rare ones), ``agency_responsible`` (17 departments, empty in about 9 % of the rows,
as GeoReport makes it optional), ``requested_datetime``, ``updated_datetime``, ``expected_datetime`` (when the
city expects to fulfil the request; empty for request types without a service standard), ``address``, ``lat``
and ``long``. Beside them, as the GeoReport bulk format and city open-data exports have them, ``closed_date``
(empty until closed) and ``source`` (Phone, Website, Mobile App, Text/SMS, Twitter, Email). The timestamps are
the city's local time without a zone ("floating" timestamps, as open-data portals publish them).

``examples/open311.toml`` maps it: request type, department and channel as dimensions, ``expected_datetime`` as
the due time (closed on or before it: within SLA), the city's day in Chicago, timestamps meant as local time.
A request has no agent/automation route, no handle time, no escalation or reopen flag and no survey: those KPIs
are not shown.

Run: ``python -m examples.open311 --url sqlite:///open311.sqlite`` (any SQLAlchemy URL).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from examples.shapes import EXAMPLES, EXPORTED_AT, Shape, arrivals, morning_after, pick, run_cli

__all__ = ["AGENCIES", "CONFIG_PATH", "SERVICES", "SHAPE", "TIMEZONE", "generate", "table"]

CONFIG_PATH = EXAMPLES / "open311.toml"
TIMEZONE = "America/Chicago"
AGENCIES = ("Streets and Sanitation", "Transportation", "Water Management", "Buildings", "Animal Care and Control",
            "Forestry", "Public Health", "Police", "Parks", "Aviation", "Business Affairs", "Environment",
            "Fleet Management", "Housing", "Transit Authority", "Cultural Affairs", "311 City Services")
_BASES = (
    ("Pothole in Street", 1), ("Street Light Out", 1), ("Alley Light Out", 1), ("Graffiti Removal", 0),
    ("Abandoned Vehicle", 7), ("Rodent Baiting", 0), ("Tree Trim", 5), ("Tree Removal", 5), ("Tree Planting", 5),
    ("Missed Garbage Pickup", 0), ("Missed Recycling Pickup", 0), ("Bulk Item Pickup", 0), ("Fly Dumping", 0),
    ("Sanitation Code Violation", 0), ("Water Main Break", 2), ("No Water", 2), ("Low Water Pressure", 2),
    ("Water in Basement", 2), ("Sewer Cave-In", 2), ("Sewer Odor", 2), ("Catch Basin Clogged", 2),
    ("Traffic Signal Out", 1), ("Stop Sign Down", 1), ("Street Sign Damaged", 1), ("Sidewalk Damage", 1),
    ("Curb Damage", 1), ("Snow Removal - Street", 0), ("Snow Removal - Sidewalk", 3), ("Ice on Street", 0),
    ("Dead Animal Pick-Up", 0), ("Stray Animal", 4), ("Animal Bite Report", 4), ("Weed Removal", 0),
    ("Vacant Lot Cleanup", 0), ("Building Violation", 3), ("No Heat", 13), ("Noise Complaint", 7),
    ("Restaurant Complaint", 6), ("Illegal Parking", 7), ("Blocked Driveway", 7), ("Abandoned Bicycle", 0),
    ("Park Maintenance", 8), ("Playground Repair", 8), ("Airport Noise", 9), ("Bus Stop Shelter Damage", 14),
    ("Business License Complaint", 10), ("Air Quality Complaint", 11), ("City Vehicle Complaint", 12),
    ("Public Art Damage", 15), ("Information Only Call", 16),
)


def _services() -> tuple[tuple[str, str, float, float | None], ...]:
    """Each base type, then its follow-ups and inspections (rarer, slower): 150 request types in all."""
    medians = np.resize([0.5, 1.0, 2.0, 4.0, 7.0, 12.0], len(_BASES))
    out = []
    for j, (suffix, factor) in enumerate((("", 1.0), (" (Follow-up)", 1.6), (" (Inspection)", 2.5))):
        for k, ((name, agency), days) in enumerate(zip(_BASES, medians, strict=True)):
            standard = None if (k + j) % 13 == 5 else round(float(days) * 3 * factor, 1)
            out.append((name + suffix, AGENCIES[agency], float(days) * factor, standard))
    return tuple(out)


#: (service_name, agency, median days to close, service standard in days or None), most requested first
SERVICES = _services()
SOURCES = ("Phone", "Website", "Mobile App", "Text/SMS", "Twitter", "Email")
STREETS = ("W 81ST ST", "N CLARK ST", "S HALSTED ST", "W MADISON ST", "N MILWAUKEE AVE", "S ASHLAND AVE",
           "W FULLERTON AVE", "N BROADWAY", "S KEDZIE AVE", "W 63RD ST")
CITY_WEEK = (1.2, 1.15, 1.1, 1.05, 1.0, 0.65, 0.55)


def table(*, zoned: bool = False, metadata: sa.MetaData | None = None) -> sa.Table:
    """The ``service_requests`` table (``zoned`` is accepted for symmetry: the city's times are local, unzoned)."""
    ts = sa.DateTime
    return sa.Table(
        "service_requests", metadata if metadata is not None else sa.MetaData(),
        sa.Column("service_request_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_notes", sa.String(255)),
        sa.Column("service_code", sa.String(32), nullable=False),
        sa.Column("service_name", sa.String(80), nullable=False),
        sa.Column("agency_responsible", sa.String(80)),
        sa.Column("source", sa.String(32)),
        sa.Column("requested_datetime", ts(), nullable=False),
        sa.Column("updated_datetime", ts(), nullable=False),
        sa.Column("expected_datetime", ts()),
        sa.Column("closed_date", ts()),
        sa.Column("address", sa.String(120)),
        sa.Column("lat", sa.Float),
        sa.Column("long", sa.Float),
        sa.Index("ix_service_requests_requested", "requested_datetime"),
        sa.Index("ix_service_requests_closed", "closed_date"),
    )


def generate(seed: int = 53) -> pd.DataFrame:
    """Every request of the 16 weeks, as the table holds it (timestamps naive, the city's local time)."""
    rng = np.random.default_rng(seed)
    requested = arrivals(rng, 190.0, week=CITY_WEEK)
    n = len(requested)
    ranks = np.arange(1, len(SERVICES) + 1)
    which = rng.choice(len(SERVICES), size=n, p=(w := ranks ** -1.05) / w.sum())
    codes = [rng.bytes(12).hex() for _ in SERVICES]
    name = np.array([SERVICES[i][0] for i in which], dtype=object)
    agency = np.array([SERVICES[i][1] for i in which], dtype=object)
    agency[rng.random(n) < 0.09] = None
    median_days = np.array([SERVICES[i][2] for i in which])
    standard = np.array([np.nan if SERVICES[i][3] is None else SERVICES[i][3] for i in which])
    days = median_days * rng.lognormal(0.0, 1.0, n)
    closed = requested + pd.to_timedelta(np.round(days * 86_400), unit="s")
    is_closed = (closed <= EXPORTED_AT).to_numpy()
    closed = closed.where(is_closed)
    expected = requested + pd.to_timedelta(np.round(standard * 86_400), unit="s")
    updated = (requested + pd.Timedelta(hours=1)).clip(upper=EXPORTED_AT)
    updated[is_closed] = closed[is_closed]
    notes = pick(rng, ["Completed", "Duplicate request", "No action required", "Referred to another agency"],
                 [75, 12, 9, 4], n)
    return pd.DataFrame({
        "service_request_id": [f"26-{120_001 + i:08d}" for i in range(n)],
        "status": np.where(is_closed, "closed", "open"),
        "status_notes": np.where(is_closed, notes, None),
        "service_code": [codes[i] for i in which],
        "service_name": name,
        "agency_responsible": agency,
        "source": pick(rng, SOURCES, [45, 20, 25, 3, 2, 5], n),
        "requested_datetime": requested,
        "updated_datetime": updated,
        "expected_datetime": expected,
        "closed_date": closed,
        "address": [f"{int(k)} {s}" for k, s in zip(rng.integers(100, 9_900, n), pick(rng, STREETS, np.ones(10), n),
                                                     strict=True)],
        "lat": np.round(rng.uniform(41.65, 42.02, n), 6),
        "long": np.round(rng.uniform(-87.94, -87.52, n), 6),
    })


SHAPE = Shape("open311", "City 311 service requests (Open311)", CONFIG_PATH, generate, table,
              morning_after(TIMEZONE))

if __name__ == "__main__":
    run_cli(SHAPE, __doc__)
