"""Alerts: a severe flag reaches its subscribers within minutes of the data landing, once per incident.

Run every few minutes (cron, a systemd timer)::

    python -m reports.alerts [--day YYYY-MM-DD] [--no-refresh] [--dry-run]

It brings the roll-up up to date (incremental, as the app does), judges the newest complete day with the one
judgment, and sends each subscription whose **minimum severity** is set (above 0) the incidents at or above it,
in its own scope and KPIs: one message per incident, by e-mail or webhook. The send log keys each alert by
day, recipient and incident, so an incident is sent once however often this runs. Exit status as
``reports.digest``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import loaders
from loaders import Filters, Settings
from metrics.kpis import get_kpi
from metrics.slices import Slice
from reports import command_settings
from reports.digest import (
    Recipient,
    SendFailed,
    _item_line,
    _link,
    chat_text,
    digest_context,
    post_webhook,
    recipients,
    refresh_rollup,
    send_email,
)

__all__ = ["KIND", "alerts_for", "main", "run"]

KIND = "alert"


def _incident_key(item) -> str:
    where = "&".join(f"{d}={v}" for d, v in sorted(item.slice.items()))
    return f"{item.kpi}|{where or 'all'}"


def alerts_for(ctx, day: date, recipient: Recipient) -> list:
    """The incidents of ``day`` this recipient asked to hear about (severity, KPIs), most severe first."""
    from ui import standup as su

    items, _total = su.day_anomalies(ctx, Filters(day, day), day, top=50)
    return [i for i in items if i.severity >= recipient.min_severity
            and (not recipient.kpis or i.kpi in recipient.kpis)]


def _message(settings: Settings, recipient: Recipient, item, day: date, link: str) -> tuple[EmailMessage, dict]:
    spec = get_kpi(item.kpi)
    subject = f"Identity Ops alert · {spec.label} · {Slice.of(item.slice).words()} · {day:%a %d %b %Y}"
    text = "\n".join([_item_line(item), item.explanation or "", f"Drill down: {link}", ""])
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.delivery.sender
    message["To"] = recipient.target
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.delivery.sender.split("@", 1)[1])
    message.set_content(text)
    chat = {"text": f"*{chat_text(subject)}*\n{chat_text(item.explanation or '')}\n<{link}|Open the drill-down>"}
    return message, chat


def run(settings: Settings, *, day: date | None = None, refresh: bool = True, dry_run: bool = False,
        retries: int = 3, backoff_s: float = 2.0, out: Callable[[str], None] = print) -> int:
    """Send the alerts due now; returns the exit status."""
    from store import AppStore, StoreError
    from ui.data import newest_complete_day

    if refresh:
        refresh_rollup(settings, out)
    try:
        store = AppStore(settings.app_db_url)
    except StoreError as err:
        out(f"error: the send log cannot be read, so an alert could go out twice ({err})")
        return 1
    failed: list[str] = []
    try:
        subs = [s for s in store.subscriptions() if s.min_severity > 0]
        chosen, refused = recipients(settings, subscriptions=[_as_daily(s) for s in subs])
        failed += refused
        contexts: dict = {}
        for r in chosen:
            when = day
            try:
                if r.user.scope not in contexts:
                    contexts[r.user.scope] = digest_context(settings, r.user)
                ctx = contexts[r.user.scope]
                when = day or newest_complete_day(ctx)
                for item in alerts_for(ctx, when, r):
                    key = f"{r.key} {_incident_key(item)}"
                    if len(key) > 200:  # the claim's key: a long slice is named by its digest
                        key = f"{r.key} {hashlib.sha256(_incident_key(item).encode()).hexdigest()[:32]}"
                    if dry_run:
                        if not store.was_sent(KIND, when, key, r.channel):
                            out(f"would alert {r.label}: {Slice.of(item.slice).words()}, {get_kpi(item.kpi).label}")
                        continue
                    if not store.claim_send(KIND, when, key, r.channel):
                        continue  # sent already, or another run is sending it
                    link = _link(settings.delivery.base_url, "drilldown", item.params or {})
                    message, chat = _message(settings, r, item, when, link)
                    try:
                        if r.channel == "email":
                            send_email(settings, message, retries=retries, backoff_s=backoff_s)
                        else:
                            post_webhook(r.target, chat, timeout_s=settings.delivery.timeout_s, retries=retries,
                                         backoff_s=backoff_s)
                    except Exception:
                        with contextlib.suppress(StoreError):
                            store.release_send(KIND, when, key, r.channel)  # the next run tries again
                        raise
                    store.record_send(KIND, when, key, r.channel, status="sent")
                    out(f"alerted {r.label}: “{message['Subject']}”")
            except Exception as err:
                reason = str(err) if isinstance(err, SendFailed | loaders.OpsDataError) else type(err).__name__
                failed.append(f"{r.label}: {reason}")
                if when is not None:
                    with contextlib.suppress(StoreError):
                        store.record_send(KIND, when, r.key, r.channel, status="failed", detail=reason)
    finally:
        store.dispose()
    for problem in failed:
        out(f"FAILED {problem}")
    return 1 if failed else 0


def _as_daily(sub):
    """Alerts go to every subscription with a severity floor, daily or weekly."""
    return replace(sub, cadence="daily")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.alerts", description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, help="judge this day (default: the newest complete one)")
    parser.add_argument("--no-refresh", action="store_true", help="read the roll-up as it is")
    parser.add_argument("--dry-run", action="store_true", help="print the alerts due; send nothing")
    args = parser.parse_args(argv)
    settings = command_settings()
    if settings is None:
        return 1
    return run(settings, day=args.day, refresh=not args.no_refresh, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
