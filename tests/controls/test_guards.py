"""Workflow guards (issue 14.5): approval over unverified actions, assignment notices."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, Control
from riskreg.controls.services import (
    answer_action,
    change_status,
    create_control,
    raise_action,
    set_conclusion,
    verify_action,
)
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.risks.models import Risk

NOW = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


@pytest.fixture()
def world(app: Flask, demo: dict[str, str]):  # type: ignore[no-untyped-def]
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        units = {u.code: u for u in db.session.scalars(select(Unit))}
        risk = db.session.scalar(select(Risk).where(Risk.title.contains("privata vårdgivare")))
        control = create_control(
            db.session,
            risk,
            title="Utbetalningar jan–maj 2025",
            check_type="payments",
            responsible_unit=units["CE"],
            controllers=[users["granskare"]],
            deviation_definition="Belopp som inte följer avtalets prislista.",
            actor=users["admin"],
            now=NOW,
        )
        db.session.commit()
        yield users, units, control


def _submitted_with_answered_action(users, units, control: Control) -> Action:  # type: ignore[no-untyped-def]
    change_status(db.session, control, "in_progress", actor=users["granskare"], now=NOW)
    action = raise_action(
        db.session,
        control,
        description="Återkräv felaktig ersättning",
        owner_unit=units["CE"],
        due_date=date(2025, 6, 30),
        actor=users["granskare"],
        now=NOW,
    )
    answer_action(db.session, action, answer="Återkrav skickat", actor=users["ce"], now=NOW)
    set_conclusion(db.session, control, "Ett fel, återkrävt.")
    change_status(db.session, control, "ready_for_review", actor=users["granskare"], now=NOW)
    return action


def test_approval_is_refused_while_an_answer_is_unverified(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    action = _submitted_with_answered_action(users, units, control)
    with pytest.raises(ServiceError, match=f"inte har verifierat: {action.id}"):
        change_status(db.session, control, "approved", actor=users["chef"], now=NOW, note="Ok")
    assert control.status == "ready_for_review"
    # An override needs a reason.
    with pytest.raises(ServiceError, match="Ange skäl"):
        change_status(
            db.session, control, "approved", actor=users["chef"], now=NOW,
            override_unverified=True,
        )
    assert control.status == "ready_for_review"


def test_override_with_a_reason_is_recorded_in_the_history(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    action = _submitted_with_answered_action(users, units, control)
    change_status(
        db.session,
        control,
        "approved",
        actor=users["chef"],
        now=NOW,
        note="Fakturan är sedd av mig",
        override_unverified=True,
    )
    assert control.status == "approved"
    note = control.events[-1].note
    assert f"overifierade åtgärder ({action.id})" in note
    assert "Fakturan är sedd av mig" in note


def test_verified_actions_need_no_override(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    action = _submitted_with_answered_action(users, units, control)
    change_status(
        db.session, control, "in_progress", actor=users["chef"], now=NOW, note="Verifiera"
    )
    verify_action(db.session, action, accepted=True, note="", actor=users["granskare"], now=NOW)
    change_status(db.session, control, "ready_for_review", actor=users["granskare"], now=NOW)
    change_status(db.session, control, "approved", actor=users["chef"], now=NOW)
    assert control.status == "approved"
    assert control.events[-1].note == ""
