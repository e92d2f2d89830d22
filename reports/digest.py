"""The day's stand-up, sent: an HTML e-mail (with a plain-text part and inline charts) or a chat message.

Run::

    python -m reports.digest --day YYYY-MM-DD [--to ADDRESS ...] [--webhook URL ...] [--as USER]
                             [--dry-run] [--force] [--deck] [--cadence daily|weekly]

Without ``--to`` / ``--webhook`` it sends to the subscriptions kept in the app database. Each recipient gets
only its own scope (``[roles]``): a vendor partner's digest is computed from its sites alone, as its stand-up
page is. ``--dry-run`` prints what would be sent to whom and sends nothing. A send log in the app database
makes a rerun for the same day and recipient send nothing unless ``--force``. SMTP and webhook failures are
retried with backoff; one failing recipient never blocks the others.

Settings: ``[smtp] url`` (``smtp://host:587`` with STARTTLS, or ``smtps://host:465``), ``from``, ``starttls``;
``OPS_SMTP_URL`` (which may hold ``user:password@``) overrides the file, as do ``OPS_SMTP_USER`` /
``OPS_SMTP_PASSWORD``; ``[digest] base_url`` is the dashboard's address, for the links.

Exit status: 0 when every recipient got its digest (or had it already), 1 when any failed (the output says
which and why), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import html
import http.client
import json
import os
import re
import smtplib
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import loaders
from loaders import LOCAL_USER, Filters, Settings, User
from metrics.kpis import get_kpi
from metrics.slices import Slice
from reports import command_context, command_settings

PPTX_MIME = ("application", "vnd.openxmlformats-officedocument.presentationml.presentation")


class SendFailed(RuntimeError):
    """A recipient could not be reached after every retry; the message says why (no secrets)."""


class Refused(SendFailed):
    """The other end said no (a 4xx, a rejected address): trying again would not help."""


@dataclass(frozen=True)
class Recipient:
    """Where one digest goes, and whose view of the data it holds."""

    target: str                       # an e-mail address or a webhook URL
    channel: str                      # "email" | "webhook"
    user: User
    kpis: tuple[str, ...] = ()        # () = the stand-up's tiles
    min_severity: float = 0.0
    subscription: int | None = None   # its id, when it comes from the app database

    @property
    def label(self) -> str:
        if self.channel == "email":
            return self.target
        return f"webhook at {urllib.parse.urlsplit(self.target).hostname or '?'}"  # its path and user are secret

    @property
    def key(self) -> str:
        """The send log's name for this recipient: the subscription, or the address; never a webhook's URL
        (its path is its secret), only a digest of it."""
        if self.subscription is not None:
            return f"subscription {self.subscription}"
        if self.channel == "webhook":
            return "webhook " + hashlib.sha256(self.target.encode()).hexdigest()[:32]
        return self.target


@dataclass
class Digest:
    """One recipient's digest, ready to send."""

    day: date
    subject: str
    text: str
    html: str
    chat: dict
    images: dict[str, bytes] = field(default_factory=dict)   # content id -> PNG
    tiles: list = field(default_factory=list)                # what the numbers were computed from (tests)
    items: list = field(default_factory=list)


# ------------------------------------------------------------------------------------------ the data
def digest_context(settings: Settings, user: User):
    """The data context the stand-up page would have for ``user`` (``reports.command_context``)."""
    return command_context(settings, user)


def _link(base: str, page: str, params: dict[str, str]) -> str:
    query = urllib.parse.urlencode(params, doseq=True)
    return f"{base}/{page}" + (f"?{query}" if query else "")


def build_digest(ctx, day: date, *, kpis: Sequence[str] = (), min_severity: float = 0.0,
                 images: bool = True) -> Digest:
    """The stand-up of ``day`` as ``ctx``'s user sees it: tiles against expected, the abnormal items with their
    why and a drill-down link, the scorecard, the summary, and (with ``images``) two inline charts."""
    from ui import standup as su
    from ui.chart_panel import chart_meta

    base = ctx.settings.delivery.base_url
    filters = Filters(day - timedelta(days=55), day)
    tiles = [t for t in su.standup_tiles(ctx, filters, day) if not kpis or t.kpi.name in kpis]
    items, total = su.day_anomalies(ctx, filters, day, top=su.TOP_ANOMALIES)
    items = [i for i in items if i.severity >= min_severity and (not kpis or i.kpi in kpis)]
    sites, flags = su.site_scorecard(ctx, filters, day)
    fresh = su.freshness(ctx)
    summary = su.standup_narrative(day, tiles, items, total, sites, flags, fresh, ctx=ctx)
    standup_link = _link(base, "", {"day": day.isoformat()})
    links = [_link(base, "drilldown", i.params) if i.params else standup_link for i in items]
    who = ctx.scope.describe(ctx.label) if not ctx.scope.everything else ""

    pictures: dict[str, bytes] = {}
    image_note = ""
    if images:
        try:
            pictures = _charts(ctx, filters, day, chart_meta)
        except Exception as err:
            image_note = f"(Charts are not attached: {type(err).__name__}; see the dashboard.)"

    subject = f"Identity Ops stand-up · {day:%a %d %b %Y}" + (f" · {who}" if who else "") + (
        f" · {len(items)} abnormal" if items else " · nothing abnormal")
    text = _text(day, tiles, items, links, sites, flags, summary, fresh.message(day), standup_link, who,
                 image_note, ctx)
    body = _html(day, tiles, items, links, sites, flags, summary, fresh.message(day), standup_link, who,
                 pictures, image_note, ctx)
    chat = _chat(day, tiles, items, links, summary, standup_link, who)
    return Digest(day, subject, text, body, chat, pictures, tiles, items)


def _charts(ctx, filters: Filters, day: date, chart_meta: Callable) -> dict[str, bytes]:
    from charts.export import to_png
    from charts.figures import trend_figure
    from ui import standup as su
    from ui.anomaly_data import expected_band
    from ui.data import kpi_frame

    kpi = get_kpi("incoming")
    window = ctx.scope.restrict(filters)
    band, flagged = expected_band(ctx, filters, kpi=kpi.name)
    frame = kpi_frame(ctx, filters)
    title = f"{kpi.label} by day, last 8 weeks"
    trend = trend_figure(frame, kpi, title=title, band=band, flags=flagged)
    # drawn at about the size a mail client shows them (600 px wide), twice as sharp
    out = {"trend": to_png(trend, chart_meta(ctx, window, title=title, unit=kpi.unit), width=900, height=460,
                           scale=1.5)}
    multiples = su.workflow_chart(ctx, filters, day, kpi.name)
    out["multiples"] = to_png(multiples, None, width=900, height=620, scale=1.5)
    return out


def _number(tile) -> tuple[str, str, str]:
    """What a tile states, as the page states it: value, change vs last week, expected and band."""
    value = tile.kpi.format(tile.value) if tile.value is not None else "–"
    week = tile.kpi.format_change(tile.value, tile.week_ago, against="last week")
    return value, week, tile.expected_text()


def _item_line(item) -> str:

    spec = get_kpi(item.kpi)
    where = Slice.of(item.slice).words()  # the stand-up page's words for the slice
    arrow = "▲" if item.direction == "spike" else "▼"
    return (f"{'bad' if item.bad else 'good'} · severity {item.severity:.1f} · {spec.label} · {where} — {arrow} "
            f"{spec.format(item.observed)} vs {spec.format(item.expected)} expected")


def _site_rows(sites) -> list[tuple[str, list[str], str]]:
    rows = []
    for site in sites.index:
        cells = []
        for col in ("incoming", "solved", "backlog", "sla_attainment"):
            if col in sites.columns:
                value = sites.loc[site, col]
                cells.append(get_kpi(col).format(float(value)) if value == value else "–")
        abnormal = str(sites.loc[site, "abnormal"]) if "abnormal" in sites.columns else ""
        rows.append((str(site), cells, abnormal))
    return rows


_SITE_HEAD = ("Incoming", "Solved", "Backlog", "SLA")


def _text(day, tiles, items, links, sites, flags, summary, late, standup_link, who, image_note, ctx) -> str:
    lines = [f"Identity Ops stand-up · {day:%A %d %B %Y}" + (f" · {who}" if who else ""), ""]
    if late:
        lines += [f"WARNING: {late}", ""]
    lines += [summary, "", "Headline KPIs"]
    for t in tiles:
        value, week, expected = _number(t)
        lines.append(f"  {t.kpi.label}: {value} ({week}; {expected})")
    lines += ["", "What is abnormal"]
    if not items:
        lines.append("  Nothing: every KPI stayed within its expected range.")
    for item, link in zip(items, links, strict=True):
        lines.append(f"  - {_item_line(item)}")
        if item.explanation:
            lines.append(f"    {item.explanation}")
        lines.append(f"    Drill down: {link}")
    lines += ["", ctx.plural(ctx.site_dim)]
    for site, cells, abnormal in _site_rows(sites):
        lines.append(f"  {site}: " + ", ".join(f"{h} {c}" for h, c in zip(_SITE_HEAD, cells, strict=False))
                     + (f" — abnormal: {abnormal}" if abnormal else ""))
    lines += ["", f"Open the stand-up: {standup_link}"]
    if image_note:
        lines.append(image_note)
    return "\n".join(lines) + "\n"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_CELL = "padding:4px 10px;border-bottom:1px solid #e5e5e5;text-align:left"


def _html(day, tiles, items, links, sites, flags, summary, late, standup_link, who, pictures, image_note,
          ctx) -> str:
    colour = {"bad": "#8A2C00", "good": "#00563F"}
    parts = [f"<h2 style='margin:0 0 4px'>Stand-up · {_e(f'{day:%A %d %B %Y}')}</h2>"]
    if who:
        parts.append(f"<p style='color:#666;margin:0 0 12px'>{_e(who)} only</p>")
    if late:
        parts.append(f"<p style='background:#FBE7DD;color:#8A2C00;padding:8px'>{_e(late)}</p>")
    parts.append(f"<p>{_e(summary)}</p>")
    rows = "".join(
        f"<tr><td style='{_CELL}'>{_e(t.kpi.label)}</td><td style='{_CELL};font-weight:600'>{_e(v)}</td>"
        f"<td style='{_CELL}'>{_e(w)}</td><td style='{_CELL};color:{colour.get(t.state, '#222')}'>{_e(x)}</td></tr>"
        for t in tiles for v, w, x in [_number(t)])
    parts.append(f"<table style='border-collapse:collapse;font-size:14px'><tr><th style='{_CELL}'>KPI</th>"
                 f"<th style='{_CELL}'>Day</th><th style='{_CELL}'>vs last week</th><th style='{_CELL}'>"
                 f"Expected</th></tr>{rows}</table>")
    parts.append("<h3>What is abnormal</h3>")
    if not items:
        parts.append("<p>Nothing: every KPI stayed within its expected range.</p>")
    for item, link in zip(items, links, strict=True):
        why = f"<br><span style='color:#666'>{_e(item.explanation)}</span>" if item.explanation else ""
        parts.append(f"<p style='margin:6px 0'><b style='color:{colour['bad' if item.bad else 'good']}'>"
                     f"{_e(_item_line(item))}</b>{why}<br><a href='{_e(link)}'>Open the drill-down</a></p>")
    parts.append(f"<h3>{_e(ctx.plural(ctx.site_dim))}</h3>")
    head = "".join(f"<th style='{_CELL}'>{_e(h)}</th>" for h in (ctx.label(ctx.site_dim), *_SITE_HEAD, "Abnormal"))
    body = "".join(f"<tr><td style='{_CELL}'>{_e(site)}</td>" + "".join(f"<td style='{_CELL}'>{_e(c)}</td>"
                                                                      for c in cells)
                   + f"<td style='{_CELL}'>{_e(abnormal)}</td></tr>"
                   for site, cells, abnormal in _site_rows(sites))
    parts.append(f"<table style='border-collapse:collapse;font-size:14px'><tr>{head}</tr>{body}</table>")
    for cid, label in (("trend", "Incoming by day, with the expected range"),
                       ("multiples", "Incoming by workflow, last 8 weeks")):
        if cid in pictures:
            parts.append(f"<p><img src='cid:{cid}' alt='{_e(label)}' width='600' style='max-width:100%'></p>")
    if image_note:
        parts.append(f"<p style='color:#666'>{_e(image_note)}</p>")
    parts.append(f"<p><a href='{_e(standup_link)}'>Open the stand-up</a></p>")
    return ("<!doctype html><html><body style='font-family:Liberation Sans,Arial,sans-serif;color:#222'>"
            + "".join(parts) + "</body></html>")


def chat_text(value: object) -> str:
    """Data text for a Slack message: ``&``, ``<`` and ``>`` escaped, so a value can neither make a link nor
    ping a channel (``<!channel>``)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chat(day, tiles, items, links, summary, standup_link, who) -> dict:
    """A Slack-compatible message (``text`` with ``<url|label>`` links); Teams' incoming webhooks read
    ``text`` too."""
    lines = [f"*Identity Ops stand-up · {day:%a %d %b %Y}*" + (f" · {chat_text(who)}" if who else ""),
             chat_text(summary)]
    for item, link in zip(items, links, strict=True):
        lines.append(f"• <{link}|{'bad' if item.bad else 'good'} · severity {item.severity:.1f}> "
                     f"{chat_text(item.explanation or '')}".rstrip())
    lines.append(f"<{standup_link}|Open the stand-up>")
    return {"text": "\n".join(lines)}


# ------------------------------------------------------------------------------------------ sending
def email_message(digest: Digest, *, sender: str, to: str, deck: bytes | None = None) -> EmailMessage:
    """The MIME message: plain text, then HTML with the charts inline (``cid:``), then the deck if any."""
    domain = sender.split("@", 1)[1]
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(digest.text)
    ids = {name: make_msgid(name, domain=domain) for name in digest.images}  # "<trend.123@example.com>"
    body = digest.html
    for name, cid in ids.items():
        body = body.replace(f"src='cid:{name}'", f"src='cid:{cid[1:-1]}'")
    message.add_alternative(body, subtype="html")
    related = message.get_payload()[1]
    for name, png in digest.images.items():
        related.add_related(png, maintype="image", subtype="png", cid=ids[name], disposition="inline")
    if deck is not None:
        message.add_attachment(deck, maintype=PPTX_MIME[0], subtype=PPTX_MIME[1],
                               filename=f"identity-ops-weekly_{digest.day:%Y-%m-%d}.pptx")
    return message


class _Retry(Exception):
    """A temporary failure: worth another attempt (after ``wait_s`` when the other end said how long)."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.wait_s = wait_s


def _retrying(action: Callable[[], None], *, retries: int, backoff_s: float, what: str) -> int:
    """Run ``action`` up to ``retries`` times (at least once), waiting ``backoff_s``, then twice that… between
    attempts; returns the attempts it took. ``action`` raises :class:`_Retry` for a temporary failure and
    :class:`Refused` for one that another attempt would not cure."""
    tries = max(1, int(retries))
    for attempt in range(1, tries + 1):
        try:
            action()
            return attempt
        except Refused as err:
            raise Refused(f"{what} refused: {err}") from None
        except _Retry as err:
            if attempt == tries:
                raise SendFailed(f"{what} failed after {attempt} attempt{'s' if attempt > 1 else ''}: "
                                 f"{err}") from None
            wait = err.wait_s if err.wait_s is not None else backoff_s * 2 ** (attempt - 1)
            time.sleep(min(wait, 60.0))  # backoff between attempts of a failed send
    return tries


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


def _smtp_failure(err: Exception) -> Exception:
    """An SMTP error as temporary (4xx, a dropped connection) or a refusal (5xx)."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _m in err.recipients.values()]
        temporary = any(400 <= c < 500 for c in codes)
        reason = "; ".join(f"{code} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                           for code, m in err.recipients.values())
        return _Retry(reason) if temporary else Refused(reason)
    if isinstance(err, smtplib.SMTPResponseException):
        said = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else err.smtp_error
        reason = f"{err.smtp_code} {said}"
        return _Retry(reason) if 400 <= err.smtp_code < 500 else Refused(reason)
    return _Retry(_reason(err))


def send_email(settings: Settings, message: EmailMessage, *, retries: int = 3, backoff_s: float = 2.0) -> int:
    """Send through ``[smtp]``; returns the attempts it took. Raises :class:`SendFailed` (or :class:`Refused`).

    A reply code decides: 4xx (greylisting, a full queue) is tried again, 5xx is not. Once the server has taken
    the message, a failure while saying goodbye does not send it again."""
    delivery = settings.delivery
    if not delivery.smtp_url:
        raise SendFailed("no SMTP server is configured: set [smtp] url in ops.toml or OPS_SMTP_URL")
    url = urllib.parse.urlsplit(delivery.smtp_url)
    user = urllib.parse.unquote(url.username or "") or os.environ.get("OPS_SMTP_USER", "")
    password = urllib.parse.unquote(url.password or "") or os.environ.get("OPS_SMTP_PASSWORD", "")
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 587)

    def once() -> None:
        kind = smtplib.SMTP_SSL if secure else smtplib.SMTP
        try:
            smtp = kind(url.hostname, port, timeout=delivery.timeout_s)
        except (OSError, smtplib.SMTPException) as err:
            raise _smtp_failure(err) from None
        try:
            if not secure and delivery.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, password)
            smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as err:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.close()
            raise _smtp_failure(err) from None
        with contextlib.suppress(OSError, smtplib.SMTPException):  # delivered: a failed QUIT changes nothing
            smtp.quit()

    return _retrying(once, retries=retries, backoff_s=backoff_s, what=f"SMTP to {url.hostname}:{port}")


_TEAMS_HOSTS = ("*.webhook.office.com", "*.logic.azure.com")


def for_receiver(url: str, payload: dict) -> dict:
    """The chat message as the receiver reads it: Slack's ``<url|label>`` links and ``*bold*`` for Slack (and
    anything else), Markdown ``[label](url)`` and ``**bold**`` for a Microsoft Teams webhook."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if not any(fnmatch.fnmatchcase(host, pattern) for pattern in _TEAMS_HOSTS):
        return payload
    text = re.sub(r"<(https?://[^|>]+)\|([^>]*)>", r"[\2](\1)", payload["text"])
    text = re.sub(r"(?m)^\*(.+)\*$", r"**\1**", text)
    return {"text": text.replace("\n", "\n\n")}  # Teams joins single line breaks


def post_webhook(url: str, payload: dict, *, timeout_s: float = 20.0, retries: int = 3,
                 backoff_s: float = 2.0) -> int:
    """POST the chat message as JSON; returns the attempts it took.

    A 5xx, 408, 429 (after its ``Retry-After``), a timeout or a refused connection is tried again; another 4xx
    is not. After a timeout the receiver may have got the message already: a retry can then post it twice."""
    body = json.dumps(for_receiver(url, payload)).encode()
    host = urllib.parse.urlsplit(url).hostname or "?"

    def once() -> None:
        try:
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if response.status >= 300:
                    raise _Retry(f"HTTP {response.status}")
        except urllib.error.HTTPError as err:
            if err.code >= 500 or err.code in (408, 429):
                after = err.headers.get("Retry-After") if err.headers else None
                raise _Retry(f"HTTP {err.code}", float(after) if after and after.isdigit() else None) from None
            raise Refused(f"HTTP {err.code}") from None
        except ValueError:  # a malformed URL: its text is a secret, so it is not repeated
            raise Refused("the webhook URL is not a valid web address") from None
        except (OSError, http.client.HTTPException) as err:
            raise _Retry(_reason(getattr(err, "reason", err))) from None  # the reason, never the URL

    return _retrying(once, retries=retries, backoff_s=backoff_s, what=f"the webhook at {host}")


# ------------------------------------------------------------------------------------------ running
def recipients(settings: Settings, *, to: Sequence[str] = (), webhooks: Sequence[str] = (),
               as_user: str | None = None, subscriptions: Sequence = (), cadence: str = "daily"
               ) -> tuple[list[Recipient], list[str]]:
    """Who gets a digest, each with the scope [roles] gives it (``as_user``: the webhooks' scope); and the
    addresses refused (no role), as messages."""
    access = settings.access
    out, refused = [], []

    def user_of(email: str) -> User | None:
        if access.mode == "none":
            return LOCAL_USER
        return access.user(email)

    for address in to:
        user = user_of(address)
        if user is None:
            refused.append(f"{address}: has no role in [roles], so would see nothing; nothing sent")
            continue
        out.append(Recipient(address.strip(), "email", user))
    for url in webhooks:
        user = user_of(as_user) if as_user else (LOCAL_USER if access.mode == "none" else None)
        host = urllib.parse.urlsplit(url).hostname or "?"
        if user is None:
            refused.append(f"webhook at {host}: pass --as USER for whose view it gets")
            continue
        if not webhook_allowed(settings, url):
            refused.append(f"webhook at {host}: the host is not in [digest] webhook_hosts")
            continue
        out.append(Recipient(url, "webhook", user))
    for sub in subscriptions:
        if sub.cadence != cadence:
            continue
        user = user_of(sub.email)
        if user is None:
            refused.append(f"subscription of {sub.email}: has no role in [roles] any more; nothing sent")
            continue
        if sub.channel == "webhook" and not webhook_allowed(settings, sub.target):
            refused.append(f"subscription {sub.id}: its webhook's host is not in [digest] webhook_hosts; nothing sent")
            continue
        # an e-mail digest goes to its subscriber's own address, whatever was typed: a digest cut to one person's
        # scope never reaches someone else's mailbox
        target = sub.email if sub.channel == "email" else sub.target
        out.append(Recipient(target, sub.channel, user, tuple(sub.kpis), float(sub.min_severity), sub.id))
    return out, refused


def webhook_allowed(settings: Settings, url: str) -> bool:
    """Whether ``url`` is a web address on a host ``[digest] webhook_hosts`` admits (the server posts there)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host or " " in url:
        return False
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in settings.delivery.webhook_hosts)


def _ready(ctx, day: date) -> None:
    """Refuse a digest of a day the data has not fully reached: sent now, it would report a collapse that is
    only missing data — and the send log would then keep the right one from going out."""
    from ui import standup as su

    state = ctx.state
    if state is None or state.max_day is None or day > state.max_day:
        newest = f" (its newest day is {state.max_day})" if state is not None and state.max_day else ""
        raise loaders.ConfigError(f"the data has not reached {day} yet{newest}: nothing sent",
                                  hint="Run it once the day's cases have landed, or pick an earlier --day.")
    if not su.freshness(ctx).day_complete(day):
        raise loaders.ConfigError(f"the data of {day} is not complete yet (its last cases have not landed): "
                                  "nothing sent", hint="Run it later, or pick an earlier --day.")


def run(settings: Settings, day: date, *, to: Sequence[str] = (), webhooks: Sequence[str] = (),
        as_user: str | None = None, dry_run: bool = False, force: bool = False, deck: bool = False,
        cadence: str = "daily", refresh: bool = False, retries: int = 3, backoff_s: float = 2.0,
        images: bool = True, out: Callable[[str], None] = print) -> int:
    """Send (or, with ``dry_run``, list) the digest of ``day``; returns the exit status.

    ``cadence="weekly"`` sends to the weekly subscriptions, the weekly deck of the 7 days ending ``day``
    attached; the send log keeps daily and weekly digests apart. ``refresh`` brings the roll-up up to date
    first (a failure then says so, and the digest uses the roll-up as it is)."""
    from store import AppStore, StoreError

    kind = cadence
    deck = deck or cadence == "weekly"
    if refresh:
        refresh_rollup(settings, out)
    try:
        store: AppStore | None = AppStore(settings.app_db_url)
    except StoreError as err:
        if not (to or webhooks):
            out(f"error: the subscriptions cannot be read ({err})")
            return 1
        if not dry_run and not force:
            out(f"error: the send log cannot be read, so a rerun could send twice ({err}); pass --force to send")
            return 1
        store = None
    try:
        subs = store.subscriptions() if store is not None and not (to or webhooks) else []
        chosen, refused = recipients(settings, to=to, webhooks=webhooks, as_user=as_user, subscriptions=subs,
                                     cadence=cadence)
        failed = list(refused)
        if not chosen and not refused:
            out(f"nothing to send: no --to, no --webhook and no {cadence} subscription")
            return 0
        contexts: dict = {}
        for r in chosen:
            claimed = False
            try:
                if store is not None and dry_run and not force and store.was_sent(kind, day, r.key, r.channel):
                    out(f"skip {r.label}: the digest of {day} went out already (--force sends it again)")
                    continue
                if store is not None and not dry_run:
                    claimed = store.claim_send(kind, day, r.key, r.channel, force=force)
                    if not claimed:
                        out(f"skip {r.label}: the digest of {day} went out already, or another run is sending it "
                            "(--force sends it again)")
                        continue
                if r.user.scope not in contexts:
                    contexts[r.user.scope] = digest_context(settings, r.user)
                _ready(contexts[r.user.scope], day)
                digest = build_digest(contexts[r.user.scope], day, kpis=r.kpis, min_severity=r.min_severity,
                                      images=images and r.channel == "email" and not dry_run)
                scope = r.user.scope.describe(settings.label)
                if dry_run:
                    out(f"would send to {r.label} ({r.channel}, sees {scope}): “{digest.subject}”, "
                        f"{len(digest.tiles)} KPIs, {len(digest.items)} abnormal")
                    continue
                if r.channel == "email":
                    attachment = _weekly_deck(settings, day, r.user) if deck else None
                    message = email_message(digest, sender=settings.delivery.sender, to=r.target, deck=attachment)
                    tries = send_email(settings, message, retries=retries, backoff_s=backoff_s)
                else:
                    tries = post_webhook(r.target, digest.chat, timeout_s=settings.delivery.timeout_s,
                                         retries=retries, backoff_s=backoff_s)
            except Exception as err:
                reason = str(err) if isinstance(err, SendFailed | loaders.OpsDataError) else (
                    f"{type(err).__name__}: {_reason(err)}" if r.channel == "email" else type(err).__name__)
                failed.append(f"{r.label}: {reason}")
                if store is not None and not dry_run:
                    with contextlib.suppress(StoreError):  # the failure is printed either way
                        store.record_send(kind, day, r.key, r.channel, status="failed", detail=reason)
                        if claimed:  # the next run tries again
                            store.release_send(kind, day, r.key, r.channel)
                continue
            out(f"sent to {r.label}: “{digest.subject}”" + (f" after {tries} attempts" if tries > 1 else ""))
            if store is not None:
                try:
                    store.record_send(kind, day, r.key, r.channel, status="sent", detail=f"{tries} attempt(s)")
                except StoreError as err:
                    failed.append(f"{r.label}: sent, but the send log could not record it ({err}): a rerun "
                                  "would send it again")
        for problem in failed:
            out(f"FAILED {problem}")
        return 1 if failed else 0
    finally:
        if store is not None:
            store.dispose()


def refresh_rollup(settings: Settings, out: Callable[[str], None]) -> None:
    """Bring the roll-up up to date, as the app does; a failure is said and the roll-up is used as it is."""
    source = loaders.engine_for(settings)
    try:
        loaders.refresh_rollup(source, settings, target=loaders.rollup_engine(source, settings))
    except loaders.OpsDataError as err:
        out(f"warning: the roll-up could not be refreshed ({err}); using it as it is")
    finally:
        source.dispose()


def _weekly_deck(settings: Settings, day: date, user: User) -> bytes:
    from reports.weekly import build_weekly_deck, load_weekly_data

    data = load_weekly_data(settings, day - timedelta(days=6), day, refresh=False, user=user)
    return build_weekly_deck(data)[0]


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--day must be a date as YYYY-MM-DD, got {text!r}") from None


def _address(text: str) -> str:
    text = text.strip()
    if text.count("@") != 1 or any(c in text for c in " ,;<>\r\n"):
        raise argparse.ArgumentTypeError(f"--to must be one e-mail address, got {text!r}")
    return text


def _webhook(text: str) -> str:
    if not text.startswith(("https://", "http://")):
        raise argparse.ArgumentTypeError("--webhook must be a web address starting with https://")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.digest", description=__doc__.splitlines()[0])
    parser.add_argument("--day", required=True, type=_iso_date, help="the stand-up day, YYYY-MM-DD")
    parser.add_argument("--to", action="append", default=[], type=_address, metavar="ADDRESS",
                        help="send to this address (repeatable) instead of the subscriptions")
    parser.add_argument("--webhook", action="append", default=[], type=_webhook, metavar="URL",
                        help="post to this Slack/Teams-compatible webhook (repeatable)")
    parser.add_argument("--as", dest="as_user", metavar="USER", help="whose view a --webhook gets ([roles])")
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent to whom; send nothing")
    parser.add_argument("--force", action="store_true", help="send even when the send log says it went out")
    parser.add_argument("--deck", action="store_true", help="attach the weekly deck of the 7 days ending --day")
    parser.add_argument("--no-refresh", action="store_true", help="read the roll-up as it is")
    parser.add_argument("--cadence", choices=("daily", "weekly"), default="daily",
                        help="which subscriptions to send to (weekly: with the weekly deck attached)")
    args = parser.parse_args(argv)
    settings = command_settings()
    if settings is None:
        return 1
    return run(settings, args.day, to=args.to, webhooks=args.webhook, as_user=args.as_user, dry_run=args.dry_run,
               force=args.force, deck=args.deck, cadence=args.cadence, refresh=not args.no_refresh)


if __name__ == "__main__":
    sys.exit(main())
