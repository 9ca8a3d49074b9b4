"""Fixtures for the reminder runs: a real SMTP server on loopback, a small region, the command.

The region and its dates are described in reminders_helpers.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from reminders_helpers import MailHandler, Run, World, build_world, free_port

from riskreg.extensions import db


@pytest.fixture
def mail() -> MailHandler:
    return MailHandler()


@pytest.fixture
def smtp(app: Flask, mail: MailHandler, monkeypatch: pytest.MonkeyPatch) -> Iterator[Controller]:
    """An SMTP server on 127.0.0.1 (a free port) and the app configured to use it."""
    controller = Controller(mail, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    monkeypatch.setitem(app.config, "MAIL_DEFAULT_SENDER", "riskreg <riskreg@region.test>")
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        built = build_world(db.session)
        db.session.commit()
    return built


@pytest.fixture
def send(app: Flask) -> Callable[..., Run]:
    """``send("2025-09-01T07:00", "--dry-run")`` runs ``riskreg reminders send --now ...``."""

    def run(now: str, *extra: str) -> Run:
        result = app.test_cli_runner().invoke(args=["reminders", "send", "--now", now, *extra])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run
