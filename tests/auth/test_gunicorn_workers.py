"""The login throttle with real gunicorn workers on loopback (issue 16, part 3).

With 4 workers and the in-memory store an account was locked after 18 wrong passwords instead
of 5: each worker counted on its own. Now a multi-worker gunicorn refuses to start with the
in-memory store, and with Redis the lockout comes at the configured count.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskreg.auth.services import create_user
from riskreg.extensions import db
from tests.conftest import TEST_PASSWORD, make_app

REDIS_URL = "redis://127.0.0.1:6379/8"
GUNICORN = Path(sys.executable).parent / "gunicorn"
REFUSAL = "refuses to start 2 server processes with the login throttle in memory"


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An instance folder and SQLite database with one account, and the environment for it."""
    url = f"sqlite:///{tmp_path / 'riskreg.sqlite3'}"
    app = make_app(url, tmp_path)
    with app.app_context():
        db.create_all()
        create_user(
            db.session, username="anna", email="anna@example.org", full_name="Anna",
            password=TEST_PASSWORD, role="controller",
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    env = {
        **os.environ,
        "RISKREG_INSTANCE_PATH": str(tmp_path),
        "RISKREG_DATABASE_URL": url,
        "RISKREG_SECRET_KEY": "gunicorn-test-secret",
        "RISKREG_RATELIMIT_KEY_PREFIX": f"riskreg-test-{uuid.uuid4().hex}",
    }
    env.pop("GUNICORN_CMD_ARGS", None)
    env.pop("WEB_CONCURRENCY", None)
    yield env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _gunicorn(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(GUNICORN), "--workers", "2", "--bind", f"127.0.0.1:{port}", *extra,
         "riskreg:create_app()"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(server: subprocess.Popen[str]) -> str:
    if server.poll() is None:
        server.terminate()
    try:
        output, _ = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        output, _ = server.communicate()
    return output


@pytest.mark.parametrize("config", [(), ("-c", "python:riskreg.gunicorn_conf")])
def test_two_workers_with_the_memory_store_refuse_to_start(
    site: dict[str, str], config: tuple[str, ...]
) -> None:
    server = _gunicorn({**site, "RISKREG_RATELIMIT_STORAGE_URI": "memory://"}, _free_port(),
                       *config)
    try:
        server.wait(timeout=60)
    finally:
        output = _stop(server)
    assert server.returncode != 0
    assert REFUSAL in output, output


def _login(base: str, password: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, page
    body = urllib.parse.urlencode(
        {"username": "anna", "password": password, "csrf_token": token.group(1)}
    ).encode()
    request = urllib.request.Request(f"{base}/login", data=body, headers={"Referer": base})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener.add_handler(NoRedirect())
    try:
        return int(opener.open(request, timeout=30).status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_two_workers_with_redis_lock_out_at_the_configured_count(site: dict[str, str]) -> None:
    redis = pytest.importorskip("redis")
    store = redis.Redis.from_url(REDIS_URL)
    try:
        store.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _gunicorn({**site, "RISKREG_RATELIMIT_STORAGE_URI": REDIS_URL}, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/login", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None, _stop(server)
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        # Each attempt on a new connection: the two workers take them as they come.
        for attempt in range(1, 6):
            assert _login(base, "fel-lösenord-123") == 200, attempt
        assert _login(base, TEST_PASSWORD) == 429
        assert _login(base, TEST_PASSWORD) == 429
    finally:
        output = _stop(server)
        for key in store.scan_iter(f"*{site['RISKREG_RATELIMIT_KEY_PREFIX']}*"):
            store.delete(key)
        store.close()
    assert "Booting worker" in output
