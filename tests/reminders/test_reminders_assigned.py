"""A new action reaches its unit by e-mail with the next reminder run (issue 14.5), once,
through a real SMTP server on loopback; the app told the unit already when it was raised."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from reminders_helpers import MailHandler, Run, World, sent_keys
from sqlalchemy import func, select

from riskreg.controls.models import Control
from riskreg.controls.services import raise_action
from riskreg.extensions import db
from riskreg.reminders.models import Notification

pytestmark = pytest.mark.usefixtures("smtp")

CE_ADDRESSES = {"ce@region.test", "anna@region.test", "bob@region.test", "cechef@region.test"}


def _raise(app: Flask, world: World, at: dt.datetime) -> int:
    with app.app_context():
        control = db.session.get(Control, world.control)
        assert control is not None
        action = raise_action(
            db.session,
            control,
            description="Återkräv det felaktigt utbetalda beloppet",
            owner_unit=control.responsible_unit,
            due_date=dt.date(2025, 11, 28),
            actor=None,
            now=at,
        )
        db.session.commit()
        return action.id


def _assigned_notifications(app: Flask, action_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.item_kind == "action",
                Notification.item_id == action_id,
                Notification.reason == "assigned",
            )
        ) or 0


def test_a_new_action_is_mailed_to_its_unit_once(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    assert send("2025-10-01T07:00").exit_code == 0  # what was already due goes first
    mail.take()
    action_id = _raise(app, world, dt.datetime(2025, 10, 1, 9, 0, tzinfo=dt.UTC))
    in_app = _assigned_notifications(app, action_id)
    assert in_app >= 1  # the unit's members, at once

    run = send("2025-10-01T15:00")
    assert run.exit_code == 0, run.stderr
    got = mail.by_rcpt()
    assert set(got) == CE_ADDRESSES
    anna = got["anna@region.test"].text()
    assert "Återkräv det felaktigt utbetalda beloppet" in anna
    assert "Ny åtgärd: den har just tilldelats CE." in anna
    assert "New action: it has just been assigned to CE." in got["bob@region.test"].text()
    assert f"action:{action_id}|assigned:0|2025-11-28|anna@region.test" in sent_keys(app)
    # The run does not add a second in-app notice of the same news.
    assert _assigned_notifications(app, action_id) == in_app

    mail.take()
    assert send("2025-10-02T07:00").exit_code == 0
    assert all("Återkräv det felaktigt" not in r.text() for r in mail.received)


def test_an_old_action_gets_no_assignment_mail(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    action_id = _raise(app, world, dt.datetime(2025, 10, 1, 9, 0, tzinfo=dt.UTC))
    assert send("2025-10-20T07:00").exit_code == 0
    assert not any(k.startswith(f"action:{action_id}|assigned") for k in sent_keys(app))
