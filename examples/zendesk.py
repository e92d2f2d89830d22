"""Build a Zendesk Support ``tickets`` table: the Tickets API's ticket fields, flattened, one row per ticket.

The columns are the API's own names (``id``, ``created_at``, ``updated_at``, ``type``, ``subject``,
``status``, ``priority``, ``requester_id``, ``assignee_id``, ``group_id``, ``brand_id``, ``tags``) with the
nested objects flattened the way exports and warehouse loaders do: ``via.channel`` as ``via_channel``,
``satisfaction_rating.score`` as ``satisfaction_rating_score``, the group's and brand's names (sideloaded)
as ``group_name`` and ``brand_name``, and from the ticket's metrics ``solved_at``, ``reopens`` and ``replies``.
The values are Zendesk's: status ``new``/``open``/``pending``/``hold``/``solved``/``closed`` (a solved ticket
closes four days later), priority ``urgent``/``high``/``normal``/``low`` or none, type ``question``/
``incident``/``problem``/``task`` or none, channel ``web``/``email``/``api``/``mobile``/``chat``, and a
satisfaction score ``unoffered``/``offered``/``good``/``bad``. Timestamps are UTC (the API's ``…Z``);
``--zoned`` stores them in zoned columns (PostgreSQL ``timestamptz``), and :func:`table` ``text=True`` with
:func:`api_text` keeps the API's own text (``2026-03-29T00:30:00Z``), as a JSON export loaded into SQLite does.

``examples/zendesk.toml`` maps it: groups, brands, channels, priorities and ticket types as dimensions, the
resolution targets of the team's SLA policy by priority, the support team's day in Dublin. A ticket has no
handle time, no agent/automation route, no escalation flag and no 1–5 CSAT (its score is good/bad): those KPIs
are not shown.

Run: ``python -m examples.zendesk --url sqlite:///zendesk.sqlite`` (any SQLAlchemy URL).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from examples.shapes import EXAMPLES, EXPORTED_AT, Shape, arrivals, morning_after, pick, run_cli, to_utc

__all__ = ["CONFIG_PATH", "SHAPE", "TIMEZONE", "api_text", "generate", "table"]

CONFIG_PATH = EXAMPLES / "zendesk.toml"
TIMEZONE = "Europe/Dublin"
GROUPS = {"Support": 360000120011, "Billing": 360000120012, "Technical": 360000120013,
          "Onboarding": 360000120014, "Escalations": 360000120015}
BRANDS = {"Acme": 360000004411, "Acme Pro": 360000004412}
PRIORITIES = ("urgent", "high", "normal", "low", None)
#: median hours to solve, by priority
SOLVE_HOURS = {"urgent": 3.0, "high": 9.0, "normal": 22.0, "low": 45.0, None: 30.0}
SUBJECTS = ("Cannot log in", "Invoice question", "Refund request", "Error when exporting", "Change my plan",
            "Password reset link expired", "API returns 500", "How do I add a user?", "Charged twice",
            "Feature request: dark mode")


def table(*, zoned: bool = False, text: bool = False, metadata: sa.MetaData | None = None) -> sa.Table:
    """The ``tickets`` table (``zoned``: timestamps with time zone, where the database has the type; ``text``: the
    timestamps as the API's text, ``2026-03-29T00:30:00Z``, as a JSON export loaded into SQLite keeps them)."""
    def ts() -> sa.types.TypeEngine:
        return sa.Text() if text else sa.DateTime(timezone=zoned)

    return sa.Table(
        "tickets", metadata if metadata is not None else sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_at", ts(), nullable=False),
        sa.Column("updated_at", ts(), nullable=False),
        sa.Column("type", sa.String(16)),
        sa.Column("subject", sa.String(150)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16)),
        sa.Column("via_channel", sa.String(32), nullable=False),
        sa.Column("requester_id", sa.BigInteger, nullable=False),
        sa.Column("assignee_id", sa.BigInteger),
        sa.Column("group_id", sa.BigInteger),
        sa.Column("group_name", sa.String(64)),
        sa.Column("brand_id", sa.BigInteger, nullable=False),
        sa.Column("brand_name", sa.String(64), nullable=False),
        sa.Column("tags", sa.Text),
        sa.Column("satisfaction_rating_score", sa.String(16), nullable=False),
        sa.Column("solved_at", ts()),
        sa.Column("reopens", sa.Integer, nullable=False),
        sa.Column("replies", sa.Integer, nullable=False),
        sa.Index("ix_tickets_created_at", "created_at"),
        sa.Index("ix_tickets_solved_at", "solved_at"),
    )


def generate(seed: int = 11) -> pd.DataFrame:
    """Every ticket of the 16 weeks, as the table holds it (timestamps naive UTC)."""
    rng = np.random.default_rng(seed)
    local = arrivals(rng, 85.0)
    n = len(local)
    created = to_utc(local, TIMEZONE)
    exported = to_utc(pd.Series([EXPORTED_AT]), TIMEZONE).iloc[0]
    group = pick(rng, list(GROUPS), [45, 20, 22, 8, 5], n)
    brand = pick(rng, list(BRANDS), [70, 30], n)
    channel = pick(rng, ["web", "email", "api", "mobile", "chat"], [34, 40, 8, 7, 11], n)
    priority = pick(rng, PRIORITIES, [3, 12, 40, 20, 25], n)
    kind = pick(rng, ["question", "incident", "problem", "task", None], [45, 25, 5, 10, 15], n)
    median = np.array([SOLVE_HOURS[p] for p in priority])
    hours = median * rng.lognormal(0.0, 1.0, n) * np.where(group == "Escalations", 2.0, 1.0)
    solved = created + pd.to_timedelta(np.round(hours * 3600), unit="s")
    is_solved = (solved <= exported).to_numpy()
    solved = solved.where(is_solved)
    closed = is_solved & (solved + pd.Timedelta(days=4) <= exported).to_numpy()
    status = np.where(closed, "closed", np.where(is_solved, "solved",
                                                 pick(rng, ["new", "open", "pending", "hold"], [15, 55, 25, 5], n)))
    updated = (created + pd.Timedelta(hours=2)).clip(upper=exported)
    updated[is_solved] = solved[is_solved]
    updated[closed] = solved[closed] + pd.Timedelta(days=4)
    score = np.where(is_solved, pick(rng, ["unoffered", "offered", "good", "bad"], [55, 25, 17, 3], n), "unoffered")
    reopens = np.where(is_solved, pick(rng, [0, 1, 2], [93, 6, 1], n), 0)
    vip = rng.random(n) < 0.05
    tags = [" ".join(filter(None, (g.lower(), c, "vip" if v else ""))) for g, c, v in zip(group, channel, vip,
                                                                                           strict=True)]
    return pd.DataFrame({
        "id": np.arange(31_250, 31_250 + n, dtype=np.int64),
        "created_at": created,
        "updated_at": updated,
        "type": kind,
        "subject": pick(rng, SUBJECTS, np.ones(len(SUBJECTS)), n),
        "status": status,
        "priority": priority,
        "via_channel": channel,
        "requester_id": rng.integers(361_000_000_000, 361_000_900_000, n),
        "assignee_id": np.where(status == "new", None, rng.integers(362_000_000_100, 362_000_000_160, n)),
        "group_id": [GROUPS[g] for g in group],
        "group_name": group,
        "brand_id": [BRANDS[b] for b in brand],
        "brand_name": brand,
        "tags": tags,
        "satisfaction_rating_score": score,
        "solved_at": solved,
        "reopens": reopens.astype(int),
        "replies": np.where(is_solved, rng.integers(1, 7, n), rng.integers(0, 3, n)),
    })


def api_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with their timestamps as the API writes them (ISO 8601 in UTC, ``…Z``), for :func:`table` ``text``."""
    out = frame.copy()
    for name in ("created_at", "updated_at", "solved_at"):
        out[name] = [None if pd.isna(v) else v.strftime("%Y-%m-%dT%H:%M:%SZ") for v in frame[name]]
    return out


SHAPE = Shape("zendesk", "Zendesk Support tickets", CONFIG_PATH, generate, table, morning_after(TIMEZONE))

if __name__ == "__main__":
    run_cli(SHAPE, __doc__)
