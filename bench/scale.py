"""Benchmark: every page of riskreg at region scale (issue 15), served by gunicorn, under 16
concurrent clients, as an administrator and as a unit member, against a baseline measured in
the same run (``GET /login``).

    .venv/bin/python -m bench.scale                        # build riskreg_bench_scale, run, drop
    .venv/bin/python -m bench.scale --reuse                # keep the database; reuse it next time
    .venv/bin/python -m bench.scale --scale 0.05 --duration 3   # a quick try
    .venv/bin/python -m bench.scale --database-url postgresql+psycopg://postgres@host/db

1. The data set (``bench/scale_data.py``: 10,000 risks, 20,000 controls, 2,000 drawn samples
   of 60 items, 5,000 deviations and actions, 300,000 audit entries at ``--scale 1``) is
   written into a fresh database with bulk Core inserts, then ``ANALYZE``; the build time is
   printed. ``--database-url`` names the database (default ``riskreg_bench_scale`` on the
   local PostgreSQL); it is created, and dropped at the end unless ``--reuse`` is given
   (``--reuse`` skips the build when the database already holds the data set).
2. gunicorn (``-c python:riskreg.gunicorn_conf``, sync workers, ``2 × cores + 1`` by default)
   serves it on a free loopback port. The login throttle is off (``RATELIMIT_ENABLED=false``):
   the bench logs in twice, and several workers would otherwise need Redis.
3. Each role logs in once through the form (CSRF token and all); its session cookie is then
   shared by all its clients. Per page, ``--clients`` threads (keep-alive HTTP/1.1 from the
   standard library, so the client costs little of the two cores) send GETs for
   ``--duration`` seconds or until ``--requests`` requests, whichever comes first (each
   client sends at least one). The first request of each page is a warm-up, not counted.
4. The table: per page and role, the status codes, p50/p95/p99 in ms, requests/s, and the
   p95 and throughput as ratios to the baseline. A page that is not in the app's URL map yet
   (search, the API) is listed as "not built"; a page the role may not open (403) as "not
   allowed"; any other status than 200 is flagged ``ERROR``, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from bench.scale_data import ADMIN, MEMBER, PASSWORD, BuiltData, build

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/riskreg_bench_scale"
#: The client waits this much longer than gunicorn lets a request run.
CLIENT_GRACE = 30


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # may hold {plan}, {control}, {action}


#: The pages of issue 15, in its order. Search and the API do not exist yet: their addresses
#: are the expected ones, shown as "not built" until the app's URL map has them.
PAGES = (
    Page("dashboard", "/"),
    Page("plan", "/plans/{plan}"),
    Page("risk register", "/risks/"),
    Page("heat map", "/risks/heatmap"),
    Page("control list", "/controls/"),
    Page("control (60-item sample)", "/controls/{control}"),
    Page("sample of the control", "/sampling/controls/{control}"),
    Page("Mitt arbete", "/reminders/my-work"),
    Page("actions", "/controls/actions/"),
    Page("action", "/controls/actions/{action}"),
    Page("audit trail", "/audit/"),
    Page("reports", "/reports/"),
    Page("sampling index", "/sampling/"),
    Page("follow-up", "/reports/plans/{plan}/followup"),
    Page("plan export (xlsx)", "/plans/{plan}/export.xlsx"),
    Page("search", "/search?q=avtal"),
    Page("API: risks", "/api/risks"),
    Page("API: controls", "/api/controls"),
    Page("API: actions", "/api/actions"),
)
BASELINE = Page("baseline: GET /login", "/login")
#: What riskreg/permissions.py refuses a unit member (403): shown as "not allowed". A 403 on
#: any other page, or for the administrator, is flagged as an error.
MEMBER_NOT_ALLOWED = frozenset({"audit trail", "follow-up", "plan export (xlsx)"})


@dataclass
class Result:
    page: str
    role: str
    note: str = ""  # "not built", "not allowed", or empty when measured
    statuses: Counter[int] = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def skipped(self) -> bool:
        return self.note in ("not built", "not allowed")

    @property
    def ok(self) -> bool:
        return self.skipped or set(self.statuses) == {200}

    def percentile(self, q: float) -> float:
        ordered = sorted(self.times)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    @property
    def rate(self) -> float:
        return len(self.times) / self.wall if self.wall else float("nan")


# --- HTTP ------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection with a cookie jar of one session."""

    def __init__(self, port: int, cookie: str = "", timeout: float = 120) -> None:
        self.port = port
        self.cookie = cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, bytes, list[str]]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, payload, response.headers.get_all("Set-Cookie") or []
            except (ConnectionError, http.client.HTTPException):
                # The server closed a kept-alive connection between two requests.
                self.conn.close()
                if attempt == 2:
                    raise
            except TimeoutError:
                self.conn.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def _cookie_pairs(set_cookies: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for header in set_cookies:
        name, _, value = header.split(";", 1)[0].partition("=")
        pairs[name.strip()] = value.strip()
    return pairs


def log_in(port: int, username: str, password: str) -> str:
    """Log in through the form; returns the Cookie header of the session."""
    client = Client(port)
    status, body, cookies = client.request("GET", "/login")
    jar = _cookie_pairs(cookies)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', body
    )
    if status != 200 or not token:
        raise RuntimeError(f"GET /login gave {status} without a CSRF token")
    client.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, _, cookies = client.request(
        "POST",
        "/login",
        {"username": username, "password": password, "csrf_token": token.group(1).decode()},
    )
    jar.update(_cookie_pairs(cookies))
    client.close()
    if status != 302:
        raise RuntimeError(f"login as {username} gave {status}, not a redirect")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def drive(
    port: int,
    cookie: str,
    path: str,
    *,
    clients: int,
    duration: float,
    requests: int,
    timeout: float,
) -> tuple[Counter[int], list[float], float]:
    """``clients`` threads GET ``path`` until the time or the request budget is spent."""
    statuses: Counter[int] = Counter()
    times: list[float] = []
    lock = threading.Lock()
    budget = [requests or sys.maxsize]
    start = time.perf_counter()
    deadline = start + duration

    def run() -> None:
        client = Client(port, cookie, timeout + CLIENT_GRACE)
        first = True
        try:
            while first or time.perf_counter() < deadline:
                with lock:
                    if budget[0] <= 0 and not first:
                        return
                    budget[0] -= 1
                first = False
                began = time.perf_counter()
                try:
                    status, _, _ = client.request("GET", path)
                except OSError:  # timed out, or the worker was killed (status 0: no answer)
                    with lock:
                        statuses[0] += 1
                    return
                took = time.perf_counter() - began
                with lock:
                    statuses[status] += 1
                    times.append(took)
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, times, time.perf_counter() - start


# --- database and server -----------------------------------------------------------------------


def _admin_url(url: URL) -> URL:
    return url.set(database="postgres")


def prepare_database(url: URL, *, reuse: bool, scale: float) -> BuiltData | None:
    """Create (or reuse) the database and build the data set; None when reused as it was."""
    from riskreg import create_app
    from riskreg.extensions import db

    if url.get_backend_name() == "postgresql":
        engine = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
            )
            if exists and not reuse:
                conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            if not exists or not reuse:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        engine.dispose()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
        },
        instance_path=tempfile.mkdtemp(prefix="riskreg-bench-scale-"),
    )
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            has_users = engine.dialect.has_table(conn, "user") and conn.scalar(
                text('SELECT count(*) FROM "user" WHERE username = :u'), {"u": MEMBER}
            )
        if reuse and has_users:
            engine.dispose()
            return None
        db.drop_all()
        db.create_all()
        with engine.begin() as conn:
            built = build(conn, scale=scale)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    return built


def picked_ids(url: URL) -> dict[str, int]:
    """The ids of the pages with an id, read back from the data set (also after --reuse)."""
    from bench.scale_data import SAMPLE_SIZE

    engine = create_engine(url)
    with engine.connect() as conn:
        member_units = (
            "SELECT u.id FROM unit u JOIN user_unit m ON m.unit_id IN (u.id, u.parent_id) "
            'JOIN "user" p ON p.id = m.user_id WHERE p.username = :m'
        )
        plan = conn.scalar(
            text(
                "SELECT p.id FROM plan p WHERE p.status = 'adopted' AND EXISTS (SELECT 1 FROM "
                f"risk r WHERE r.plan_id = p.id AND r.responsible_unit_id IN ({member_units})) "
                "ORDER BY p.year DESC, p.id DESC LIMIT 1"
            ),
            {"m": MEMBER},
        )
        control = conn.scalar(
            text(
                "SELECT c.id FROM control c JOIN sample_draw d ON d.control_id = c.id "
                "AND NOT d.superseded JOIN risk r ON r.id = c.risk_id WHERE "
                f"c.responsible_unit_id IN ({member_units}) AND r.plan_id = :p AND "
                "(SELECT count(*) FROM sample_item i WHERE i.draw_id = d.id) = :n "
                "ORDER BY c.id LIMIT 1"
            ),
            {"m": MEMBER, "p": plan, "n": SAMPLE_SIZE},
        )
        action = conn.scalar(
            text(
                f"SELECT a.id FROM action a WHERE a.owner_unit_id IN ({member_units}) "
                "ORDER BY a.id LIMIT 1"
            ),
            {"m": MEMBER},
        )
    engine.dispose()
    if not (plan and control and action):
        raise RuntimeError("the data set has no plan, sampled control or action for the member")
    return {"plan": plan, "control": control, "action": action}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: URL, workers: int, port: int, log: Path, timeout: float
) -> subprocess.Popen[bytes]:
    instance = tempfile.mkdtemp(prefix="riskreg-bench-instance-")
    env = {
        **os.environ,
        "RISKREG_DATABASE_URL": url.render_as_string(hide_password=False),
        "RISKREG_INSTANCE_PATH": instance,
        "RISKREG_SECRET_KEY": "bench-scale-secret",
        "RISKREG_RATELIMIT_ENABLED": "false",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:riskreg.gunicorn_conf",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        # gunicorn ends a request that runs longer (its worker is restarted), before the
        # client gives up: so an unanswered request does not keep a worker busy while the
        # next page is measured.
        "--timeout",
        str(max(1, int(timeout))),
        "riskreg:create_app()",
    ]
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    until = time.monotonic() + 60
    while time.monotonic() < until:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped: {log.read_text(errors='replace')[-2000:]}")
        probe = Client(port)
        try:
            status, _, _ = probe.request("GET", "/login")
            if status == 200:
                return server
        except OSError:
            time.sleep(0.2)
        finally:
            probe.close()
    server.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


# --- the run ---------------------------------------------------------------------------------


def measure(
    port: int, ids: dict[str, int], args: argparse.Namespace
) -> tuple[Result, list[Result]]:
    from riskreg import create_app

    # The URL map of the app being served tells which pages exist yet.
    adapter = create_app(
        {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"},
        instance_path=tempfile.mkdtemp(prefix="riskreg-bench-map-"),
    ).url_map.bind("localhost")

    def built(path: str) -> bool:
        return _exists(adapter, path)

    def run(page: Page, role: str, cookie: str) -> Result:
        result = Result(page.name, role)
        path = page.path.format(**ids)
        if not built(path):
            result.note = "not built"
            return result
        warm = Client(port, cookie, args.timeout + CLIENT_GRACE)
        began = time.perf_counter()
        try:
            status, _, _ = warm.request("GET", path)
        except OSError:
            result.statuses[0] += 1
            result.note = f"no answer within {args.timeout:g} s"
            return result
        finally:
            warm.close()
        took = time.perf_counter() - began
        if status == 403 and role == "unit member" and page.name in MEMBER_NOT_ALLOWED:
            result.note = "not allowed"
            return result
        if took > args.slow:
            # 16 clients of a page this slow would take minutes and say no more than this.
            result.statuses[status] += 1
            result.times, result.wall = [took], took
            result.note = f"one request only: {took:.1f} s > --slow {args.slow:g} s"
            return result
        result.statuses, result.times, result.wall = drive(
            port,
            cookie,
            path,
            clients=args.clients,
            duration=args.duration,
            requests=args.requests,
            timeout=args.timeout,
        )
        return result

    baseline = run(BASELINE, "anonymous", "")
    if args.verbose:
        print(_row(baseline, baseline), flush=True)
    results = []
    for role, username in (("admin", ADMIN), ("unit member", MEMBER)):
        cookie = log_in(port, username, PASSWORD)
        for page in PAGES:
            result = run(page, role, cookie)
            results.append(result)
            if args.verbose:
                print(_row(result, baseline), flush=True)
    return baseline, results


def _exists(adapter: Any, path: str) -> bool:
    from werkzeug.exceptions import NotFound

    try:
        adapter.match(path.split("?")[0], method="GET")
    except NotFound:
        return False
    except Exception:  # a redirect to the slash form, or another method: the page is there
        return True
    return True


def _row(r: Result, base: Result) -> str:
    if r.skipped or not r.times:
        flag = "" if r.ok else " **ERROR**"
        return f"| {r.page} | {r.role} | {r.note}{flag} | | | | | | | |"
    statuses = " ".join(f"{code or 'no answer'}×{n}" for code, n in sorted(r.statuses.items()))
    flag = "" if r.ok else " **ERROR**"
    if r.note:
        flag += f" ({r.note})"
    p95 = r.percentile(0.95)
    return (
        f"| {r.page} | {r.role} | {statuses}{flag} | {r.percentile(0.5):.1f} | {p95:.1f} | "
        f"{r.percentile(0.99):.1f} | {r.rate:.1f} | {p95 / base.percentile(0.95):.1f} | "
        f"{r.rate / base.rate:.2f} | {'yes' if p95 < 50 else 'no'} |"
    )


def print_table(baseline: Result, results: list[Result]) -> None:
    print(
        "\n| page | role | statuses | p50 ms | p95 ms | p99 ms | req/s | p95 × baseline "
        "| req/s × baseline | p95 < 50 ms |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for result in (baseline, *results):
        print(_row(result, baseline))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reuse", action="store_true", help="keep (and reuse) the database")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per page")
    parser.add_argument("--requests", type=int, default=0, help="at most this many per page")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds a request may take (then: error)"
    )
    parser.add_argument(
        "--slow",
        type=float,
        default=15,
        help="a page whose first request takes longer is timed once, not driven by the clients",
    )
    parser.add_argument("--verbose", action="store_true", help="print each row as measured")
    args = parser.parse_args(argv)
    url = make_url(args.database_url)

    print(
        f"riskreg scale benchmark — {os.cpu_count()} cores, load average {_load()}, "
        f"scale {args.scale}, {args.clients} clients, {args.workers} gunicorn workers, "
        f"{args.duration:g} s per page" + (f" (at most {args.requests})" if args.requests else ""),
        flush=True,
    )
    built = prepare_database(url, reuse=args.reuse, scale=args.scale)
    if built is None:
        print(f"reused the data set in {url.database}")
    else:
        rows = ", ".join(f"{table} {n:,}" for table, n in built.counts.items())
        print(f"built the data set in {built.seconds:.1f} s (+ ANALYZE): {rows}", flush=True)
    ids = picked_ids(url)
    print(
        f"pages with an id: plan {ids['plan']}, control {ids['control']}, action {ids['action']}",
        flush=True,
    )

    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="riskreg-bench-log-")) / "gunicorn.log"
    server = start_server(url, args.workers, port, log, args.timeout)
    try:
        baseline, results = measure(port, ids, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.reuse and url.get_backend_name() == "postgresql":
            _drop(url)
    print_table(baseline, results)
    failed = [r for r in (baseline, *results) if not r.ok]
    print(f"\nload average after: {_load()}")
    if failed:
        print("ERROR on: " + ", ".join(f"{r.page} ({r.role})" for r in failed))
        print(f"gunicorn log: {log}")
        return 1
    shutil.rmtree(log.parent, ignore_errors=True)
    return 0


def _drop(url: URL) -> None:
    engine = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    engine.dispose()


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
