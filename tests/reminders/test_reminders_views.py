"""Mitt arbete, the dashboard panel, the policy page, the send log and the menu."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from reminders_helpers import PASSWORD, Run, World, log_rows
from sqlalchemy import select

from riskreg.audit.models import AuditEntry
from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, Control
from riskreg.controls.services import answer_action, raise_action, verify_action
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reminders.decide import local_date
from riskreg.reminders.models import ReminderPolicySetting
from riskreg.reminders.policy_store import load_policy
from tests.conftest import login


def client_for(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username, PASSWORD).status_code == 302
    return client


def work_items(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="work-item" data-kind="(\w+)" data-id="(\d+)"', page)


def complete(app: Flask, action_id: int) -> None:
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        action = db.session.get(Action, action_id)
        now = now_utc()
        answer_action(db.session, action, answer="Klart.", actor=users["maria"], now=now)
        verify_action(db.session, action, accepted=True, note="", actor=users["granskare"], now=now)
        db.session.commit()


def add_action(app: Flask, world: World, unit: str, days_from_today: int, text: str) -> int:
    with app.app_context():
        control = db.session.get(Control, world.control)
        owner = db.session.scalar(select(Unit).where(Unit.code == unit))
        now = now_utc()
        action = raise_action(
            db.session,
            control,
            description=text,
            owner_unit=owner,
            # Days count in Stockholm, as on the pages: between 23:00/22:00 and midnight UTC
            # the UTC date is already yesterday there.
            due_date=local_date(now) + dt.timedelta(days=days_from_today),
            actor=None,
            now=now,
        )
        db.session.commit()
        return action.id


# --- Mitt arbete ------------------------------------------------------------------------------


def test_my_work_lists_what_the_users_units_own_sorted_by_due_date(
    app: Flask, world: World
) -> None:
    soon = add_action(app, world, "CE", 5, "Stäm av leverantörsreskontran")
    later = add_action(app, world, "CE", 40, "Uppdatera attestordningen")

    page = client_for(app, "anna").get("/reminders/my-work").get_data(as_text=True)

    # CE's control (due 2025-09-04) and action (2025-09-15) are overdue; then the new ones.
    assert work_items(page) == [
        ("control", str(world.control)),
        ("action", str(world.action_ce)),
        ("action", str(soon)),
        ("action", str(later)),
    ]
    assert "Uppdatera rutinen för basala hygienrutiner" not in page  # Smittskydd's
    assert page.count('data-testid="overdue"') == 2
    assert "2 ärenden är försenade." in page
    assert f'href="/controls/{world.control}"' in page
    assert f'href="/controls/actions/{soon}"' in page
    soon_item = page[page.index(f'data-id="{soon}"') :]
    assert "Snart" in soon_item[: soon_item.index("</li>")]
    assert "om 5 dagar" in soon_item[: soon_item.index("</li>")]


def test_my_work_for_controllers_admins_and_auditors(app: Flask, world: World) -> None:
    controller = client_for(app, "granskare").get("/reminders/my-work").get_data(as_text=True)
    assert work_items(controller) == [("control", str(world.control))]  # assigned to it

    admin = client_for(app, "admin").get("/reminders/my-work").get_data(as_text=True)
    assert len(work_items(admin)) == 3  # HSF and every unit below it

    maria = client_for(app, "maria").get("/reminders/my-work").get_data(as_text=True)
    assert work_items(maria) == [("action", str(world.action_smitta))]

    auditor = client_for(app, "revisor").get("/reminders/my-work").get_data(as_text=True)
    assert work_items(auditor) == []
    assert "Du och dina enheter har inga öppna granskningar eller åtgärder." in auditor


def test_done_items_are_hidden_unless_asked_for(app: Flask, world: World) -> None:
    complete(app, world.action_smitta)
    client = client_for(app, "maria")

    assert work_items(client.get("/reminders/my-work").get_data(as_text=True)) == []
    page = client.get("/reminders/my-work?done=1").get_data(as_text=True)
    assert work_items(page) == [("action", str(world.action_smitta))]
    assert "Klar" in page and 'data-testid="overdue"' not in page


# --- dashboard --------------------------------------------------------------------------------


def unit_rows(page: str) -> dict[str, list[str]]:
    rows = re.findall(r'data-testid="unit-counts" data-unit="([^"]+)">(.*?)</tr>', page, re.S)
    return {
        unit: re.findall(r'<td class="text-end">(?:<span[^>]*>)?(\d+)', cells)
        for unit, cells in rows
    }


def test_dashboard_panel_counts_due_soon_overdue_and_done_per_unit(
    app: Flask, world: World
) -> None:
    add_action(app, world, "CE", 3, "Snart klart")
    add_action(app, world, "CE", 14, "Om två veckor")
    add_action(app, world, "CE", 15, "Om femton dagar")  # not "soon"
    complete(app, world.action_smitta)

    page = client_for(app, "admin").get("/").get_data(as_text=True)
    assert 'data-testid="deadline-panel"' in page
    # due soon, overdue, done
    assert unit_rows(page) == {"CE": ["2", "2", "0"], "Smittskydd": ["0", "0", "1"]}

    anna = client_for(app, "anna").get("/").get_data(as_text=True)
    assert unit_rows(anna) == {"CE": ["2", "2", "0"]}  # only her own unit


# --- policy -----------------------------------------------------------------------------------


def test_admin_sees_the_defaults_and_changes_the_policy(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    page = client.get("/reminders/policy").get_data(as_text=True)
    assert 'value="14, 3"' in page
    assert re.search(r'name="repeat_overdue_every_days"[^>]*value="7"', page)
    assert re.search(r'name="escalate_after_days"[^>]*value="14"', page)

    response = client.post(
        "/reminders/policy",
        data={
            "days_before": "3; 30 10",
            "on_due_date": "y",
            "repeat_overdue_every_days": "5",
            "escalate_after_days": "21",
            "repeat_escalation_every_days": "",
            "version": "0",  # the page showed the defaults: nothing saved yet
        },
    )
    assert response.status_code == 302
    with app.app_context():
        policy = load_policy(db.session)
        assert policy.days_before == (30, 10, 3)
        assert policy.repeat_overdue_every_days == 5
        assert policy.escalate_after_days == 21
        assert policy.repeat_escalation_every_days is None
        row = db.session.get(ReminderPolicySetting, 1)
        assert row.updated_by.username == "admin"
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "reminder_policy")
        ).all()
        assert entries, "policy changes are in the audit trail"
    assert 'value="30, 10, 3"' in client.get("/reminders/policy").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"days_before": "14, 0"}, "Dagar före sista dag måste vara mellan 1 och 366."),
        ({"days_before": "14, 14"}, "Samma antal dagar före sista dag står flera gånger."),
        ({"days_before": "fjorton"}, "Ange antal dagar åtskilda med komma"),
        ({"days_before": "14", "escalate_after_days": "400"}, "Ange 1–366 dagar."),
        (
            {"days_before": "14", "repeat_escalation_every_days": "7"},
            "Eskaleringen kan bara upprepas om den är påslagen.",
        ),
    ],
)
def test_an_invalid_policy_is_refused_with_a_message(
    app: Flask, world: World, data: dict[str, str], message: str
) -> None:
    client = client_for(app, "admin")
    response = client.post("/reminders/policy", data=data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ReminderPolicySetting, 1) is None  # nothing stored


def test_the_policy_is_for_admins_only(app: Flask, world: World) -> None:
    for username in ("anna", "granskare", "chef", "revisor"):
        client = client_for(app, username)
        assert client.get("/reminders/policy").status_code == 403
        assert client.post("/reminders/policy", data={"days_before": "1"}).status_code == 403
    with app.app_context():
        assert db.session.get(ReminderPolicySetting, 1) is None


def test_a_stale_policy_form_is_refused(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    base = {"days_before": "14, 3", "on_due_date": "y", "repeat_overdue_every_days": "7"}
    # The page shows version 0 while no rules are saved; that form is stale after a save.
    assert 'name="version" type="hidden" value="0"' in client.get("/reminders/policy").get_data(
        as_text=True
    )
    assert client.post("/reminders/policy", data={**base, "version": "0"}).status_code == 302
    assert "Någon annan har ändrat reglerna" in client.post(
        "/reminders/policy", data={**base, "days_before": "2", "version": "0"}
    ).get_data(as_text=True)
    with app.app_context():
        version = db.session.get(ReminderPolicySetting, 1).version
    assert (
        client.post("/reminders/policy", data={**base, "version": str(version)}).status_code == 302
    )
    stale = client.post(
        "/reminders/policy", data={**base, "days_before": "1", "version": str(version)}
    )
    assert stale.status_code == 200
    assert "Någon annan har ändrat reglerna" in stale.get_data(as_text=True)
    # A form with its version removed is a conflict too, never a silent overwrite.
    missing = client.post("/reminders/policy", data={**base, "days_before": "1"})
    assert "Någon annan har ändrat reglerna" in missing.get_data(as_text=True)
    with app.app_context():
        assert load_policy(db.session).days_before == (14, 3)


# --- the send log -----------------------------------------------------------------------------


@pytest.mark.usefixtures("smtp")
def test_log_with_filters_for_admins_and_auditors(
    app: Flask, world: World, send: Callable[..., Run]
) -> None:
    assert send("2025-09-01T07:00").exit_code == 0
    assert len(log_rows(app)) == 10

    def rows(client: FlaskClient, query: str = "") -> list[str]:
        page = client.get(f"/reminders/log{query}").get_data(as_text=True)
        return re.findall(r'data-testid="log-row"', page)

    admin = client_for(app, "admin")
    page = admin.get("/reminders/log").get_data(as_text=True)
    assert "10 rader" in page
    assert "anna@region.test" in page and "Anna Ekonom" in page
    assert "Återkräv felaktiga utbetalningar från vårdgivaren" in page
    assert "Skickad" in page and "mottaget" in page

    assert len(rows(admin, "?recipient=ANNA")) == 2
    assert len(rows(admin, f"?unit_id={world.units['Smittskydd']}")) == 2
    assert len(rows(admin, "?kind=control")) == 4
    assert len(rows(admin, "?reason=due")) == 2
    assert len(rows(admin, "?state=failed")) == 0
    # Dates are the (Swedish) days the reminders were sent, not the --now of the run.
    today = local_date(now_utc())
    day = dt.timedelta(days=1)
    assert len(rows(admin, f"?date_from={today}&date_to={today}")) == 10
    assert len(rows(admin, f"?date_from={today + day}")) == 0
    assert len(rows(admin, f"?date_to={today - day}")) == 0
    assert len(rows(admin, "?date_from=inte-ett-datum")) == 10  # an invalid filter is ignored

    auditor = client_for(app, "revisor")
    assert len(rows(auditor)) == 10
    for username in ("anna", "granskare", "chef"):
        assert client_for(app, username).get("/reminders/log").status_code == 403


# --- menu -------------------------------------------------------------------------------------


def test_menu_entries_by_role(app: Flask, world: World) -> None:
    anna = client_for(app, "anna").get("/reminders/my-work").get_data(as_text=True)
    assert 'href="/reminders/my-work"' in anna and "Mitt arbete" in anna
    assert 'href="/reminders/notifications"' in anna
    assert 'href="/reminders/policy"' not in anna and 'href="/reminders/log"' not in anna

    admin = client_for(app, "admin").get("/reminders/my-work").get_data(as_text=True)
    assert 'href="/reminders/policy"' in admin

    auditor = client_for(app, "revisor").get("/reminders/my-work").get_data(as_text=True)
    assert 'href="/reminders/log"' in auditor and 'href="/reminders/policy"' not in auditor


def test_pages_have_no_inline_style_or_script(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    for url in (
        "/reminders/my-work",
        "/reminders/notifications",
        "/reminders/policy",
        "/reminders/log",
        "/",
    ):
        page = client.get(url).get_data(as_text=True)
        assert " style=" not in page, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url


def test_switching_every_reminder_off_is_allowed_and_shown(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    assert 'data-testid="all-off"' not in client.get("/reminders/policy").get_data(as_text=True)
    response = client.post("/reminders/policy", data={"days_before": "", "version": "0"})
    assert response.status_code == 302
    assert 'data-testid="all-off"' in client.get("/reminders/policy").get_data(as_text=True)


def test_a_failing_badge_count_does_not_break_the_page(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from riskreg.reminders import notifications

    def broken(*args: object, **kwargs: object) -> int:
        raise OperationalError("SELECT count(*)", {}, Exception("database is down"))

    client = client_for(app, "anna")
    monkeypatch.setattr(notifications, "unread_count", broken)
    response = client.get("/reminders/my-work")
    assert response.status_code == 200
    assert "unread-count" not in response.get_data(as_text=True)
