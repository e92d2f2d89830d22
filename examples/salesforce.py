"""Build a Salesforce ``Case`` table: the Case object's standard fields under their API names, one row per case.

``Id`` is the record's 18-character id (key prefix ``500`` and the case-insensitive checksum suffix, e.g.
``5003000000D8cuIAAR``), text, as are ``AccountId``, ``ContactId`` and ``OwnerId``; ``CaseNumber`` is the
zero-padded auto-number (``00012001``). ``CreatedDate``, ``LastModifiedDate`` and ``ClosedDate`` are UTC,
as the API returns them; ``IsClosed`` and ``IsEscalated`` are booleans. The picklists hold the standard
values: ``Status`` New/Working/Escalated/Closed, ``Origin`` Phone/Email/Web, ``Priority`` High/Medium/Low,
``Type`` Question/Problem/Feature Request, ``Reason`` Installation, Equipment Complexity, Performance,
Breakdown, Equipment Design, Feedback, Other (both may be empty).

``examples/salesforce.toml`` maps it: the case reason, origin, type and priority as dimensions, ``IsEscalated``
as the escalation flag, the day in UTC. A case has no handle time, no agent/automation route, no SLA target or
due time (that needs Entitlement Management's milestones), no reopen flag and no survey: those KPIs are not shown.

Run: ``python -m examples.salesforce --url sqlite:///salesforce.sqlite`` (any SQLAlchemy URL).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from examples.shapes import EXAMPLES, EXPORTED_AT, Shape, arrivals, morning_after, pick, run_cli

__all__ = ["CONFIG_PATH", "SHAPE", "TIMEZONE", "generate", "record_id", "table"]

CONFIG_PATH = EXAMPLES / "salesforce.toml"
TIMEZONE = "UTC"
REASONS = ("Installation", "Equipment Complexity", "Performance", "Breakdown", "Equipment Design", "Feedback",
           "Other", None)
SOLVE_HOURS = {"High": 7.0, "Medium": 26.0, "Low": 60.0}
SUBJECTS = ("Unit will not power on", "Request for installation visit", "Replacement part needed",
            "Performance below specification", "Question about warranty", "Feedback on last visit")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def record_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce record id: key prefix, instance, record number in base 62, checksum.

    The suffix encodes, for each 5-character chunk of the 15-character id, which characters are upper case.

    Examples
    --------
    >>> record_id("500", 0)[:3], len(record_id("500", 0))
    ('500', 18)
    """
    digits = ""
    for _ in range(9):
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    short = f"{prefix}8d0{digits}"
    suffix = "".join(_SUFFIX[sum(1 << i for i, ch in enumerate(short[k:k + 5]) if "A" <= ch <= "Z")]
                     for k in (0, 5, 10))
    return short + suffix


def table(*, zoned: bool = False, metadata: sa.MetaData | None = None) -> sa.Table:
    """The ``Case`` table (``zoned``: timestamps with time zone, where the database has the type)."""
    def ts() -> sa.DateTime:
        return sa.DateTime(timezone=zoned)

    return sa.Table(
        "Case", metadata if metadata is not None else sa.MetaData(),
        sa.Column("Id", sa.String(18), primary_key=True),
        sa.Column("CaseNumber", sa.String(30), nullable=False, unique=True),
        sa.Column("AccountId", sa.String(18)),
        sa.Column("ContactId", sa.String(18)),
        sa.Column("OwnerId", sa.String(18), nullable=False),
        sa.Column("Subject", sa.String(255)),
        sa.Column("Status", sa.String(40), nullable=False),
        sa.Column("Origin", sa.String(40)),
        sa.Column("Type", sa.String(40)),
        sa.Column("Reason", sa.String(40)),
        sa.Column("Priority", sa.String(40)),
        sa.Column("IsClosed", sa.Boolean, nullable=False),
        sa.Column("IsEscalated", sa.Boolean, nullable=False),
        sa.Column("CreatedDate", ts(), nullable=False),
        sa.Column("LastModifiedDate", ts(), nullable=False),
        sa.Column("ClosedDate", ts()),
        sa.Index("ix_Case_CreatedDate", "CreatedDate"),
        sa.Index("ix_Case_ClosedDate", "ClosedDate"),
    )


def generate(seed: int = 23) -> pd.DataFrame:
    """Every case of the 16 weeks, as the table holds it (timestamps naive UTC)."""
    rng = np.random.default_rng(seed)
    created = arrivals(rng, 55.0)  # the team's day is UTC: local time is UTC
    n = len(created)
    priority = pick(rng, ["High", "Medium", "Low"], [15, 55, 30], n)
    escalated = rng.random(n) < np.where(priority == "High", 0.22, 0.06)
    hours = np.array([SOLVE_HOURS[p] for p in priority]) * rng.lognormal(0.0, 0.9, n) * np.where(escalated, 2.2, 1)
    closed = created + pd.to_timedelta(np.round(hours * 3600), unit="s")
    is_closed = (closed <= EXPORTED_AT).to_numpy()
    closed = closed.where(is_closed)
    status = np.where(is_closed, "Closed", np.where(escalated, "Escalated",
                                                    pick(rng, ["New", "Working"], [30, 70], n)))
    modified = (created + pd.Timedelta(minutes=40)).clip(upper=EXPORTED_AT)
    modified[is_closed] = closed[is_closed]
    first = 5_731_200  # record numbers of the org's earlier cases come before
    return pd.DataFrame({
        "Id": [record_id("500", first + i) for i in range(n)],
        "CaseNumber": [f"{12_001 + i:08d}" for i in range(n)],
        "AccountId": [record_id("001", int(a)) for a in rng.integers(80_000, 81_500, n)],
        "ContactId": [record_id("003", int(c)) for c in rng.integers(400_000, 406_000, n)],
        "OwnerId": [record_id("005", int(o)) for o in rng.integers(9_000, 9_040, n)],
        "Subject": pick(rng, SUBJECTS, np.ones(len(SUBJECTS)), n),
        "Status": status,
        "Origin": pick(rng, ["Phone", "Email", "Web"], [35, 45, 20], n),
        "Type": pick(rng, ["Question", "Problem", "Feature Request", None], [50, 35, 10, 5], n),
        "Reason": pick(rng, REASONS, [14, 8, 18, 22, 6, 9, 8, 15], n),
        "Priority": priority,
        "IsClosed": is_closed,
        "IsEscalated": escalated,
        "CreatedDate": created,
        "LastModifiedDate": modified,
        "ClosedDate": closed,
    })


SHAPE = Shape("salesforce", "Salesforce cases", CONFIG_PATH, generate, table, morning_after(TIMEZONE))

if __name__ == "__main__":
    run_cli(SHAPE, __doc__)
