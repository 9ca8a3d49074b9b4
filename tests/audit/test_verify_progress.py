"""`riskreg audit verify` shows a progress bar to a person at a terminal, and only there.

Run as a real process: the bar depends on whether stderr is a terminal, which only a real
pseudo-terminal (not click's test runner) can answer truthfully.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

from flask import Flask
from sqlalchemy import func
from sqlalchemy import select as sql_select

from riskreg.audit.models import AuditEntry
from riskreg.extensions import db

LABEL = "Kontrollerar spåret"


def _env(app: Flask) -> dict[str, str]:
    env = {
        **os.environ,
        "RISKREG_INSTANCE_PATH": app.instance_path,
        "RISKREG_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RISKREG_SECRET_KEY": "progress-test",
        "COLUMNS": "100",
    }
    return env


def _riskreg() -> str:
    found = shutil.which("riskreg", path=str(Path(sys.executable).parent))
    assert found is not None
    return found


def _read_all(fd: int, process: subprocess.Popen[bytes]) -> bytes:
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed (Linux raises EIO)
            break
        if not chunk:
            break
        out += chunk
    process.wait(60)
    return out


def test_verify_draws_a_bar_on_a_terminal_and_none_in_a_log(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        entries = db.session.scalar(sql_select(func.count(AuditEntry.id)))
    assert entries and entries > 0
    env = _env(app)

    # At a terminal: the bar on stderr, then the usual verdict.
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [_riskreg(), "audit", "verify"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    try:
        shown = _read_all(leader, process).decode("utf-8", "replace")
    finally:
        os.close(leader)
    assert process.returncode == 0, shown
    assert LABEL in shown
    assert f"{entries}/{entries}" in shown  # the bar reached the end
    assert "Granskningsspåret är intakt" in shown

    # Into a pipe (cron, CI): the same verdict, and no bar.
    logged = subprocess.run(
        [_riskreg(), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert logged.returncode == 0, logged.stderr
    assert "Granskningsspåret är intakt" in logged.stdout
    assert LABEL not in logged.stdout + logged.stderr
