"""The stand-up digest against a real local SMTP server (aiosmtpd) and a local HTTP receiver for webhooks:
the received MIME message is parsed and checked against the stand-up's own numbers; reruns, partners and
faults (SMTP down, a 500, a 404, a timeout) behave."""

from __future__ import annotations

import email
import email.policy
import http.server
import re
import threading
import time
import urllib.parse
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

import loaders
from reports.digest import build_digest, digest_context, main, run
from sample_data.generate import VENDOR_SITES
from store import AppStore
from tests.conftest import ADMIN, PARTNER, ROLES_CONFIG, SAMPLE_END
from tests.e2e.conftest import free_port

DAY = SAMPLE_END
OTHER_SITES = [s for s in VENDOR_SITES if s != "Manila"]


class Inbox:
    """An aiosmtpd handler keeping every message; ``refuse`` answers the next N with a temporary failure."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture()
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        status = server.statuses.pop(0) if server.statuses else 200
        if status == "slow":
            time.sleep(2.5)  # longer than the digest's timeout: the request times out
            status = 200
        server.requests.append((status, body))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def hook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.statuses, server.requests = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    yield server
    server.shutdown()


@pytest.fixture()
def settings_for(sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings of a deployment with roles, its SMTP server on ``port``."""
    def make(port: int) -> loaders.Settings:
        config = tmp_path / "ops.toml"
        config.write_text(ROLES_CONFIG + f'\n[smtp]\nurl = "smtp://127.0.0.1:{port}"\nfrom = "ops@example.com"\n'
                          'starttls = false\ntimeout_s = 1\n[digest]\nbase_url = "https://ops.example.com"\n'
                          'webhook_hosts = ["127.0.0.1"]\n')
        monkeypatch.setenv("OPS_CONFIG", str(config))
        monkeypatch.setenv("OPS_DB_URL", f"sqlite:///{sample_db}")
        return loaders.load_settings()
    return make


def _texts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def test_the_digest_states_the_standups_numbers_with_charts_and_links(chart_browser, inbox, settings_for):
    from ui import standup as su

    settings = settings_for(inbox.port)
    lines: list[str] = []
    assert run(settings, DAY, to=[ADMIN], retries=1, backoff_s=0, out=lines.append) == 0, lines
    [message] = inbox.messages
    assert message["Subject"].startswith("Identity Ops stand-up · Tue 30 Jun 2026")
    assert message["To"] == ADMIN and message["From"] == "ops@example.com"
    text, body = _texts(message)
    ctx = digest_context(settings, settings.access.user(ADMIN))
    from loaders import Filters
    tiles = su.standup_tiles(ctx, Filters(DAY, DAY), DAY)
    for tile in tiles:  # the page's tiles, number for number
        assert f"{tile.kpi.label}: {tile.kpi.format(tile.value)} (" in text
        assert f">{tile.kpi.format(tile.value)}<" in body
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2 and all(p.get_content().startswith(b"\x89PNG\r\n\x1a\n") for p in images)
    assert all(p.get_content_disposition() == "inline" and "@" in p["Content-ID"] for p in images)
    assert {f"cid:{p['Content-ID'].strip('<>')}" for p in images} <= set(re.findall(r"src='(cid:[^']+)'", body))
    items, _ = su.day_anomalies(ctx, Filters(DAY, DAY), DAY)
    links = re.findall(r"href='(https://ops\.example\.com/drilldown\?[^']+)'", body)
    assert items and len(links) == len(items)
    for item, link in zip(items, links, strict=True):  # each link opens that item's drill-down
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link.replace("&amp;", "&")).query))
        assert query == item.params and query["day"] == DAY.isoformat()


def test_a_rerun_for_the_same_day_sends_nothing_unless_forced(inbox, settings_for):
    settings = settings_for(inbox.port)
    out: list[str] = []
    for _ in range(2):
        assert run(settings, DAY, to=[ADMIN], images=False, retries=1, backoff_s=0, out=out.append) == 0
    assert len(inbox.messages) == 1 and any("went out already" in line for line in out)
    assert run(settings, DAY, to=[ADMIN], images=False, force=True, retries=1, backoff_s=0, out=out.append) == 0
    assert len(inbox.messages) == 2
    assert run(settings, date(2026, 6, 29), to=[ADMIN], images=False, retries=1, backoff_s=0, out=out.append) == 0
    assert len(inbox.messages) == 3  # another day is another digest


def test_a_partners_digest_holds_only_its_sites(inbox, settings_for, app_db):
    settings = settings_for(inbox.port)
    store = AppStore(app_db)
    store.add_subscription(email=PARTNER, channel="email", target=PARTNER, created_by=ADMIN)
    store.dispose()
    assert run(settings, DAY, images=False, retries=1, backoff_s=0, out=lambda _l: None) == 0  # the subscription
    [message] = inbox.messages
    assert message["To"] == PARTNER
    raw = message.as_string() + "".join(_texts(message))
    assert "Vendor site: Manila" in message["Subject"]
    assert not [s for s in OTHER_SITES if s in raw]
    mine = build_digest(digest_context(settings, settings.access.user(PARTNER)), DAY, images=False)
    admin = build_digest(digest_context(settings, settings.access.user(ADMIN)), DAY, images=False)
    incoming = {t.kpi.name: t.value for t in mine.tiles}["incoming"]
    assert 0 < incoming < {t.kpi.name: t.value for t in admin.tiles}["incoming"]


def test_smtp_down_fails_that_recipient_and_never_blocks_the_webhook(hook, settings_for):
    settings = settings_for(free_port())  # nothing listens there
    out: list[str] = []
    status = run(settings, DAY, to=[ADMIN], webhooks=[hook.url], as_user=PARTNER, images=False, retries=2,
                 backoff_s=0, out=out.append)
    assert status == 1
    assert any(line.startswith(f"FAILED {ADMIN}: SMTP to 127.0.0.1:") and "after 2 attempts" in line for line in out)
    [(code, body)] = hook.requests
    assert code == 200 and b"Identity Ops stand-up" in body and not [s for s in OTHER_SITES if s.encode() in body]
    assert not any("secret" in line for line in out)  # a webhook's path is its secret: never printed


def test_temporary_failures_are_retried_and_refusals_are_not(inbox, hook, settings_for):
    settings = settings_for(inbox.port)
    inbox.refuse = 1  # 451 once, then accepted
    out: list[str] = []
    assert run(settings, DAY, to=[ADMIN], images=False, retries=3, backoff_s=0, out=out.append) == 0
    assert len(inbox.messages) == 1 and any("after 2 attempts" in line for line in out)
    hook.statuses = [500, 500, 200]
    assert run(settings, DAY, webhooks=[hook.url], as_user=ADMIN, images=False, retries=3, backoff_s=0,
               out=out.append) == 0
    assert [c for c, _b in hook.requests] == [500, 500, 200]
    hook.requests.clear()
    hook.statuses = [404]
    assert run(settings, date(2026, 6, 29), webhooks=[hook.url], as_user=ADMIN, images=False, retries=3,
               backoff_s=0, out=out.append) == 1
    assert [c for c, _b in hook.requests] == [404]  # a refusal is not tried again
    hook.requests.clear()
    hook.statuses = ["slow", "slow"]
    assert run(settings, date(2026, 6, 28), webhooks=[hook.url], as_user=ADMIN, images=False, retries=2,
               backoff_s=0, out=out.append) == 1
    assert any("timed out" in line for line in out)


def test_dry_run_says_who_would_get_what_and_sends_nothing(inbox, settings_for, capsys):
    settings_for(inbox.port)
    assert main(["--day", DAY.isoformat(), "--to", ADMIN, "--to", PARTNER, "--to", "stranger@elsewhere.example",
                 "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert f"would send to {ADMIN} (email, sees everything)" in out
    assert f"would send to {PARTNER} (email, sees vendor site: Manila)" in out.replace("Vendor", "vendor")
    assert "FAILED stranger@elsewhere.example: has no role" in out
    assert inbox.messages == []


@pytest.mark.parametrize(("argv", "message"), [
    (["--day", "2026-13-01"], "--day must be a date as YYYY-MM-DD"),
    (["--day", "2026-06-30", "--to", "a@b.example, c@d.example"], "--to must be one e-mail address"),
    (["--day", "2026-06-30", "--webhook", "ftp://x"], "--webhook must be a web address"),
])
def test_bad_arguments_exit_2_with_the_rule(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_digests_page_subscribes_oneself_and_previews_ones_own_view(signed_in, app_db):
    at = signed_in("pages/digests.py", as_=PARTNER)
    assert not at.exception
    assert at.text_input[0].value == PARTNER and at.text_input[0].disabled  # a partner subscribes only itself
    preview = " ".join(h.proto.body for h in at.get("html"))
    assert "Stand-up ·" in preview and "Vendor site: Manila only" in preview
    assert not [s for s in OTHER_SITES if s in preview]
    at.text_input[1].input("https://hooks.slack.com/services/T1/B2/c3")
    at.segmented_control[0].set_value("webhook")
    next(b for b in at.button if b.label == "Subscribe").click().run()
    store = AppStore(app_db)
    try:
        [sub] = store.subscriptions()
        assert (sub.email, sub.channel, sub.cadence, sub.created_by) == (PARTNER, "webhook", "daily", PARTNER)
        store.add_subscription(email=ADMIN, channel="email", target=ADMIN, created_by=ADMIN)
    finally:
        store.dispose()
    again = signed_in("pages/digests.py", as_=PARTNER)  # another subscriber's entry is not listed to it
    assert ADMIN not in " ".join(m.value for m in again.main.markdown)
    admin = signed_in("pages/digests.py", as_=ADMIN)  # an admin sees and previews everyone's
    listed = " ".join(m.value for m in admin.main.markdown)
    assert "ops-lead" in listed and "vendor-manila" in listed


def test_an_alert_goes_out_once_per_incident_to_those_whose_severity_it_reaches(inbox, settings_for, app_db):
    from reports import alerts

    settings = settings_for(inbox.port)
    store = AppStore(app_db)
    store.add_subscription(email=ADMIN, channel="email", target=ADMIN, min_severity=3.0, created_by=ADMIN)
    store.add_subscription(email=PARTNER, channel="email", target=PARTNER, min_severity=3.0, created_by=ADMIN)
    store.add_subscription(email="quiet@example.com", channel="email", target="quiet@example.com",
                           min_severity=50.0, created_by=ADMIN)       # no incident is that severe
    store.add_subscription(email="digest@example.com", channel="email", target="digest@example.com",
                           created_by=ADMIN)                          # no severity floor: digests only
    store.dispose()
    out: list[str] = []
    assert alerts.run(settings, day=DAY, refresh=False, retries=1, backoff_s=0, out=out.append) == 0, out
    assert sorted(m["To"] for m in inbox.messages) == sorted([ADMIN, PARTNER])
    for message in inbox.messages:
        assert message["Subject"].startswith("Identity Ops alert · Incoming · brand impersonation at Manila")
        body = message.get_content()
        assert "https://ops.example.com/drilldown?" in body and "severity 6.2" in body
        if message["To"] == PARTNER:
            assert not [s for s in OTHER_SITES if s in message.as_string()]
    assert alerts.run(settings, day=DAY, refresh=False, retries=1, backoff_s=0, out=out.append) == 0
    assert len(inbox.messages) == 2  # the same incident is not sent twice


def test_a_day_the_data_has_not_reached_is_refused_and_not_logged(inbox, settings_for):
    settings = settings_for(inbox.port)
    out: list[str] = []
    assert run(settings, date(2026, 7, 1), to=[ADMIN], images=False, retries=1, backoff_s=0, out=out.append) == 1
    assert inbox.messages == [] and any("has not reached 2026-07-01" in line for line in out)
    # once it has (here: the day before), the digest goes out: the refusal did not count as a send
    assert run(settings, DAY, to=[ADMIN], images=False, retries=1, backoff_s=0, out=out.append) == 0
    assert len(inbox.messages) == 1


def test_an_email_digest_goes_only_to_its_subscribers_own_address(app_db, settings_for, inbox):
    from store import StoreError

    settings_for(inbox.port)
    store = AppStore(app_db)
    try:
        with pytest.raises(StoreError, match="own address"):
            store.add_subscription(email=ADMIN, channel="email", target=PARTNER, created_by=ADMIN)
    finally:
        store.dispose()


def test_two_subscribers_of_one_webhook_each_get_their_own_view(hook, settings_for, app_db, inbox):
    settings = settings_for(inbox.port)
    store = AppStore(app_db)
    store.add_subscription(email=ADMIN, channel="webhook", target=hook.url, created_by=ADMIN)
    store.add_subscription(email=PARTNER, channel="webhook", target=hook.url, created_by=ADMIN)
    store.add_subscription(email=ADMIN, channel="webhook", target="https://evil.example/collect", created_by=ADMIN)
    store.dispose()
    out: list[str] = []
    assert run(settings, DAY, images=False, retries=1, backoff_s=0, out=out.append) == 1  # the third is refused
    bodies = [b.decode() for _c, b in hook.requests]
    assert len(bodies) == 2 and sum("Vendor site: Manila" in b for b in bodies) == 1  # one each, not one for both
    assert any("host is not in [digest] webhook_hosts" in line for line in out)
    store = AppStore(app_db)
    try:
        logged = store.send_log()
        assert all("secret" not in row["recipient"] and "/services/" not in row["recipient"] for row in logged)
    finally:
        store.dispose()


def test_smtp_reply_codes_decide_what_is_tried_again(settings_for):
    from reports.digest import Refused, SendFailed, send_email

    class Server:
        """Answers RCPT with ``code`` ``times`` times, then accepts."""

        def __init__(self, code: int, times: int) -> None:
            self.code, self.times, self.seen = code, times, 0

        async def handle_RCPT(self, server, session, envelope, address, options):
            self.seen += 1
            if self.seen <= self.times:
                return f"{self.code} not now" if self.code < 500 else f"{self.code} no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ops@example.com", ADMIN, "x"
    message.set_content("x")
    for code, times, expect in ((450, 1, 2), (550, 1, None), (451, 5, "fail")):
        handler = Server(code, times)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        try:
            settings = settings_for(controller.port)
            if expect == 2:
                assert send_email(settings, message, retries=3, backoff_s=0) == 2  # greylisted once
            elif expect is None:
                with pytest.raises(Refused, match="550"):
                    send_email(settings, message, retries=3, backoff_s=0)
                assert handler.seen == 1  # a permanent refusal is not tried again
            else:
                with pytest.raises(SendFailed, match="after 3 attempts"):
                    send_email(settings, message, retries=3, backoff_s=0)
        finally:
            controller.stop()


def test_chat_text_cannot_ping_a_channel_or_make_a_link():
    from reports.digest import chat_text

    assert chat_text("<!channel> see <https://evil.example|here> & more") == (
        "&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more")


def test_the_commands_read_the_secrets_file(tmp_path):
    from loaders.settings import secrets_file, settings_from_mapping

    path = tmp_path / "secrets.toml"
    path.write_text('[smtp]\nurl = "smtp://ops:s3cr%2Fet@mail.example.com:587"\n')
    secrets = secrets_file(path)
    settings = loaders.load_settings(secrets, environ={})
    assert settings.delivery.smtp_url == "smtp://ops:s3cr%2Fet@mail.example.com:587"
    with pytest.raises(loaders.ConfigError) as err:  # a bad URL from secrets: said without its password
        settings_from_mapping({}, url=None, url_source="t", smtp_url="smtp://ops:s3cr3t@mail example.com")
    assert "s3cr3t" not in str(err.value)


def test_the_scheduler_runs_each_job_on_the_teams_clock(settings_for, inbox, monkeypatch):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from apscheduler.schedulers.background import BackgroundScheduler

    from reports.scheduler import schedule

    settings = settings_for(inbox.port)
    settings = settings.__class__(**{**settings.__dict__, "business_timezone": "America/Chicago"})
    calls: list[tuple] = []
    scheduler = schedule(BackgroundScheduler(), settings,
                         send=lambda s, day, **kw: calls.append(("send", day, kw.get("cadence", "daily"))) or 0,
                         alert=lambda s, **kw: calls.append(("alert",)) or 0)
    zone = ZoneInfo("America/Chicago")
    now = datetime(2026, 12, 3, 7, 0, tzinfo=zone)  # a Thursday, 07:00 in Chicago
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert jobs["daily"].trigger.get_next_fire_time(None, now) == datetime(2026, 12, 3, 8, 30, tzinfo=zone)
    assert jobs["weekly"].trigger.get_next_fire_time(None, now) == datetime(2026, 12, 7, 8, 30, tzinfo=zone)
    assert jobs["alerts"].trigger.interval.total_seconds() == 5 * 60
    monkeypatch.setenv("OPS_NOW", "2026-12-03T14:30:00")  # 08:30 in Chicago: the digest reports Wednesday
    for job_id in ("daily", "weekly", "alerts"):
        jobs[job_id].func()
    assert calls == [("send", date(2026, 12, 2), "daily"), ("send", date(2026, 12, 2), "weekly"), ("alert",)]
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())  # never overlaps itself


def test_the_weekly_digest_carries_the_weekly_deck_of_the_recipients_scope(chart_browser, inbox, settings_for,
                                                                           app_db):
    import io

    from pptx import Presentation

    settings = settings_for(inbox.port)
    store = AppStore(app_db)
    store.add_subscription(email=PARTNER, channel="email", target=PARTNER, cadence="weekly", created_by=ADMIN)
    store.dispose()
    assert run(settings, DAY, cadence="weekly", images=False, retries=1, backoff_s=0, out=lambda _l: None) == 0
    [message] = inbox.messages
    [deck] = [p for p in message.iter_attachments() if p.get_filename().endswith(".pptx")]
    prs = Presentation(io.BytesIO(deck.get_content()))
    text = "\n".join([sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame]
                     + [s.notes_slide.notes_text_frame.text for s in prs.slides])
    assert len(prs.slides) > 5 and "24 Jun 2026 – 30 Jun 2026" in text and "Vendor site: Manila" in text
    assert not [s for s in OTHER_SITES if s in text]
    # the daily run of the same day is another digest: the weekly one did not use up its send
    assert run(settings, DAY, to=[PARTNER], images=False, retries=1, backoff_s=0, out=lambda _l: None) == 0
    assert len(inbox.messages) == 2


def test_a_teams_webhook_gets_markdown_links_and_slack_its_own():
    from reports.digest import for_receiver

    slack = {"text": "*Identity Ops stand-up · Tue 30 Jun 2026*\n"
                     "• <https://ops.example.com/drilldown?kpi=incoming|bad · severity 6.2> web form explains 96 %\n"
                     "<https://ops.example.com/?day=2026-06-30|Open the stand-up>"}
    assert for_receiver("https://hooks.slack.com/services/T/B/x", slack) == slack
    teams = for_receiver("https://contoso.webhook.office.com/webhookb2/abc", slack)["text"]
    assert teams.startswith("**Identity Ops stand-up · Tue 30 Jun 2026**\n\n")
    assert "[bad · severity 6.2](https://ops.example.com/drilldown?kpi=incoming)" in teams
    assert "[Open the stand-up](https://ops.example.com/?day=2026-06-30)" in teams and "<http" not in teams
