"""Build a ServiceNow ``incident`` table: the incident fields under their column names, one row per incident.

``sys_id`` is the 32-hex-digit record id, ``number`` the ``INC0010001`` display number. ``opened_at``,
``resolved_at``, ``closed_at``, ``sys_created_on`` and ``sys_updated_on`` are UTC, as the instance stores them
(a resolved incident closes seven days later). Choice fields hold their display values, as a list export
gives them — ``state`` New/In Progress/On Hold/Resolved/Closed/Canceled, ``impact`` and ``urgency``
``1 - High``/``2 - Medium``/``3 - Low``, ``priority`` ``1 - Critical`` … ``5 - Planning`` (set from impact ×
urgency by the base system's lookup rules), ``category`` and ``subcategory`` — except ``contact_type``, which
keeps its values ``phone``/``email``/``self-service``/``walk-in``/``chat``. ``assignment_group`` is the group's
name, ``made_sla`` a boolean (resolved within the priority's resolution target, or not yet breached),
``business_duration`` the glide duration as the Table API writes it (``1970-01-01 04:12:00``), and
``reassignment_count``/``reopen_count`` integers.

``examples/servicenow.toml`` maps it: priority (the SLA targets' dimension), assignment group, category,
channel and subcategory as dimensions, the resolution targets by priority under ``[sla]``, the service desk's
day in India. An incident has no handle time for one agent, no agent/automation route, no 0/1 escalation or
reopen flag (``escalation`` and ``reopen_count`` are levels and counts) and no survey: those KPIs are not shown.

Run: ``python -m examples.servicenow --url sqlite:///servicenow.sqlite`` (any SQLAlchemy URL).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from examples.shapes import EXAMPLES, EXPORTED_AT, Shape, arrivals, morning_after, pick, run_cli, to_utc

__all__ = ["CONFIG_PATH", "PRIORITY", "RESOLUTION_HOURS", "SHAPE", "TIMEZONE", "generate", "table"]

CONFIG_PATH = EXAMPLES / "servicenow.toml"
TIMEZONE = "Asia/Kolkata"
LEVELS = ("1 - High", "2 - Medium", "3 - Low")
#: the base system's priority lookup: (impact, urgency) -> priority
PRIORITY = {(i, u): p for (i, u), p in zip(
    [(i, u) for i in LEVELS for u in LEVELS],
    ["1 - Critical", "2 - High", "3 - Moderate", "2 - High", "3 - Moderate", "4 - Low",
     "3 - Moderate", "4 - Low", "5 - Planning"], strict=True)}
#: the resolution targets of the SLA definitions, by priority (the same numbers as examples/servicenow.toml)
RESOLUTION_HOURS = {"1 - Critical": 4.0, "2 - High": 8.0, "3 - Moderate": 24.0, "4 - Low": 72.0,
                    "5 - Planning": 240.0}
CATEGORIES = {
    "Inquiry / Help": (("Antivirus", "Email", "Internal Application"), "Service Desk"),
    "Software": (("Email", "Operating System"), "Software"),
    "Hardware": (("CPU", "Disk", "Keyboard", "Memory", "Monitor", "Mouse"), "Hardware"),
    "Network": (("DHCP", "DNS", "IP Address", "VPN", "Wireless"), "Network"),
    "Database": (("DB2", "MS SQL Server", "Oracle"), "Database"),
}
GROUPS = ("Service Desk", "Software", "Hardware", "Network", "Database")


def table(*, zoned: bool = False, metadata: sa.MetaData | None = None) -> sa.Table:
    """The ``incident`` table (``zoned``: timestamps with time zone, where the database has the type)."""
    def ts() -> sa.DateTime:
        return sa.DateTime(timezone=zoned)

    return sa.Table(
        "incident", metadata if metadata is not None else sa.MetaData(),
        sa.Column("sys_id", sa.String(32), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False, unique=True),
        sa.Column("short_description", sa.String(160)),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("impact", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(40), nullable=False),
        sa.Column("priority", sa.String(40), nullable=False),
        sa.Column("category", sa.String(40)),
        sa.Column("subcategory", sa.String(40)),
        sa.Column("contact_type", sa.String(40)),
        sa.Column("assignment_group", sa.String(80)),
        sa.Column("opened_at", ts(), nullable=False),
        sa.Column("resolved_at", ts()),
        sa.Column("closed_at", ts()),
        sa.Column("made_sla", sa.Boolean, nullable=False),
        sa.Column("business_duration", sa.String(40)),
        sa.Column("reassignment_count", sa.Integer, nullable=False),
        sa.Column("reopen_count", sa.Integer, nullable=False),
        sa.Column("sys_created_on", ts(), nullable=False),
        sa.Column("sys_updated_on", ts(), nullable=False),
        sa.Index("ix_incident_opened_at", "opened_at"),
        sa.Index("ix_incident_resolved_at", "resolved_at"),
    )


def _duration(seconds: float) -> str | None:
    """A glide duration as the Table API writes it: the time since 1970-01-01 00:00:00."""
    if np.isnan(seconds):
        return None
    return (pd.Timestamp("1970-01-01") + pd.Timedelta(seconds=round(seconds))).strftime("%Y-%m-%d %H:%M:%S")


def generate(seed: int = 37) -> pd.DataFrame:
    """Every incident of the 16 weeks, as the table holds it (timestamps naive UTC)."""
    rng = np.random.default_rng(seed)
    local = arrivals(rng, 48.0)
    n = len(local)
    opened = to_utc(local, TIMEZONE)
    exported = to_utc(pd.Series([EXPORTED_AT]), TIMEZONE).iloc[0]
    impact = pick(rng, LEVELS, [10, 30, 60], n)
    urgency = pick(rng, LEVELS, [15, 35, 50], n)
    priority = np.array([PRIORITY[i, u] for i, u in zip(impact, urgency, strict=True)], dtype=object)
    category = pick(rng, list(CATEGORIES), [30, 25, 20, 15, 10], n)
    subcategory = np.array([CATEGORIES[c][0][int(k)] for c, k in zip(
        category, rng.integers(0, 60, n) % np.array([len(CATEGORIES[c][0]) for c in category]), strict=True)],
        dtype=object)
    # most incidents go to the category's group; some stay with the service desk or land elsewhere
    home = np.array([CATEGORIES[c][1] for c in category], dtype=object)
    group = np.where(rng.random(n) < 0.8, home, pick(rng, GROUPS, [40, 15, 15, 15, 15], n))
    target = np.array([RESOLUTION_HOURS[p] for p in priority])
    hours = target * rng.lognormal(-0.45, 0.85, n)
    resolved = opened + pd.to_timedelta(np.round(hours * 3600), unit="s")
    canceled = rng.random(n) < 0.015
    is_resolved = ((resolved <= exported).to_numpy()) & ~canceled
    resolved = resolved.where(is_resolved)
    closed = (resolved + pd.Timedelta(days=7)).where(lambda c: c <= exported)
    closed[canceled] = (opened[canceled] + pd.Timedelta(hours=3)).clip(upper=exported)
    open_state = pick(rng, ["New", "In Progress", "On Hold"], [20, 65, 15], n)
    state = np.where(canceled, "Canceled", np.where(closed.notna(), "Closed",
                                                    np.where(is_resolved, "Resolved", open_state)))
    age_now = (exported - opened).dt.total_seconds() / 3600
    took = (resolved - opened).dt.total_seconds() / 3600
    made_sla = np.where(is_resolved, took <= target, age_now <= target)
    updated = (opened + pd.Timedelta(minutes=25)).clip(upper=exported)
    updated[is_resolved] = resolved[is_resolved]
    updated[closed.notna()] = closed[closed.notna()]
    business = np.where(is_resolved, took * 3600 * 0.4, np.nan)
    return pd.DataFrame({
        "sys_id": [rng.bytes(16).hex() for _ in range(n)],
        "number": [f"INC{10_001 + i:07d}" for i in range(n)],
        "short_description": [f"{s} issue" for s in subcategory],
        "state": state,
        "impact": impact,
        "urgency": urgency,
        "priority": priority,
        "category": category,
        "subcategory": subcategory,
        "contact_type": pick(rng, ["phone", "email", "self-service", "walk-in", "chat"], [35, 30, 25, 5, 5], n),
        "assignment_group": group,
        "opened_at": opened,
        "resolved_at": resolved,
        "closed_at": closed,
        "made_sla": made_sla.astype(bool),
        "business_duration": [_duration(s) for s in business],
        "reassignment_count": rng.poisson(0.6, n),
        "reopen_count": np.where(is_resolved & (rng.random(n) < 0.03), 1, 0),
        "sys_created_on": opened,
        "sys_updated_on": updated,
    })


SHAPE = Shape("servicenow", "ServiceNow incidents", CONFIG_PATH, generate, table, morning_after(TIMEZONE))

if __name__ == "__main__":
    run_cli(SHAPE, __doc__)
