"""The service additions the pages need: editing a planned control, version and status checks,
the list queries, overdue, and the due-date history read back from the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from riskreg.audit.context import because
from riskreg.audit.models import AuditEntry
from riskreg.auth.models import Unit, User
from riskreg.controls.models import Action, CheckType, Control, ControlStatus
from riskreg.controls.services import (
    ActionFilter,
    ControlFilter,
    action_query,
    answer_action,
    change_action_due_date,
    change_status,
    control_query,
    due_date_history,
    is_overdue,
    raise_action,
    set_conclusion,
    update_control,
    verify_action,
)
from riskreg.errors import ServiceError, StaleObject
from riskreg.extensions import db

NOW = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


@pytest.fixture()
def world(app: Flask, demo: dict[str, str]):  # type: ignore[no-untyped-def]
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(select(User))}
        units = {u.code: u for u in db.session.scalars(select(Unit))}
        payments = db.session.scalar(
            select(Control).where(Control.check_type == CheckType.PAYMENTS.value)
        )
        yield users, units, payments
        db.session.rollback()


def _edit(control: Control, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "title": control.title,
        "controllers": list(control.controllers),
        "deadline": control.deadline,
        "deviation_definition": control.deviation_definition,
        "attributes_text": control.attributes_text,
    }
    fields.update(changes)
    return fields


def test_update_control_while_planned(world) -> None:  # type: ignore[no-untyped-def]
    _, _, control = world
    version = control.version
    update_control(
        db.session,
        control,
        **_edit(control, title="  Ny titel  ", deadline=date(2025, 9, 1)),  # type: ignore[arg-type]
        expected_version=version,
    )
    db.session.commit()
    assert control.title == "Ny titel" and control.deadline == date(2025, 9, 1)
    assert control.version == version + 1
    with pytest.raises(StaleObject):
        update_control(
            db.session,
            control,
            **_edit(control, title="Gammal"),  # type: ignore[arg-type]
            expected_version=version,
        )


def test_changing_only_the_controllers_bumps_the_version_and_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    users, _, control = world
    version = control.version
    update_control(
        db.session,
        control,
        **_edit(control, controllers=[users["granskare"], users["granskare2"]]),  # type: ignore[arg-type]
        expected_version=version,
    )
    db.session.commit()
    db.session.expire_all()
    assert control.version == version + 1
    assert {u.username for u in control.controllers} == {"granskare", "granskare2"}
    entries = list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == "control",
                AuditEntry.object_id == str(control.id),
                AuditEntry.action == "assign",
            )
            .order_by(AuditEntry.id)
        )
    )
    changes = [json.loads(e.payload)["changes"] for e in entries]
    assert changes == [
        {"controllers": "granskare"},
        {"controllers": "granskare, granskare2", "previous_controllers": "granskare"},
    ]


def test_update_refuses_non_controllers_and_started_controls(world) -> None:  # type: ignore[no-untyped-def]
    users, _, control = world
    with pytest.raises(ServiceError, match="Bara granskare"):
        update_control(db.session, control, **_edit(control, controllers=[users["chef"]]))  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="Minst en granskare"):
        update_control(db.session, control, **_edit(control, controllers=[]))  # type: ignore[arg-type]
    db.session.rollback()
    change_status(db.session, control, "in_progress", actor=users["granskare"], now=NOW)
    with pytest.raises(ServiceError, match="medan den är planerad"):
        update_control(db.session, control, **_edit(control, title="x"))  # type: ignore[arg-type]


def test_generic_control_keeps_its_attributes(world) -> None:  # type: ignore[no-untyped-def]
    assert world
    generic = db.session.scalars(
        select(Control).where(
            Control.check_type == CheckType.GENERIC.value,
            Control.status == ControlStatus.PLANNED.value,
        )
    ).first()
    with pytest.raises(ServiceError, match="attribut"):
        update_control(db.session, generic, **_edit(generic, attributes_text=" "))  # type: ignore[arg-type]


def test_expected_status_names_the_step(world) -> None:  # type: ignore[no-untyped-def]
    users, _, control = world
    with pytest.raises(ServiceError, match="har status ”Planerad”"):
        change_status(
            db.session,
            control,
            "in_progress",
            actor=users["chef"],
            now=NOW,
            note="x",
            expected_status=ControlStatus.READY_FOR_REVIEW,
        )
    assert control.status == ControlStatus.PLANNED
    with pytest.raises(ServiceError, match="från ”Planerad” till ”Godkänd”"):
        change_status(db.session, control, "approved", actor=users["chef"], now=NOW)


def test_conclusion_and_action_steps_check_the_version(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    with pytest.raises(StaleObject):
        set_conclusion(db.session, control, "x", expected_version=control.version + 1)
    set_conclusion(db.session, control, "x", expected_version=control.version)
    action = raise_action(
        db.session,
        control,
        description="Gör något",
        owner_unit=units["CE"],
        due_date=date(2025, 6, 1),
        actor=users["granskare"],
        now=NOW,
    )
    db.session.flush()
    stale = action.version + 1
    with pytest.raises(StaleObject):
        answer_action(
            db.session, action, answer="Gjort", actor=users["ce"], now=NOW, expected_version=stale
        )
    answer_action(
        db.session,
        action,
        answer="Gjort",
        actor=users["ce"],
        now=NOW,
        expected_version=action.version,
    )
    with pytest.raises(StaleObject):
        verify_action(
            db.session,
            action,
            accepted=True,
            note="",
            actor=users["granskare"],
            now=NOW,
            expected_version=action.version - 1,
        )
    with pytest.raises(StaleObject):
        change_action_due_date(
            db.session,
            action,
            due_date=date(2025, 7, 1),
            reason="x",
            now=NOW,
            expected_version=action.version - 1,
        )
    with pytest.raises(ServiceError, match="annat datum"):
        change_action_due_date(db.session, action, due_date=action.due_date, reason="x", now=NOW)


def test_due_date_history_comes_from_the_audit_trail(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    action = raise_action(
        db.session,
        control,
        description="Gör något",
        owner_unit=units["CE"],
        due_date=date(2025, 6, 1),
        actor=users["granskare"],
        now=NOW,
    )
    db.session.commit()
    change_action_due_date(
        db.session, action, due_date=date(2025, 7, 1), reason="Semester", now=NOW
    )
    with because(None):
        answer_action(db.session, action, answer="Klart", actor=users["ce"], now=NOW)
    change_action_due_date(
        db.session, action, due_date=date(2025, 8, 1), reason="Väntar på leverantör", now=NOW
    )
    db.session.commit()
    history = due_date_history(db.session, action)
    assert [(h.old, h.new, h.reason) for h in history] == [
        ("2025-06-01", "2025-07-01", "Semester"),
        ("2025-07-01", "2025-08-01", "Väntar på leverantör"),
    ]


def test_list_queries_and_overdue(world) -> None:  # type: ignore[no-untyped-def]
    _, units, control = world
    everything = list(db.session.scalars(control_query(ControlFilter())))
    assert len(everything) == 7
    deadlines = [c.deadline for c in everything]
    assert deadlines == sorted(deadlines)
    assert [
        c.id for c in db.session.scalars(control_query(ControlFilter(risk_id=control.risk_id)))
    ] == [control.id]
    assert len(list(db.session.scalars(control_query(ControlFilter(check_type="generic"))))) == 3
    assert len(list(db.session.scalars(control_query(ControlFilter(status="in_progress"))))) == 1
    assert len(list(db.session.scalars(control_query(ControlFilter(unit_id=units["CE"].id))))) == 2

    today = date(2025, 8, 16)
    assert is_overdue(control, today) and not is_overdue(control, date(2025, 8, 15))
    control.status = ControlStatus.APPROVED.value
    assert not is_overdue(control, today)
    db.session.rollback()

    actions = list(db.session.scalars(action_query(ActionFilter(), today=today)))
    assert len(actions) == 2  # the demo's CHR actions
    late_today = max(a.due_date for a in actions) + timedelta(days=1)
    overdue = list(db.session.scalars(action_query(ActionFilter(overdue=True), today=late_today)))
    assert len(overdue) == 2
    assert all(is_overdue(a, late_today) for a in overdue)
    first = min(actions, key=lambda a: a.due_date)
    first.status = "verified"
    db.session.flush()
    assert not is_overdue(first, late_today)
    assert (
        len(list(db.session.scalars(action_query(ActionFilter(overdue=True), today=late_today))))
        == 1
    )
    assert (
        len(list(db.session.scalars(action_query(ActionFilter(status="verified"), today=today))))
        == 1
    )
    assert isinstance(first, Action)
