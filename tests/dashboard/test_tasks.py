"""Mitt arbete as a task list: what waits for each user, in the order they should take it."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import User
from riskreg.controls.models import Action, ActionStatus, Control, ControlStatus
from riskreg.controls.services import answer_action, change_status
from riskreg.dashboard.work import TASK_GROUPS, my_tasks
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reports.services import sign_review
from tests.conftest import login
from tests.reports.scenario import settings_for

PASSCARDS = "Behörighet för passerkort och nycklar 2025"


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def _control(title: str) -> Control:
    control = db.session.scalar(select(Control).where(Control.title == title))
    assert control is not None
    return control


def _tasks(username: str) -> list[tuple[str, str]]:
    today = now_utc().date()
    return [(t.group, t.title) for t in my_tasks(db.session(), _user(username), today=today)]


def test_the_approver_starts_with_what_waits_for_approval(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        tasks = _tasks("chef")
        assert tasks[0] == ("approve", PASSCARDS)
        groups = [group for group, _ in tasks]
        # Grouped in the fixed order, approving first.
        assert groups == sorted(groups, key=list(TASK_GROUPS).index)
        # Its controller cannot approve their own work, so it is not on their desk.
        assert ("approve", PASSCARDS) not in _tasks("granskare2")
        # A unit member and the auditor approve nothing.
        assert not [t for t in _tasks("smittskydd") if t[0] == "approve"]
        assert _tasks("revisor") == []


def test_approval_puts_the_signature_then_the_cosignature_on_the_right_desks(
    app: Flask, demo: dict[str, str]
) -> None:
    settings = settings_for(app)
    with app.app_context():
        control = _control(PASSCARDS)
        assert ("sign", PASSCARDS) not in _tasks("granskare2")
        change_status(db.session(), control, ControlStatus.APPROVED, actor=_user("chef"),
                      now=now_utc())
        assert ("approve", PASSCARDS) not in _tasks("chef")
        assert ("sign", PASSCARDS) in _tasks("granskare2")
        assert ("sign", PASSCARDS) not in _tasks("granskare")  # not assigned to it

        sign_review(db.session(), control, actor=_user("granskare2"),
                    now=now_utc(), settings=settings)
        assert ("sign", PASSCARDS) not in _tasks("granskare2")
        assert ("cosign", PASSCARDS) in _tasks("chef")
        assert ("cosign", PASSCARDS) not in _tasks("admin")


def test_answered_actions_wait_for_the_controller_open_ones_for_the_unit(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        action = db.session.scalar(
            select(Action)
            .join(Control, Control.id == Action.control_id)
            .where(Action.status == ActionStatus.OPEN.value, Control.title.contains("vårdgivare"))
        )
        assert action is not None
        title = action.description.splitlines()[0]
        assert ("answer", title) in _tasks("ce")
        assert not [t for t in _tasks("ce") if t[0] == "verify"]
        assert ("verify", title) not in _tasks("granskare")

        answer_action(db.session(), action, answer="Beloppet är återkrävt.", actor=_user("ce"),
                      now=now_utc())
        assert ("answer", title) not in _tasks("ce")
        assert ("verify", title) in _tasks("granskare")
        assert ("verify", title) not in _tasks("granskare2")  # not their control


def test_the_page_lists_the_groups_with_links_and_the_menu_counts_them(
    app: Flask, demo: dict[str, str]
) -> None:
    client = app.test_client()
    login(client, "chef", demo["chef"])
    html = client.get("/reminders/my-work").get_data(as_text=True)
    groups = re.findall(r'data-testid="task-group" data-group="(\w+)"', html)
    assert groups[0] == "approve"
    assert "Att godkänna" in html
    first = html.index('data-testid="task"')
    assert PASSCARDS in html[first:first + 600]
    with app.app_context():
        control_id = _control(PASSCARDS).id
        count = len(my_tasks(db.session(), _user("chef"), today=now_utc().date()))
    assert f'href="/controls/{control_id}"' in html[first:first + 600]
    assert re.search(rf'data-testid="task-count">{count}<', html)

    # In English the groups and reasons are English.
    client.post("/language", data={"locale": "en", "next": "/reminders/my-work"})
    english = client.get("/reminders/my-work").get_data(as_text=True)
    assert "To approve" in english and "Att godkänna" not in english


def test_a_user_with_nothing_waiting_is_told_so(app: Flask, demo: dict[str, str]) -> None:
    client = app.test_client()
    login(client, "revisor", demo["revisor"])
    html = client.get("/reminders/my-work").get_data(as_text=True)
    assert 'data-testid="no-tasks"' in html
    assert 'data-testid="task-count"' not in html


def test_due_dates_say_by_when(app: Flask, demo: dict[str, str]) -> None:
    with app.app_context():
        today = now_utc().date()
        tasks = my_tasks(db.session(), _user("chef"), today=today + timedelta(days=400))
        approve = next(t for t in tasks if t.group == "approve")
        assert approve.due_date == _control(PASSCARDS).deadline
        assert approve.overdue
