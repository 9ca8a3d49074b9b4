"""The service layer around the pure core: items, recipients, the policy row, the claim."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask
from reminders_helpers import STHLM, World
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, Control
from riskreg.controls.services import (
    answer_action,
    change_status,
    set_conclusion,
)
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.reminders.claims import blocking_keys, claim_reminders, release_claims
from riskreg.reminders.cli import parse_now
from riskreg.reminders.decide import DueReminder, due_reminders
from riskreg.reminders.models import SentReminder
from riskreg.reminders.paths import short_title
from riskreg.reminders.policy import ReminderPolicy
from riskreg.reminders.policy_store import ensure_policy, load_policy, parse_days, save_policy
from riskreg.reminders.recipients import RecipientDirectory, open_items
from riskreg.reminders.services import MailSettings

NOW = dt.datetime(2025, 9, 1, 5, 0, tzinfo=dt.UTC)


@pytest.fixture
def session(app: Flask, world: World) -> Iterator[object]:
    with app.app_context():
        yield db.session
        db.session.rollback()


def by_name(session: object) -> dict[str, User]:
    return {u.username: u for u in db.session.scalars(select(User))}


def unit(code: str) -> Unit:
    found = db.session.scalar(select(Unit).where(Unit.code == code))
    assert found is not None
    return found


# --- items ------------------------------------------------------------------------------------


def test_open_items_are_unapproved_controls_and_unverified_actions(
    session: object, world: World
) -> None:
    items = {(i.kind, i.item_id): i for i in open_items(db.session)}
    assert set(items) == {
        ("control", world.control),
        ("action", world.action_ce),
        ("action", world.action_smitta),
    }
    control = items[("control", world.control)]
    assert control.url_path == f"/controls/{world.control}"
    assert control.owner_unit_code == "CE"
    assert control.due_date == dt.date(2025, 9, 4)
    assert items[("action", world.action_ce)].url_path == f"/controls/actions/{world.action_ce}"

    users = by_name(session)
    # An answered action waits for the controller, not the unit: no more unit reminders.
    answer_action(
        db.session,
        db.session.get(Action, world.action_smitta),
        answer="Gjort.",
        actor=users["maria"],
        now=NOW,
    )
    # An approved control is done.
    c = db.session.get(Control, world.control)
    change_status(db.session, c, "in_progress", actor=users["granskare"], now=NOW)
    set_conclusion(db.session, c, "Inga fel.")
    change_status(db.session, c, "ready_for_review", actor=users["granskare"], now=NOW)
    # Approved over the answered (unverified) action, which the approver must give a reason for.
    change_status(
        db.session,
        c,
        "approved",
        actor=users["chef"],
        now=NOW,
        note="Svaret räcker.",
        override_unverified=True,
    )
    assert {(i.kind, i.item_id) for i in open_items(db.session)} == {
        ("action", world.action_ce),
    }


def test_short_title() -> None:
    assert short_title("Återkräv\nfrån vårdgivaren") == "Återkräv"
    assert short_title("  många   mellanslag ") == "många mellanslag"
    assert short_title("") == ""
    long = short_title("å" * 500)
    assert len(long) == 160 and long.endswith("…")


# --- recipients -------------------------------------------------------------------------------


def test_unit_recipients_are_the_mailbox_and_active_members(session: object, world: World) -> None:
    directory = RecipientDirectory(db.session)
    found = directory.recipients_for_unit(world.units["CE"])
    assert [(r.address, r.locale, r.user_id is None) for r in found] == [
        ("ce@region.test", "sv", True),
        ("anna@region.test", "sv", False),
        ("bob@region.test", "en", False),
        ("cechef@region.test", "sv", False),
    ]  # not the inactive member
    assert directory.recipients_for_unit(world.units["HSF"])[0].address == "admin@region.test"


def test_escalation_goes_to_the_manager_or_the_nearest_one_above(
    session: object, world: World
) -> None:
    directory = RecipientDirectory(db.session)
    ce_boss = directory.manager_for_unit(world.units["CE"])
    assert ce_boss is not None and ce_boss.address == "cechef@region.test"
    smitta_boss = directory.manager_for_unit(world.units["Smittskydd"])
    assert smitta_boss is not None and smitta_boss.address == "chef@region.test"
    assert smitta_boss.unit_id == world.units["Smittskydd"]

    by_name(session)["cechef"].active = False
    db.session.flush()
    directory = RecipientDirectory(db.session)
    fallback = directory.manager_for_unit(world.units["CE"])
    assert fallback is not None and fallback.address == "chef@region.test"

    unit("HSF").manager = None
    db.session.flush()
    assert RecipientDirectory(db.session).manager_for_unit(world.units["CE"]) is None


def test_an_unusable_mailbox_is_skipped_and_reported(session: object, world: World) -> None:
    unit("CE").email = "ekonomi region.test"
    db.session.flush()
    directory = RecipientDirectory(db.session)
    addresses = [r.address for r in directory.recipients_for_unit(world.units["CE"])]
    assert "ekonomi region.test" not in addresses and "anna@region.test" in addresses
    assert directory.problems == ["ogiltig e-postadress hoppas över: 'ekonomi region.test'"]


# --- the log as arbiter -----------------------------------------------------------------------


def _due(now: dt.datetime, already_sent: frozenset[str] = frozenset()) -> list[DueReminder]:
    directory = RecipientDirectory(db.session)
    return due_reminders(
        open_items(db.session),
        load_policy(db.session),
        now,
        directory.recipients_for_unit,
        directory.manager_for_unit,
        already_sent,
    )


def test_dropping_blocked_keys_equals_passing_them_as_already_sent(
    session: object, world: World
) -> None:
    """run_reminders filters the candidates instead of calling due_reminders twice."""
    for day in range(1, 30):
        now = dt.datetime(2025, 9, day, 5, 0, tzinfo=dt.UTC)
        candidates = _due(now)
        sent = frozenset(r.dedup_key for r in candidates[::3])
        assert [r for r in candidates if r.dedup_key not in sent] == _due(now, sent)


def test_claims_are_won_once_and_released_claims_can_be_won_again(
    session: object, world: World
) -> None:
    reminders = _due(NOW)
    assert len(reminders) == 10
    hour = dt.timedelta(hours=1)

    first = claim_reminders(db.session, reminders, run_id="a", now=NOW, claim_timeout=hour)
    assert first == reminders
    assert claim_reminders(db.session, reminders, run_id="b", now=NOW, claim_timeout=hour) == []
    keys = [r.dedup_key for r in reminders]
    assert blocking_keys(db.session, keys, now=NOW, claim_timeout=hour) == set(keys)

    # Releasing someone else's claims does nothing; releasing one's own makes them retryable.
    assert release_claims(db.session, keys, run_id="b", error="x") == 0
    assert release_claims(db.session, keys[:2], run_id="a", error="550 nej", code=550) == 2
    assert blocking_keys(db.session, keys, now=NOW, claim_timeout=hour) == set(keys[2:])
    again = claim_reminders(db.session, reminders, run_id="c", now=NOW, claim_timeout=hour)
    assert [r.dedup_key for r in again] == keys[:2]
    rows = db.session.scalars(select(SentReminder).where(SentReminder.run_id == "c")).all()
    assert {(r.state, r.attempts, r.smtp_code, r.smtp_result) for r in rows} == {
        ("claimed", 2, None, "")
    }

    # After the timeout a claim is no longer live.
    later = NOW + hour + dt.timedelta(seconds=1)
    assert blocking_keys(db.session, keys, now=later, claim_timeout=hour) == set()
    taken = claim_reminders(db.session, reminders, run_id="d", now=later, claim_timeout=hour)
    assert len(taken) == 10


# --- policy -----------------------------------------------------------------------------------


def test_the_default_policy_applies_until_one_is_saved(session: object, world: World) -> None:
    assert load_policy(db.session) == ReminderPolicy()
    row = ensure_policy(db.session, now=NOW)
    assert ensure_policy(db.session, now=NOW) is row
    assert row.days_before == "14,3" and row.escalate_after_days == 14
    assert row.to_policy() == ReminderPolicy()


def test_save_policy_validates_and_normalises(session: object, world: World) -> None:
    admin = by_name(session)["admin"]
    row = save_policy(
        db.session,
        days_before=(3, 21),
        on_due_date=False,
        repeat_overdue_every_days=None,
        escalate_after_days=30,
        repeat_escalation_every_days=7,
        actor=admin,
        now=NOW,
    )
    assert row.days_before == "21,3"
    assert load_policy(db.session) == ReminderPolicy(
        days_before=(21, 3),
        on_due_date=False,
        repeat_overdue_every_days=None,
        escalate_after_days=30,
        repeat_escalation_every_days=7,
    )
    with pytest.raises(ServiceError, match="Upprepa efter sista dag: ange 1–366 dagar"):
        save_policy(
            db.session,
            days_before=(14,),
            on_due_date=True,
            repeat_overdue_every_days=0,
            escalate_after_days=None,
            repeat_escalation_every_days=None,
            actor=admin,
            now=NOW,
        )


def test_parse_days() -> None:
    assert parse_days("14, 3") == (14, 3)
    assert parse_days("14 3;1") == (14, 3, 1)
    assert parse_days("") == ()
    with pytest.raises(ServiceError):
        parse_days("14, tre")


# --- the command's edges ----------------------------------------------------------------------


def test_now_without_an_offset_is_swedish_time() -> None:
    assert parse_now("2025-06-23T07:00") == dt.datetime(2025, 6, 23, 5, 0, tzinfo=dt.UTC)
    assert parse_now("2025-12-01T07:00") == dt.datetime(2025, 12, 1, 6, 0, tzinfo=dt.UTC)
    assert parse_now("2025-06-23T05:00Z") == dt.datetime(2025, 6, 23, 5, 0, tzinfo=dt.UTC)
    assert parse_now("2025-06-23T07:00+02:00").astimezone(STHLM).hour == 7


def test_claim_timeout_setting() -> None:
    assert MailSettings.from_config({}).claim_timeout == dt.timedelta(minutes=60)
    settings = MailSettings.from_config({"REMINDER_CLAIM_TIMEOUT_MINUTES": "15"})
    assert settings.claim_timeout == dt.timedelta(minutes=15)
    with pytest.raises(ServiceError):
        MailSettings.from_config({"REMINDER_CLAIM_TIMEOUT_MINUTES": 0})
    with pytest.raises(ServiceError):
        MailSettings.from_config({"REMINDER_CLAIM_TIMEOUT_MINUTES": "en timme"})


def test_demo_step_creates_the_policy_row(app: Flask) -> None:
    from riskreg.db import now_utc
    from riskreg.demo import load_demo
    from riskreg.reminders.models import ReminderPolicySetting

    with app.app_context():
        load_demo(db.session, now=now_utc())
        db.session.commit()
        row = db.session.get(ReminderPolicySetting, 1)
        assert row is not None and row.updated_by.username == "admin"
        assert row.to_policy() == ReminderPolicy()
