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
import html
import json
import logging
import os
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
from metrics.standup import format_change

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

    @property
    def label(self) -> str:
        if self.channel == "email":
            return self.target
        parts = urllib.parse.urlsplit(self.target)
        return f"webhook {parts.scheme}://{parts.netloc}/…"  # a webhook URL's path is its secret


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
    """The data context the stand-up page would have for ``user`` (the same engines, roll-up, scope)."""
    from ui.data import DataContext
    from ui.notes import events_version

    source = loaders.engine_for(settings)
    rollup = loaders.rollup_engine(source, settings)
    state = loaders.rollup_state(rollup, settings)
    if not state.rows:
        raise loaders.ConfigError("the roll-up is empty: there is no stand-up to send",
                                  hint="Open the dashboard once (it builds the roll-up) or load data.")
    version = f"{state.refreshed_at}|{state.max_day}|{state.rows}"
    return DataContext(settings, source, rollup, version, None, state,
                       loaders.available_measures(source, settings), user, events_version())


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
    week = format_change(tile.change_week, unit=tile.kpi.unit, against="last week")
    return value, week, tile.expected_text()


def _item_line(item, ctx) -> str:
    from metrics.drilldown import describe_slice

    spec = get_kpi(item.kpi)
    where = describe_slice(item.slice)  # the stand-up page's words for the slice
    arrow = "▲" if item.direction == "spike" else "▼"
    return (f"{'bad' if item.bad else 'good'} · severity {item.severity:.1f} · {spec.label} · {where} — {arrow} "
            f"{spec.format(item.observed)} vs {spec.format(item.expected)} expected")


def _site_rows(sites, flags, ctx) -> list[tuple[str, list[str], str]]:
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
        lines.append(f"  - {_item_line(item, ctx)}")
        if item.explanation:
            lines.append(f"    {item.explanation}")
        lines.append(f"    Drill down: {link}")
    lines += ["", ctx.plural(ctx.site_dim)]
    for site, cells, abnormal in _site_rows(sites, flags, ctx):
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
                     f"{_e(_item_line(item, ctx))}</b>{why}<br><a href='{_e(link)}'>Open the drill-down</a></p>")
    parts.append(f"<h3>{_e(ctx.plural(ctx.site_dim))}</h3>")
    head = "".join(f"<th style='{_CELL}'>{_e(h)}</th>" for h in (ctx.label(ctx.site_dim), *_SITE_HEAD, "Abnormal"))
    body = "".join(f"<tr><td style='{_CELL}'>{_e(site)}</td>" + "".join(f"<td style='{_CELL}'>{_e(c)}</td>"
                                                                      for c in cells)
                   + f"<td style='{_CELL}'>{_e(abnormal)}</td></tr>"
                   for site, cells, abnormal in _site_rows(sites, flags, ctx))
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


def _chat(day, tiles, items, links, summary, standup_link, who) -> dict:
    """A Slack-compatible message (``text`` with ``<url|label>`` links); Teams' incoming webhooks read
    ``text`` too."""
    lines = [f"*Identity Ops stand-up · {day:%a %d %b %Y}*" + (f" · {who}" if who else ""), summary]
    for item, link in zip(items, links, strict=True):
        lines.append(f"• <{link}|{'bad' if item.bad else 'good'} · severity {item.severity:.1f}> "
                     f"{item.explanation or ''}".rstrip())
    lines.append(f"<{standup_link}|Open the stand-up>")
    return {"text": "\n".join(lines)}


# ------------------------------------------------------------------------------------------ sending
def email_message(digest: Digest, *, sender: str, to: str, deck: bytes | None = None) -> EmailMessage:
    """The MIME message: plain text, then HTML with the charts inline (``cid:``), then the deck if any."""
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.split("@", 1)[1])
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    related = message.get_payload()[1]
    for cid, png in digest.images.items():
        related.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{cid}.png")
    if deck is not None:
        message.add_attachment(deck, maintype=PPTX_MIME[0], subtype=PPTX_MIME[1],
                               filename=f"identity-ops-weekly_{digest.day:%Y-%m-%d}.pptx")
    return message


def _retrying(action: Callable[[], None], *, retries: int, backoff_s: float, what: str) -> int:
    """Run ``action`` up to ``retries`` times, waiting ``backoff_s``, then twice that…; returns the attempts."""
    for attempt in range(1, retries + 1):
        try:
            action()
            return attempt
        except Refused:
            raise
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == retries:
                raise (Refused if err.code < 500 else SendFailed)(
                    f"{what} failed after {attempt} attempt{'s' if attempt > 1 else ''}: HTTP {err.code}") from None
            time.sleep(backoff_s * 2 ** (attempt - 1))
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as err:
            raise Refused(f"{what} refused: {_reason(err)}") from None
        except (OSError, smtplib.SMTPException, SendFailed) as err:
            if attempt == retries:
                raise SendFailed(f"{what} failed after {attempt} attempt{'s' if attempt > 1 else ''}: "
                                 f"{_reason(err)}") from None
            time.sleep(backoff_s * 2 ** (attempt - 1))  # backoff between retries of a failed send
    return retries


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code}"
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


def send_email(settings: Settings, message: EmailMessage, *, retries: int = 3, backoff_s: float = 2.0) -> int:
    """Send through ``[smtp]``; returns the attempts it took. Raises :class:`SendFailed`."""
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
        with kind(url.hostname, port, timeout=delivery.timeout_s) as smtp:
            if not secure and delivery.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, password)
            smtp.send_message(message)

    return _retrying(once, retries=retries, backoff_s=backoff_s, what=f"SMTP to {url.hostname}:{port}")


def post_webhook(url: str, payload: dict, *, timeout_s: float = 20.0, retries: int = 3,
                 backoff_s: float = 2.0) -> int:
    """POST the chat message as JSON; a 5xx, a timeout or a refused connection is retried. Returns the attempts."""
    body = json.dumps(payload).encode()

    def once() -> None:
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if response.status >= 300:
                raise SendFailed(f"HTTP {response.status}")

    host = urllib.parse.urlsplit(url).netloc
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
        if user is None:
            refused.append(f"webhook {urllib.parse.urlsplit(url).netloc}: pass --as USER for whose view it gets")
            continue
        out.append(Recipient(url, "webhook", user))
    for sub in subscriptions:
        if sub.cadence != cadence:
            continue
        user = user_of(sub.email)
        if user is None:
            refused.append(f"subscription of {sub.email}: has no role in [roles] any more; nothing sent")
            continue
        out.append(Recipient(sub.target, sub.channel, user, tuple(sub.kpis), float(sub.min_severity)))
    return out, refused


def run(settings: Settings, day: date, *, to: Sequence[str] = (), webhooks: Sequence[str] = (),
        as_user: str | None = None, dry_run: bool = False, force: bool = False, deck: bool = False,
        cadence: str = "daily", retries: int = 3, backoff_s: float = 2.0, images: bool = True,
        out: Callable[[str], None] = print) -> int:
    """Send (or, with ``dry_run``, list) the digest of ``day``; returns the exit status.

    ``cadence="weekly"`` sends to the weekly subscriptions, the weekly deck of the 7 days ending ``day``
    attached; the send log keeps daily and weekly digests apart."""
    kind = cadence
    deck = deck or cadence == "weekly"
    from store import AppStore, StoreError

    try:
        store: AppStore | None = AppStore(settings.app_db_url)
    except StoreError as err:
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
            try:
                if store is not None and not force and store.was_sent(kind, day, r.target, r.channel):
                    out(f"skip {r.label}: the digest of {day} went out already (--force sends it again)")
                    continue
                if r.user.scope not in contexts:
                    contexts[r.user.scope] = digest_context(settings, r.user)
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
                if store is not None:
                    store.record_send(kind, day, r.target, r.channel, status="sent", detail=f"{tries} attempt(s)")
                out(f"sent to {r.label}: “{digest.subject}”" + (f" after {tries} attempts" if tries > 1 else ""))
            except (SendFailed, loaders.OpsDataError, ValueError) as err:
                failed.append(f"{r.label}: {err}")
                if store is not None and not dry_run:
                    with contextlib.suppress(StoreError):  # the failure is printed either way
                        store.record_send(kind, day, r.target, r.channel, status="failed", detail=str(err))
        for problem in failed:
            out(f"FAILED {problem}")
        return 1 if failed else 0
    finally:
        if store is not None:
            store.dispose()


def _weekly_deck(settings: Settings, day: date, user: User) -> bytes:
    from charts.weekly import build_weekly_deck, load_weekly_data

    data = load_weekly_data(settings, day - timedelta(days=6), day, refresh=False,
                            scope=None if user.scope.everything else user.scope)
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
    parser.add_argument("--cadence", choices=("daily", "weekly"), default="daily",
                        help="which subscriptions to send to (weekly: with the weekly deck attached)")
    args = parser.parse_args(argv)
    # the app's caches, used here without a server, warn about that on every call: not news for a command
    logging.getLogger("streamlit.runtime.caching.cache_data_api").addFilter(
        lambda record: "No runtime found" not in record.getMessage())
    try:
        settings = loaders.load_settings()
    except loaders.OpsDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return run(settings, args.day, to=args.to, webhooks=args.webhook, as_user=args.as_user, dry_run=args.dry_run,
               force=args.force, deck=args.deck, cadence=args.cadence)


if __name__ == "__main__":
    sys.exit(main())
