from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from riskreg.controls.models import ActionStatus, Control, ControlStatus
from riskreg.controls.services import (
    answer_action,
    change_status,
    raise_action,
    record_deviation,
    set_conclusion,
    verify_action,
)
from riskreg.errors import NotAllowed, ServiceError
from riskreg.extensions import db

NOW = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


def test_deadline_defaults_to_the_plan_row(world) -> None:  # type: ignore[no-untyped-def]
    _, _, control = world
    assert control.deadline == date(2025, 8, 15)
    assert [e.to_status for e in control.events] == ["planned"]


def test_full_cycle_with_segregation_of_duties(world) -> None:  # type: ignore[no-untyped-def]
    users, _, control = world
    change_status(db.session, control, "in_progress", actor=users["granskare"], now=NOW)
    with pytest.raises(ServiceError, match="slutsats"):
        change_status(db.session, control, "ready_for_review", actor=users["granskare"], now=NOW)
    set_conclusion(db.session, control, "Inga väsentliga fel.")
    change_status(db.session, control, "ready_for_review", actor=users["granskare"], now=NOW)
    with pytest.raises(NotAllowed):
        change_status(db.session, control, "approved", actor=users["admin"], now=NOW)
    change_status(db.session, control, "approved", actor=users["chef"], now=NOW)
    assert control.approved_by.username == "chef"
    # Reopening: never by the controller alone; the approver who approved it, with a reason.
    with pytest.raises(NotAllowed, match="godkännaren som godkände den"):
        change_status(
            db.session, control, "in_progress", actor=users["granskare"], now=NOW, note="Ny"
        )
    with pytest.raises(ServiceError, match="skäl"):
        change_status(db.session, control, "in_progress", actor=users["chef"], now=NOW)
    change_status(
        db.session, control, "in_progress", actor=users["chef"], now=NOW, note="Nya underlag"
    )
    assert control.approved_by is None
    db.session.commit()
    steps = [(e.from_status, e.to_status) for e in db.session.get(Control, control.id).events]
    assert steps == [
        (None, "planned"),
        ("planned", "in_progress"),
        ("in_progress", "ready_for_review"),
        ("ready_for_review", "approved"),
        ("approved", "in_progress"),
    ]


def test_controller_cannot_approve_own_work(world) -> None:  # type: ignore[no-untyped-def]
    users, _, control = world
    chef = users["chef"]
    control.controllers.append(chef)
    change_status(db.session, control, "in_progress", actor=users["granskare"], now=NOW)
    set_conclusion(db.session, control, "OK")
    change_status(db.session, control, "ready_for_review", actor=users["granskare"], now=NOW)
    with pytest.raises(NotAllowed, match="utfört"):
        change_status(db.session, control, "approved", actor=chef, now=NOW)


def test_skipping_a_status_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    users, _, control = world
    with pytest.raises(ServiceError, match="kan inte gå"):
        change_status(db.session, control, "approved", actor=users["chef"], now=NOW)
    assert control.status == ControlStatus.PLANNED


def test_action_is_answered_by_unit_and_verified_by_controller(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    change_status(db.session, control, "in_progress", actor=users["granskare"], now=NOW)
    deviation = record_deviation(
        db.session,
        control,
        description="Fel pris för besök",
        actor=users["granskare"],
        now=NOW,
        recovery_claim_ore=125_000,
    )
    action = raise_action(
        db.session,
        control,
        description="Återkräv felaktig ersättning",
        owner_unit=units["CE"],
        due_date=date(2025, 6, 30),
        actor=users["granskare"],
        now=NOW,
        deviation=deviation,
    )
    with pytest.raises(ServiceError, match="besvarad"):
        verify_action(db.session, action, accepted=True, note="", actor=users["granskare"], now=NOW)
    answer_action(db.session, action, answer="Återkrav skickat", actor=users["ce"], now=NOW)
    with pytest.raises(ServiceError, match="varför"):
        verify_action(
            db.session, action, accepted=False, note="", actor=users["granskare"], now=NOW
        )
    verify_action(
        db.session,
        action,
        accepted=False,
        note="Bifoga fakturan",
        actor=users["granskare"],
        now=NOW,
    )
    assert action.status == ActionStatus.OPEN
    answer_action(db.session, action, answer="Faktura bifogad", actor=users["ce"], now=NOW)
    verify_action(db.session, action, accepted=True, note="", actor=users["granskare"], now=NOW)
    assert action.is_done and action.verified_by.username == "granskare"


def test_action_due_in_the_past_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    with pytest.raises(ServiceError, match="förflutna"):
        raise_action(
            db.session,
            control,
            description="x",
            owner_unit=units["CE"],
            due_date=date(2025, 5, 1),
            actor=users["granskare"],
            now=NOW,
        )


def test_today_is_the_swedish_date_even_late_in_the_utc_evening(world) -> None:  # type: ignore[no-untyped-def]
    """At 23:30 UTC on 22 November it is already 23 November in Stockholm: the 22nd is past."""
    users, units, control = world
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    with pytest.raises(ServiceError, match="förflutna"):
        raise_action(
            db.session,
            control,
            description="Rätta rutinen",
            owner_unit=units["CE"],
            due_date=date(2026, 11, 22),
            actor=users["granskare"],
            now=late,
        )
    action = raise_action(
        db.session,
        control,
        description="Rätta rutinen",
        owner_unit=units["CE"],
        due_date=date(2026, 11, 23),
        actor=users["granskare"],
        now=late,
    )
    assert action.due_date == date(2026, 11, 23)


def test_an_approver_of_another_unit_cannot_approve(world) -> None:  # type: ignore[no-untyped-def]
    """The service holds the same unit-scope rule as permissions.can_approve_control."""
    from riskreg.auth.models import Role
    from riskreg.auth.services import create_user

    users, units, control = world
    outsider = create_user(
        db.session,
        username="godk_smitta",
        email="godk_smitta@example.org",
        full_name="Godkännare Smittskydd",
        password="korrekt-häst-batteri-47",
        role=Role.APPROVER,
        units=[units["Smittskydd"]],
    )
    change_status(db.session, control, "in_progress", actor=users["granskare"], now=NOW)
    set_conclusion(db.session, control, "Inga väsentliga fel.")
    change_status(db.session, control, "ready_for_review", actor=users["granskare"], now=NOW)
    with pytest.raises(NotAllowed, match="enhet"):
        change_status(db.session, control, "approved", actor=outsider, now=NOW)
    assert control.status == ControlStatus.READY_FOR_REVIEW
    assert control.approved_by is None
    change_status(db.session, control, "approved", actor=users["chef"], now=NOW)  # HSF covers CE
    assert control.status == ControlStatus.APPROVED
