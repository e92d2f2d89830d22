"""Concurrency: N sessions at once against ONE app server — script time per session, server RSS, client CPU.

Usage::

    python bench/bench_load.py                  # 20 sessions on the built-in sample (built first if missing)
    python bench/bench_load.py --small          # quick check on the small sample (150 days, built in a temp dir)
    python bench/bench_load.py --sessions 20 --runs 3 --trends-runs 1 --port auto --db sqlite:////path/ops.sqlite
    python bench/bench_load.py --spread 30 --think 5   # arrivals over 30 s, 5 s between a session's runs

What it does: starts ``streamlit run app.py`` on a free port, waits for ``/_stcore/health`` == ``ok``, warms
the server with one session (its first run is the *cold* figure: first session after start), then opens
``--sessions`` sessions at once and has each run the stand-up page (``app.py``) ``--runs`` times (first run,
then reruns) and the Trends page ``--trends-runs`` times, back to back with no think time — everyone opening
the stand-up at 9:00. The server is stopped at the end.

The client is not a browser: it speaks Streamlit's own websocket protocol (``/_stcore/stream``, read from
``streamlit/web/server/starlette/starlette_websocket.py`` and ``runtime/app_session.py``). Each run sends a
``BackMsg.rerun_script`` ``ClientState`` as the browser does (query string, page script hash, context info,
the hashes of the cacheable messages it already holds) and reads ``ForwardMsg``s until ``script_finished``.
Widget states are sent empty, so every run draws the page's default view.

Figures:

* **client** time: rerun sent -> ``script_finished`` received (the server's run plus loopback and queueing);
* **server** time: the script runner's own ``exec_time`` from the ``page_profile`` message, which Streamlit
  emits when ``browser.gatherUsageStats`` is on. It is switched on for the bench server only (command-line
  flag); nothing leaves the machine — only a browser forwards page profiles. ``--no-server-timing`` skips it;
* **RSS**: ``VmHWM`` / ``VmRSS`` from ``/proc/<pid>/status`` of the streamlit process and its children,
  sampled every 0.2 s (peak = the larger of the summed VmHWM and the largest summed VmRSS sample);
* **CPU**: the load client's own CPU (``resource.getrusage``) and the server's (``/proc/<pid>/stat``) over
  the concurrent phase, as a share of one core, to show the client is not the bottleneck.

Targets (printed beside the figures): stand-up p95 <= 3 s with 20 concurrent sessions, RSS <= 1 GB, on a
2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P95_S = 3.0
TARGET_RSS_BYTES = 1 << 30  # 1 GB (GiB)
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


# ---------------------------------------------------------------------------------------------- pure helpers

def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    if not 0 <= q <= 100:
        raise ValueError(f"`q` must be in [0, 100], got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p95, max) of ``values``; NaNs when empty."""
    if not values:
        return (float("nan"),) * 3
    return percentile(values, 50), percentile(values, 95), max(values)


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ---------------------------------------------------------------------------------------------- the client

@dataclass
class Run:
    """One script run as the client saw it."""

    page: str
    index: int  # 0 = the session's first run of this page
    client_s: float  # rerun sent -> script_finished
    start_s: float  # rerun sent -> new_session received (sent when the script starts)
    server_s: float | None  # page_profile.exec_time
    messages: int
    bytes: int
    errors: list[str] = field(default_factory=list)


class Session:
    """A browser tab reduced to its websocket: sends reruns, reads ForwardMsgs until ``script_finished``."""

    def __init__(self, ws: ClientConnection, base_url: str, timeout: float) -> None:
        self.ws = ws
        self.base_url = base_url
        self.timeout = timeout
        self.cached: set[str] = set()  # hashes of cacheable messages the "browser" holds
        self.pages: dict[str, str] = {}  # url_pathname -> page_script_hash, from new_session

    async def run(self, page: str, index: int, *, query: str = "") -> Run:
        """Run ``page`` ("" = the home page) and wait for it to finish."""
        if page and page not in self.pages:
            raise RuntimeError(f"the app has no page {page!r}; pages: {sorted(self.pages)}")
        wanted = self.pages.get(page, "")
        state = ClientState(query_string=query, page_script_hash=wanted, page_name="",
                            context_info=ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US",
                                                     url=f"{self.base_url}/{page}", is_embedded=False,
                                                     color_scheme="light"))
        state.cached_message_hashes.extend(sorted(self.cached))
        sent = time.perf_counter()
        await self.ws.send(BackMsg(rerun_script=state).SerializeToString())
        started = server = None
        messages = size = 0
        errors: list[str] = []
        async with asyncio.timeout(self.timeout):
            while True:
                data = await self.ws.recv()
                messages += 1
                size += len(data)
                msg = ForwardMsg.FromString(data)
                if msg.metadata.cacheable and msg.hash:
                    self.cached.add(msg.hash)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    started = started or time.perf_counter()
                    self.pages = {p.url_pathname: p.page_script_hash for p in msg.new_session.app_pages}
                    if wanted and msg.new_session.page_script_hash != wanted:
                        errors.append(f"asked for page {page!r}, the server ran another")
                elif kind == "page_profile":
                    server = msg.page_profile.exec_time / 1e6
                elif kind == "page_not_found":
                    errors.append(f"page not found: {msg.page_not_found.page_name!r}")
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    what = element.WhichOneof("type")
                    if what == "exception":
                        errors.append(f"{element.exception.type}: {element.exception.message}")
                    elif what == "alert" and element.alert.format == element.alert.ERROR:
                        errors.append(f"st.error: {element.alert.body[:120]}")
                elif kind == "script_finished" and msg.script_finished in _DONE:
                    if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                        errors.append("compile error")
                    break
        done = time.perf_counter()
        return Run(page or "standup", index, done - sent, (started or done) - sent, server, messages, size, errors)


async def session_flow(url: str, *, runs: int, trends_runs: int, timeout: float,
                       go: asyncio.Event | None = None, delay: float = 0.0,
                       think: float = 0.0) -> tuple[list[Run], float]:
    """Connect, (wait for ``go``, then ``delay`` s), run the stand-up ``runs`` times and Trends ``trends_runs``
    times, ``think`` s apart."""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    async with connect(ws_url, subprotocols=[Subprotocol("streamlit")], max_size=None, ping_interval=None,
                       open_timeout=timeout, close_timeout=5) as ws:
        session = Session(ws, url, timeout)
        if go is not None:
            await go.wait()
        await asyncio.sleep(delay)
        start = time.perf_counter()
        out: list[Run] = []
        for page, count in (("", runs), ("trends", trends_runs)):
            for i in range(count):
                if out and think:
                    await asyncio.sleep(think)
                out.append(await session.run(page, i))
        return out, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- the server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from ``/proc/<pid>/task/*/children``."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def _status_kb(pid: int) -> dict[str, int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f)
                    if k in ("VmRSS", "VmHWM")}
    except OSError:
        return {}


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return 0


class ProcWatch(threading.Thread):
    """Samples RSS and CPU of a process tree every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.hwm_kb: dict[int, int] = {}  # per process, kept after it exits
        self.ticks: dict[int, int] = {}
        self.peak_rss_kb = 0
        self.rss_kb = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for p in _tree(self.pid):
            st = _status_kb(p)
            total += st.get("VmRSS", 0)
            self.hwm_kb[p] = max(self.hwm_kb.get(p, 0), st.get("VmHWM", 0))
            self.ticks[p] = max(self.ticks.get(p, 0), _cpu_ticks(p))
        self.rss_kb = total
        self.peak_rss_kb = max(self.peak_rss_kb, total)

    def cpu_s(self) -> float:
        self.sample()
        return sum(self.ticks.values()) / _CLK_TCK

    def peak_kb(self) -> int:
        return max(sum(self.hwm_kb.values()), self.peak_rss_kb)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def start_server(port: int, env: dict[str, str], log: Path, *, server_timing: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    if server_timing:
        cmd += ["--browser.gatherUsageStats", "true"]
    with log.open("w") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, *, timeout: float = 120) -> float:
    start = time.monotonic()
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return time.monotonic() - start
        except OSError:
            if proc.poll() is not None or time.monotonic() - start > timeout:
                raise RuntimeError(f"the app did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)  # polling a health endpoint


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------- report

def _row(label: str, runs: list[Run], attr: str = "client_s") -> str:
    client = [getattr(r, attr) for r in runs]
    server = [r.server_s for r in runs if r.server_s is not None] if attr == "client_s" else []
    c = summary(client)
    s = summary(server)
    srv = "  ".join(f"{v:6.2f}" for v in s) if server else "     -       -       -"
    return f"{label:<38}{len(client):>4}  " + "  ".join(f"{v:6.2f}" for v in c) + "   " + srv


def report(*, warm: list[Run], load: list[list[Run]], totals: list[float], wall: float, client_cpu: float,
           server_cpu: float, watch: ProcWatch, rss_after_warm: int, sessions: int, db: str,
           started_s: float) -> None:
    flat = [r for runs in load for r in runs]
    first = [r for r in flat if r.page == "standup" and r.index == 0]
    rerun = [r for r in flat if r.page == "standup" and r.index > 0]
    trends_first = [r for r in flat if r.page == "trends" and r.index == 0]
    trends_rerun = [r for r in flat if r.page == "trends" and r.index > 0]
    errors = sorted({e for r in [*warm, *flat] for e in r.errors})
    mib = 1024

    print(f"\n{sessions} concurrent sessions against one server ({db}); server healthy {started_s:.1f} s after start")
    print(f"{'seconds':<38}{'n':>4}  {'client p50':>10} {'p95':>7} {'max':>7}   {'server p50':>10} {'p95':>7} "
          f"{'max':>7}")
    print(_row("cold: 1st session, stand-up 1st run", [r for r in warm if r.page == "standup" and r.index == 0]))
    print(_row("cold: 1st session, stand-up reruns", [r for r in warm if r.page == "standup" and r.index > 0]))
    if any(r.page == "trends" for r in warm):
        print(_row("cold: 1st session, Trends 1st run", [r for r in warm if r.page == "trends" and r.index == 0]))
    print(_row(f"{sessions} sessions: stand-up 1st run", first))
    print(_row("  of which until new_session arrived", first, "start_s"))
    print(_row(f"{sessions} sessions: stand-up reruns", rerun))
    if trends_first:
        print(_row(f"{sessions} sessions: Trends 1st run", trends_first))
    if trends_rerun:
        print(_row(f"{sessions} sessions: Trends reruns", trends_rerun))
    t = summary(totals)
    print(f"{'session total (all its runs)':<38}{len(totals):>4}  " + "  ".join(f"{v:6.2f}" for v in t))
    per_run = [r.bytes for r in first]
    print(f"stand-up 1st run: {sum(r.messages for r in first) / max(len(first), 1):.0f} messages, "
          f"{sum(per_run) / max(len(per_run), 1) / 1e6:.2f} MB per session; rerun "
          f"{sum(r.bytes for r in rerun) / max(len(rerun), 1) / 1e6:.2f} MB (cached messages sent as refs)")
    peak = watch.peak_kb()
    print(f"server RSS (streamlit + {len(watch.hwm_kb) - 1} child processes): after warm-up "
          f"{rss_after_warm / mib:.0f} MiB, peak {peak / mib:.0f} MiB, end {watch.rss_kb / mib:.0f} MiB")
    print(f"CPU over the concurrent phase ({wall:.1f} s wall): server {server_cpu / wall:.2f} cores, "
          f"load client {client_cpu / wall:.2f} of one core ({client_cpu:.1f} s CPU)")
    if errors:
        print(f"errors seen in the runs ({len(errors)} distinct): " + " | ".join(errors[:5]))
    print(f"at {datetime.now():%Y-%m-%d %H:%M} on {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f})")
    p95 = percentile([r.client_s for r in first], 95)
    server_p95 = percentile([r.server_s for r in first if r.server_s is not None], 95)
    print(f"target stand-up p95 <= {TARGET_P95_S:.0f} s ({sessions} concurrent, 1st run, client-side): "
          f"{p95:.2f} s — {met(p95 <= TARGET_P95_S)} (server exec_time p95 {server_p95:.2f} s)")
    print(f"target RSS <= 1 GB (peak, server + children): {peak / mib:.0f} MiB — "
          f"{met(peak * 1024 <= TARGET_RSS_BYTES)}")
    print(f"check: load client below half a core: {client_cpu / wall:.2f} — {met(client_cpu / wall < 0.5)}")


# ---------------------------------------------------------------------------------------------- main

def _db_env(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, str], str]:
    env = dict(os.environ)
    env.pop("OPS_CONFIG", None)
    env.pop("OPS_SAMPLE_SIZE", None)
    if args.db:
        url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
        env["OPS_DB_URL"] = url
        return env, url.split("@")[-1]
    from loaders import SAMPLE_DB_PATH
    from sample_data import SampleConfig
    from sample_data.build import build_sample

    if args.small:
        path = tmp / "ops_small.sqlite"
        start = time.perf_counter()
        build_sample(path, config=SampleConfig.small())
        print(f"small sample built in {time.perf_counter() - start:.1f} s")
        env["OPS_DB_URL"] = f"sqlite:///{path}"
        return env, "small sample"
    env.pop("OPS_DB_URL", None)
    if not SAMPLE_DB_PATH.exists():  # the app would build it on its first run: keep that out of the timings
        start = time.perf_counter()
        build_sample(SAMPLE_DB_PATH)
        print(f"default sample built in {time.perf_counter() - start:.1f} s")
    return env, f"default sample, {SAMPLE_DB_PATH.stat().st_size / 1e6:.0f} MB SQLite"


async def _load(url: str, args: argparse.Namespace) -> tuple[list[list[Run]], list[float], float, float]:
    go = asyncio.Event()
    # arrivals spread evenly over --spread seconds (0: all at once, the 9:00 rush)
    tasks = [asyncio.create_task(session_flow(url, runs=args.runs, trends_runs=args.trends_runs,
                                              timeout=args.timeout, go=go, think=args.think,
                                              delay=i * args.spread / args.sessions))
             for i in range(args.sessions)]
    await asyncio.sleep(1.0)  # let every session connect before the 9:00 rush
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    go.set()
    results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return [r for r, _ in results], [t for _, t in results], wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="stand-up runs per session (1st + reruns)")
    parser.add_argument("--trends-runs", type=int, default=1, help="Trends runs per session after the stand-up")
    parser.add_argument("--port", default="auto", help="'auto' = a free port")
    parser.add_argument("--db", help="SQLAlchemy URL (or SQLite path) of the source (default: the built-in sample)")
    parser.add_argument("--small", action="store_true", help="the small sample, built in a temp dir")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per script run")
    parser.add_argument("--spread", type=float, default=0.0,
                        help="seconds over which the sessions arrive, evenly (default 0: all at once)")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a session pauses between its runs")
    parser.add_argument("--no-server-timing", dest="server_timing", action="store_false",
                        help="do not switch on page_profile (the server's own exec_time)")
    args = parser.parse_args()
    if args.sessions < 1 or args.runs < 1 or args.trends_runs < 0:
        parser.error("--sessions and --runs must be >= 1, --trends-runs >= 0")

    with tempfile.TemporaryDirectory() as tmp:
        env, db = _db_env(args, Path(tmp))
        port = _free_port() if args.port == "auto" else int(args.port)
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "streamlit.log"
        proc = start_server(port, env, log, server_timing=args.server_timing)
        watch = ProcWatch(proc.pid)
        watch.start()
        try:
            started_s = wait_healthy(url, proc, log)
            warm, _ = asyncio.run(session_flow(url, runs=args.runs, trends_runs=args.trends_runs,
                                               timeout=args.timeout))
            watch.sample()
            rss_after_warm = watch.rss_kb
            cpu0 = watch.cpu_s()
            load, totals, wall, client_cpu = asyncio.run(_load(url, args))
            server_cpu = watch.cpu_s() - cpu0
            time.sleep(1.0)  # sessions closed: let the server drop what it frees at once
            watch.sample()
        finally:
            watch.stop()
            stop_server(proc)
        if any(r.errors for r in [*warm, *(r for runs in load for r in runs)]):
            print(f"server log (tail):\n{log.read_text()[-2000:]}")
    if args.spread or args.think:
        db += f"; arrivals over {args.spread:g} s, {args.think:g} s between runs"
    report(warm=warm, load=load, totals=totals, wall=wall, client_cpu=client_cpu, server_cpu=server_cpu,
           watch=watch, rss_after_warm=rss_after_warm, sessions=args.sessions, db=db, started_s=started_s)


if __name__ == "__main__":
    main()
