"""`riskreg reminders send` end to end: a real SMTP server on loopback, the database, the log.

The region and its dates are described in reminders_helpers.py: a run on Monday 2025-09-01
sends six digests (four CE addresses with C1 and A1, two Smittskydd addresses with A2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from reminders_helpers import (
    A1_DUE,
    PASSWORD,
    MailHandler,
    Run,
    World,
    free_port,
    log_rows,
    sent_keys,
)
from sqlalchemy import func, select, update

from riskreg.audit.models import AuditEntry
from riskreg.auth.models import User
from riskreg.controls.models import Action, Control
from riskreg.controls.services import (
    answer_action,
    change_action_due_date,
    raise_action,
    verify_action,
)
from riskreg.db import now_utc
from riskreg.extensions import db
from riskreg.reminders.models import Notification, SentReminder
from riskreg.reminders.services import MailSettings, run_reminders

pytestmark = pytest.mark.usefixtures("smtp")

CE_ADDRESSES = {"ce@region.test", "anna@region.test", "bob@region.test", "cechef@region.test"}
SMITTA_ADDRESSES = {"smittskydd@region.test", "maria@region.test"}
MONDAY = "2025-09-01T07:00"  # Stockholm time (no offset given)


def test_first_run_sends_one_digest_per_recipient(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    run = send(MONDAY)

    assert run.exit_code == 0, run.stderr
    assert "6 av 6 sammandrag skickade; 10 påminnelser loggade som skickade" in run.stdout
    got = mail.by_rcpt()  # asserts one message per address
    assert set(got) == CE_ADDRESSES | SMITTA_ADDRESSES  # not the inactive member
    assert all(len(r.rcpt_tos) == 1 for r in got.values())
    assert {r.mail_from for r in got.values()} == {"riskreg@region.test"}

    anna = got["anna@region.test"]
    assert anna.message["Subject"] == "riskreg: påminnelse om 2 ärenden"
    assert anna.message["To"].addresses[0].display_name == "Anna Ekonom"
    text = anna.text()
    assert text.startswith("Hej Anna Ekonom!")
    assert "Granskning: Utbetalningar till privata vårdgivare 2025" in text
    assert "Sista dag 2025-09-04, om 3 dagar" in text
    assert "Åtgärd: Återkräv felaktiga utbetalningar från vårdgivaren" in text
    assert "Sista dag 2025-09-15, om 14 dagar" in text
    assert f"Öppna i riskreg: http://riskreg.test/controls/{world.control}\n" in text
    assert f"Öppna i riskreg: http://riskreg.test/controls/actions/{world.action_ce}\n" in text
    # The most urgent first.
    assert text.index("Utbetalningar till privata") < text.index("Återkräv")
    assert f'<a href="http://riskreg.test/controls/actions/{world.action_ce}">' in anna.html()

    bob = got["bob@region.test"]  # chose English
    assert bob.message["Subject"] == "riskreg: reminder about 2 items"
    assert bob.text().startswith("Hello Bob Builder,")
    assert "Due 2025-09-04, in 3 days" in bob.text()

    mailbox = got["ce@region.test"]  # the functional mailbox, in Swedish
    assert mailbox.text().startswith("Hej Centrum för ekonomi!")

    maria = got["maria@region.test"]
    assert maria.message["Subject"] == "riskreg: påminnelse om 1 ärende"
    assert "Sista dag i dag, 2025-09-01" in maria.text()
    assert "Utbetalningar" not in maria.text()

    rows = log_rows(app)
    assert len(rows) == 10
    assert {r.state for r in rows} == {"sent"}
    assert {r.smtp_code for r in rows} == {250}
    assert len({r.run_id for r in rows}) == 1
    by_key = {r.dedup_key: r for r in rows}
    row = by_key[f"action:{world.action_ce}|before:14|2025-09-15|anna@region.test"]
    assert row.user_id == world.users["anna"]
    assert row.unit_id == world.units["CE"]
    assert row.item_title == "Återkräv felaktiga utbetalningar från vårdgivaren"
    # Logged at the real time of the run; --now only decides what is due.
    assert row.sent_at is not None and abs(row.sent_at - now_utc()) < dt.timedelta(minutes=5)
    assert row.message_id == str(anna.message["Message-ID"])
    mailbox_row = by_key[f"control:{world.control}|before:3|2025-09-04|ce@region.test"]
    assert mailbox_row.user_id is None

    with app.app_context():
        # The run's own notifications (raising the actions told their units already).
        notes = db.session.scalars(
            select(Notification)
            .where(Notification.reason != "assigned")
            .order_by(Notification.id)
        ).all()
        per_user = {(n.user_id, n.item_kind, n.item_id, n.reason) for n in notes}
        # One per item for each user recipient (the mailboxes are not users).
        assert len(notes) == 7
        assert (world.users["anna"], "action", world.action_ce, "before") in per_user
        assert (world.users["maria"], "action", world.action_smitta, "due") in per_user
        assert all(n.read_at is None for n in notes)
        runs = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reminders.run")
        ).all()
        assert len(runs) == 1
        assert '"reminders_sent":10' in runs[0].payload


def test_running_again_sends_nothing_new(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    assert send(MONDAY).exit_code == 0
    first = sent_keys(app)
    mail.take()

    again = send("2025-09-01T07:10")
    later_that_week = send("2025-09-02T07:00")

    assert again.exit_code == 0 and later_that_week.exit_code == 0
    assert "0 påminnelser att skicka, 10 redan skickade" in again.stdout
    assert mail.received == []
    assert sent_keys(app) == first


def test_dry_run_prints_and_writes_nothing(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    run = send(MONDAY, "--dry-run")

    assert run.exit_code == 0, run.stderr
    assert "Provkörning" in run.stdout
    assert "anna@region.test (sv): 2 ärenden, 2 påminnelser, skulle skickas" in run.stdout
    assert "bob@region.test (en)" in run.stdout
    assert "6 sammandrag skulle skickas; inget skickades." in run.stdout
    assert mail.received == []
    assert log_rows(app) == []
    # The real run afterwards sends the same.
    assert send(MONDAY).exit_code == 0
    assert len(mail.received) == 6


def test_a_new_due_date_gets_its_own_reminders_and_the_old_one_none(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    assert send(MONDAY).exit_code == 0
    mail.take()
    with app.app_context():
        action = db.session.get(Action, world.action_ce)
        change_action_due_date(
            db.session,
            action,
            due_date=dt.date(2025, 9, 12),
            reason="Vårdgivaren har begärt anstånd",
            now=dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC),
        )
        db.session.commit()

    # Later the same day: 2025-09-12 is 11 days away; "14 days before" (Friday 29 August)
    # is the latest reminder for the new date and it was never sent for that date.
    run = send("2025-09-01T15:00")
    assert run.exit_code == 0, run.stderr
    got = mail.by_rcpt()
    assert set(got) == CE_ADDRESSES
    assert all(
        "2025-09-12, om 11 dagar" in r.text() for r in got.values() if r.to != "bob@region.test"
    )
    assert all("Utbetalningar" not in r.text() for r in got.values())  # C1 was already sent
    new_keys = {k for k in sent_keys(app) if k.startswith(f"action:{world.action_ce}|")}
    assert f"action:{world.action_ce}|before:14|2025-09-12|anna@region.test" in new_keys

    # On 2025-09-12 (3 days before the *old* date) only the new date's "due" reminder goes out.
    mail.take()
    run = send("2025-09-12T07:00")
    assert run.exit_code == 0, run.stderr
    texts = [r.text() for r in mail.received]
    assert texts, "the new due date is today"
    assert all(str(A1_DUE) not in t for t in texts)
    assert not any("|2025-09-15|" in k for k in sent_keys(app) if "before:3" in k)


def test_completing_an_item_stops_its_reminders(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        action = db.session.get(Action, world.action_smitta)
        now = dt.datetime(2025, 8, 30, 9, 0, tzinfo=dt.UTC)
        answer_action(
            db.session, action, answer="Rutinen är uppdaterad.", actor=users["maria"], now=now
        )
        verify_action(db.session, action, accepted=True, note="", actor=users["granskare"], now=now)
        db.session.commit()

    run = send(MONDAY)

    assert run.exit_code == 0, run.stderr
    assert set(mail.by_rcpt()) == CE_ADDRESSES
    assert not any(f"action:{world.action_smitta}|" in k for k in sent_keys(app))


def test_smtp_server_down_nothing_is_sent_and_the_next_run_sends(
    app: Flask,
    world: World,
    mail: MailHandler,
    send: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
    smtp: Controller,
) -> None:
    dead_port = free_port()  # bound and released: nothing listens there
    monkeypatch.setitem(app.config, "MAIL_PORT", dead_port)

    down = send(MONDAY)

    assert down.exit_code == 1
    assert f"could not connect to SMTP server 127.0.0.1:{dead_port}" in down.stderr
    assert "Inget av det är loggat som skickat; nästa körning försöker igen." in down.stderr
    assert "0 av 6 sammandrag skickade" in down.stdout
    rows = log_rows(app)
    assert len(rows) == 10 and {r.state for r in rows} == {"failed"}
    assert all("could not connect" in r.smtp_result for r in rows)
    with app.app_context():
        # None from the failed run (raising the actions told their units in the app already).
        assert (
            db.session.scalar(
                select(func.count(Notification.id)).where(Notification.reason != "assigned")
            )
            == 0
        )

    monkeypatch.setitem(app.config, "MAIL_PORT", smtp.port)
    up = send("2025-09-01T07:10")

    assert up.exit_code == 0, up.stderr
    assert set(mail.by_rcpt()) == CE_ADDRESSES | SMITTA_ADDRESSES
    rows = log_rows(app)
    assert {r.state for r in rows} == {"sent"}
    assert {r.attempts for r in rows} == {2}


def test_a_refused_recipient_only_that_digest_is_unsent_and_retried(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    mail.refuse_rcpt["bob@region.test"] = "550 5.1.1 <bob@region.test>: Recipient unknown"

    run = send(MONDAY)

    assert run.exit_code == 1
    assert "5 av 6 sammandrag skickade" in run.stdout
    assert "bob@region.test" in run.stdout and "550" in run.stdout
    assert set(mail.by_rcpt()) == (CE_ADDRESSES | SMITTA_ADDRESSES) - {"bob@region.test"}
    rows = {r.dedup_key: r for r in log_rows(app)}
    bobs = [r for k, r in rows.items() if k.endswith("|bob@region.test")]
    assert len(bobs) == 2
    assert {(r.state, r.smtp_code) for r in bobs} == {("failed", 550)}
    assert all("Recipient unknown" in r.smtp_result for r in bobs)
    assert {r.state for k, r in rows.items() if not k.endswith("|bob@region.test")} == {"sent"}

    mail.take()
    del mail.refuse_rcpt["bob@region.test"]
    retry = send("2025-09-01T08:00")

    assert retry.exit_code == 0, retry.stderr
    assert list(mail.by_rcpt()) == ["bob@region.test"]
    assert mail.received[0].message["Subject"] == "riskreg: reminder about 2 items"
    assert {r.state for r in log_rows(app)} == {"sent"}


def test_escalation_to_the_manager_after_14_days_overdue(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    # 2025-09-15: A2 (Smittskydd, due 09-01) is 14 days overdue. Smittskydd has no manager, so
    # the manager of HSF above it is told. A1 (CE) is due today; C1 is 11 days overdue.
    run = send("2025-09-15T07:00")

    assert run.exit_code == 0, run.stderr
    got = mail.by_rcpt()
    assert set(got) == CE_ADDRESSES | SMITTA_ADDRESSES | {"chef@region.test"}
    chef = got["chef@region.test"]
    assert chef.message["Subject"] == "[Eskalering] riskreg: påminnelse om 1 ärende (1 försenat)"
    assert "Eskalerad till dig som chef för Smittskydd." in chef.text()
    assert "Uppdatera rutinen för basala hygienrutiner" in chef.text()
    assert "Sista dag var 2025-09-01, 14 dagar sedan" in chef.text()
    assert "[FÖRSENAD]" in got["maria@region.test"].text()
    assert not got["cechef@region.test"].message["Subject"].startswith("[Eskalering]")

    # 2025-09-18: C1 (due 09-04) is 14 days overdue: CE's own manager, who is also a member,
    # gets the unit's overdue reminder and the escalation in one digest, the item shown once.
    mail.take()
    run = send("2025-09-18T07:00")
    assert run.exit_code == 0, run.stderr
    cechef = mail.by_rcpt()["cechef@region.test"]
    assert cechef.message["Subject"] == "[Eskalering] riskreg: påminnelse om 1 ärende (1 försenat)"
    assert cechef.text().count("Utbetalningar till privata vårdgivare 2025") == 1
    assert "chef@region.test" not in mail.by_rcpt()  # the HSF manager: once per due date
    keys = set(sent_keys(app))
    assert f"control:{world.control}|overdue:14|2025-09-04|cechef@region.test" in keys
    assert f"control:{world.control}|escalation:14|2025-09-04|cechef@region.test" in keys
    with app.app_context():
        note = db.session.scalars(
            select(Notification).where(
                Notification.user_id == world.users["cechef"],
                Notification.item_kind == "control",
                Notification.reason == "escalation",
            )
        ).one()
        assert note.due_date == dt.date(2025, 9, 4)


def test_nothing_on_midsommarafton_sent_the_next_working_day(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    # Due Friday 4 July 2025: "14 days before" is Friday 20 June, Midsommarafton.
    with app.app_context():
        control = db.session.get(Control, world.control)
        unit = control.responsible_unit
        action = raise_action(
            db.session,
            control,
            description="Stäm av passerkort mot HR-systemet",
            owner_unit=unit,
            due_date=dt.date(2025, 7, 4),
            actor=None,
            now=dt.datetime(2025, 6, 2, 8, 0, tzinfo=dt.UTC),
        )
        db.session.commit()
        action_id = action.id

    eve = send("2025-06-20T07:00")
    assert eve.exit_code == 0, eve.stderr
    assert "2025-06-20 är ingen arbetsdag (Midsommarafton)" in eve.stdout
    assert mail.received == []
    assert log_rows(app) == []

    weekend = send("2025-06-21T07:00")
    assert "(Midsommardagen)" in weekend.stdout
    assert mail.received == []

    monday = send("2025-06-23T07:00")
    assert monday.exit_code == 0, monday.stderr
    assert set(mail.by_rcpt()) == CE_ADDRESSES
    assert {r.dedup_key.split("|")[1] for r in log_rows(app)} == {"before:14"}
    assert all(r.scheduled_on == dt.date(2025, 6, 20) for r in log_rows(app))
    assert all(r.item_id == action_id for r in log_rows(app))
    assert "Sista dag 2025-07-04, om 11 dagar" in mail.by_rcpt()["anna@region.test"].text()


def test_a_live_claim_blocks_and_an_expired_claim_is_taken_over(
    app: Flask, world: World, mail: MailHandler, send: Callable[..., Run]
) -> None:
    """A run that died after claiming: its claims block until the claim timeout (60 min)."""
    with app.app_context():

        def crash(messages: object, config: object) -> None:
            raise SystemExit("killed")  # like a process stopped while sending

        with pytest.raises(SystemExit):
            run_reminders(
                db.session,
                now=dt.datetime(2025, 9, 1, 5, 0, tzinfo=dt.UTC),
                at=now_utc(),
                mail=MailSettings.from_config(app.config),
                send=crash,  # type: ignore[arg-type]
            )
    # An orderly interruption releases the claims at once ...
    assert {r.state for r in log_rows(app)} == {"failed"}
    assert all("Körningen avbröts" in r.smtp_result for r in log_rows(app))

    # ... a hard crash leaves them claimed: simulate one that happened just now.
    def crashed_minutes_ago(minutes: int) -> None:
        with app.app_context():
            db.session.execute(
                update(SentReminder).values(
                    state="claimed", claimed_at=now_utc() - dt.timedelta(minutes=minutes)
                )
            )
            db.session.commit()

    crashed_minutes_ago(1)
    # A run deciding for a later moment (--now) still measures the claim on the real clock.
    blocked = send("2025-09-01T09:30")
    assert blocked.exit_code == 0, blocked.stderr
    assert "0 påminnelser att skicka, 10 redan skickade eller under utskick" in blocked.stdout
    assert mail.received == []

    crashed_minutes_ago(61)
    taken_over = send("2025-09-01T09:31")
    assert taken_over.exit_code == 0, taken_over.stderr
    assert len(mail.received) == 6
    assert {r.state for r in log_rows(app)} == {"sent"}


def test_bad_mail_configuration_exits_2_before_claiming(
    app: Flask,
    world: World,
    send: Callable[..., Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "MAIL_USE_SSL", True)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", True)

    run = send(MONDAY)

    assert run.exit_code == 2
    assert "MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (implicit TLS) exclude" in run.stderr
    assert log_rows(app) == []


def test_now_must_be_a_date_time(send: Callable[..., Run]) -> None:
    run = send("i morgon")
    assert run.exit_code == 2
    assert "ingen ISO-tidpunkt" in run.stderr


def test_notifications_in_the_app_after_a_run(
    app: Flask, world: World, send: Callable[..., Run]
) -> None:
    from tests.conftest import login

    assert send(MONDAY).exit_code == 0
    client = app.test_client()
    login(client, "anna", PASSWORD)

    page = client.get("/reminders/notifications").get_data(as_text=True)
    # The two reminders of the run, and the notice of the new action when it was raised.
    assert page.count('data-testid="notification"') == 3
    assert "Återkräv felaktiga utbetalningar från vårdgivaren" in page
    assert f'href="/controls/actions/{world.action_ce}"' in page
    assert 'data-testid="unread-count">3' in page

    with app.app_context():
        mine = db.session.scalars(
            select(Notification).where(Notification.user_id == world.users["anna"])
        ).all()
        others = db.session.scalars(
            select(Notification).where(Notification.user_id != world.users["anna"])
        ).all()
    # Someone else's notification id changes nothing.
    client.post("/reminders/notifications/read", data={"notification_id": others[0].id})
    with app.app_context():
        assert db.session.get(Notification, others[0].id).read_at is None

    response = client.post("/reminders/notifications/read", data={"notification_id": mine[0].id})
    assert response.status_code == 302
    page = client.get("/reminders/notifications").get_data(as_text=True)
    assert 'data-testid="unread-count">2' in page

    client.post("/reminders/notifications/read", data={"all": "1"})
    page = client.get("/reminders/notifications?unread=1").get_data(as_text=True)
    assert 'data-testid="notification"' not in page
    assert "unread-count" not in page
