"""Two runs at once never send the same reminder twice (SQLite and, with
RISKREG_TEST_DATABASE_URL, PostgreSQL).

The thread test makes the race certain: both runs decide (both see nothing sent) and only then
claim, released together by a barrier. The process test starts real `riskreg reminders send`
commands at the same moment, as two hosts' timers would.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from reminders_helpers import MailHandler, Run, World, free_port, log_rows

from riskreg.extensions import db
from riskreg.reminders import services
from riskreg.reminders.services import MailSettings, RunReport, run_reminders

NOW = dt.datetime(2025, 9, 1, 5, 0, tzinfo=dt.UTC)  # Monday 07:00 in Stockholm
EXPECTED_DIGESTS = 6
EXPECTED_REMINDERS = 10


def _race(app: Flask, monkeypatch: pytest.MonkeyPatch, runs: int) -> list[RunReport]:
    """Start ``runs`` runs in threads that decide first and then claim at the same moment."""
    barrier = threading.Barrier(runs, timeout=30)
    real_claim = services.claim_reminders

    def claim_together(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(services, "claim_reminders", claim_together)
    reports: list[RunReport] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            with app.app_context():
                reports.append(
                    run_reminders(db.session, now=NOW, mail=MailSettings.from_config(app.config))
                )
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=one_run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    assert len(reports) == runs
    return reports


def _assert_no_duplicates(app: Flask, mail: MailHandler) -> None:
    # Each reminder (item, reason, due date, recipient) arrived exactly once.
    arrived: Counter[tuple[str, str]] = Counter()
    for message in mail.received:
        text = message.text()
        for line in text.splitlines():
            if line.startswith("* "):
                arrived[(message.to, line)] += 1
    assert arrived, "nothing arrived"
    assert max(arrived.values()) == 1, [k for k, n in arrived.items() if n > 1]
    rows = log_rows(app)
    assert len(rows) == EXPECTED_REMINDERS
    assert {r.state for r in rows} == {"sent"}
    per_recipient = Counter(m.to for m in mail.received)
    # 10 item lines in all, to the six addresses of the region.
    assert sum(arrived.values()) == EXPECTED_REMINDERS
    assert len(per_recipient) == EXPECTED_DIGESTS


@pytest.mark.usefixtures("smtp")
def test_two_runs_at_once_in_threads_send_each_reminder_once(
    app: Flask, world: World, mail: MailHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = _race(app, monkeypatch, runs=2)

    _assert_no_duplicates(app, mail)
    assert sorted(r.claimed for r in reports) == [0, EXPECTED_REMINDERS]
    assert sorted(r.taken_by_other_run for r in reports) == [0, EXPECTED_REMINDERS]
    assert all(r.ok for r in reports)
    assert len(mail.received) == EXPECTED_DIGESTS


@pytest.mark.usefixtures("smtp")
def test_runs_racing_to_retry_failed_reminders_send_them_once(
    app: Flask,
    world: World,
    mail: MailHandler,
    monkeypatch: pytest.MonkeyPatch,
    smtp: Controller,
    send: Callable[..., Run],
) -> None:
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    assert send("2025-09-01T06:50").exit_code == 1
    assert {r.state for r in log_rows(app)} == {"failed"}
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp.port)

    reports = _race(app, monkeypatch, runs=3)

    _assert_no_duplicates(app, mail)
    assert sorted(r.claimed for r in reports) == [0, 0, EXPECTED_REMINDERS]
    assert {r.attempts for r in log_rows(app)} == {2}


@pytest.mark.slow
def test_commands_started_at_once_in_separate_processes_send_each_reminder_once(
    app: Flask, world: World, database_url: str, tmp_path: Path
) -> None:
    mail = MailHandler(delay=0.05)  # slow enough for the runs to overlap while sending
    controller = Controller(mail, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = {
        **os.environ,
        "RISKREG_INSTANCE_PATH": str(tmp_path),
        "RISKREG_DATABASE_URL": database_url,
        "RISKREG_SECRET_KEY": "test-secret-key-not-for-production",
        "RISKREG_MAIL_SERVER": "127.0.0.1",
        "RISKREG_MAIL_PORT": str(controller.port),
        "RISKREG_MAIL_DEFAULT_SENDER": "riskreg@region.test",
        "RISKREG_BASE_URL": "http://riskreg.test",
    }
    command = [
        str(Path(sys.executable).with_name("riskreg")),
        "reminders",
        "send",
        "--now",
        "2025-09-01T07:00",
    ]
    try:
        processes = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120) for p in processes]
    finally:
        controller.stop()

    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err
    _assert_no_duplicates(app, mail)
    # Together they logged every reminder once.
    logged = [
        int(line.split("; ")[1].split()[0])
        for out, _ in outputs
        for line in out.splitlines()
        if "påminnelser loggade som skickade" in line
    ]
    assert sum(logged) == EXPECTED_REMINDERS
