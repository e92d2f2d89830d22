"""For teams without cron: one long-running process that sends the digests and the alerts on the team's clock.

Run::

    python -m reports.scheduler

The daily digest of yesterday at ``[digest] daily_at`` (default 08:30), the weekly digest (with its deck) on
``[digest] weekly_on`` (default Monday) at the same time, and the alerts every ``[digest] alerts_every_min``
minutes (default 5), all in ``[time] timezone``. A job never overlaps itself, a missed run (the machine was
asleep) is made up once, and the send log keeps a digest from going out twice whatever runs it. Stop with
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

import loaders
from loaders import Settings
from reports import command_settings

__all__ = ["main", "schedule", "yesterday"]

log = logging.getLogger("identity_ops.scheduler")


def yesterday(settings: Settings) -> date:
    """The day a morning digest reports: yesterday on the team's clock (``loaders.clock``, which ``OPS_NOW``
    pins)."""
    return loaders.clock.today(settings) - timedelta(days=1)


def schedule(scheduler: BaseScheduler, settings: Settings, *,
             send: Callable[..., int] | None = None, alert: Callable[..., int] | None = None) -> BaseScheduler:
    """Add the three jobs to ``scheduler`` (``send`` / ``alert`` default to ``reports.digest.run`` and
    ``reports.alerts.run``); returns it, not started."""
    from reports import alerts, digest

    send = send or digest.run
    alert = alert or alerts.run
    zone = ZoneInfo(settings.business_timezone)
    d = settings.delivery
    hour, minute = (int(x) for x in d.daily_at.split(":"))
    every = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}

    def daily() -> None:
        log.info("daily digest: exit %s", send(settings, yesterday(settings), refresh=True, out=log.info))

    def weekly() -> None:
        log.info("weekly digest: exit %s", send(settings, yesterday(settings), cadence="weekly", refresh=True,
                                                 out=log.info))

    def alerting() -> None:
        log.info("alerts: exit %s", alert(settings, out=log.info))

    scheduler.add_job(daily, CronTrigger(hour=hour, minute=minute, timezone=zone), id="daily", **every)
    scheduler.add_job(weekly, CronTrigger(day_of_week=d.weekly_on, hour=hour, minute=minute, timezone=zone),
                      id="weekly", **every)
    scheduler.add_job(alerting, IntervalTrigger(minutes=d.alerts_every_min, timezone=zone), id="alerts", **every)
    return scheduler


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = command_settings()
    if settings is None:
        return 1
    scheduler = schedule(BlockingScheduler(timezone=ZoneInfo(settings.business_timezone)), settings)
    for job in scheduler.get_jobs():
        log.info("%s: %s", job.id, job.trigger)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))  # systemd's stop: a clean one
    with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C
        scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
