"""Workflow guards (issue 14.5): approval over unverified actions, assignment notices."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from riskreg.controls.guards import attach_action_evidence, suggest_check_type
from riskreg.controls.models import Action, CheckType, Control
from riskreg.controls.services import (
    answer_action,
    change_status,
    raise_action,
    set_conclusion,
    verify_action,
)
from riskreg.errors import ServiceError
from riskreg.extensions import db
from riskreg.reminders.notifications import notifications_for
from riskreg.risks.models import Risk
from riskreg.storage import check_storage
from riskreg.uploads import check_upload
from tests.conftest import login

NOW = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


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
            db.session,
            control,
            "approved",
            actor=users["chef"],
            now=NOW,
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


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("privata vårdgivare", CheckType.PAYMENTS),
        ("passerkort", CheckType.PASSCARDS),
        ("basala hygienrutiner", CheckType.HYGIENE),
        ("remisshantering", CheckType.REFERRALS),
        ("Avtal gällande personal", CheckType.GENERIC),
    ],
)
def test_a_plan_row_suggests_its_check_type(
    app: Flask, demo: dict[str, str], fragment: str, expected: CheckType
) -> None:
    with app.app_context():
        risk = db.session.scalar(select(Risk).where(Risk.title.contains(fragment)))
        assert risk is not None
        assert suggest_check_type(risk) == expected


def test_the_new_control_form_preselects_the_suggested_type(
    app: Flask, demo: dict[str, str]
) -> None:
    with app.app_context():
        risk_id = db.session.scalar(select(Risk.id).where(Risk.title.contains("passerkort")))
    client = app.test_client()
    login(client, "granskare", demo["granskare"])
    page = client.get(f"/controls/new?risk={risk_id}").get_data(as_text=True)
    assert '<option selected value="passcards">' in page
    assert "Föreslagen utifrån planraden" in page


def test_the_owner_unit_is_notified_in_the_app_of_a_new_action(world) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
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
    db.session.commit()
    ce = users["ce"]
    notes = notifications_for(db.session, ce)
    assert [(n.item_kind, n.item_id, n.reason) for n in notes] == [
        ("action", action.id, "assigned")
    ]
    assert notes[0].url_path == f"/controls/actions/{action.id}"
    assert notifications_for(db.session, users["granskare"]) == []  # not the one who raised it


def test_evidence_cannot_be_added_to_a_verified_action(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    action = _submitted_with_answered_action(users, units, control)
    change_status(
        db.session, control, "in_progress", actor=users["chef"], now=NOW, note="Verifiera"
    )
    verify_action(db.session, action, accepted=True, note="", actor=users["granskare"], now=NOW)
    upload = check_upload(
        FileStorage(io.BytesIO(b"Faktura 2025-117\n"), filename="faktura.txt"),
        allowed={"txt"},
        max_bytes=10_000,
    )
    with upload, pytest.raises(ServiceError, match="redan verifierad"):
        attach_action_evidence(
            db.session, action, upload, storage=tmp_path, actor=users["ce"], now=NOW
        )
    assert action.evidence == []


def test_an_answer_file_is_no_orphan_for_the_storage_check(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    users, units, control = world
    action = _submitted_with_answered_action(users, units, control)
    upload = check_upload(
        FileStorage(io.BytesIO(b"Faktura 2025-117\n"), filename="faktura.txt"),
        allowed={"txt"},
        max_bytes=10_000,
    )
    with upload:
        stored = attach_action_evidence(
            db.session, action, upload, storage=tmp_path / "evidence", actor=users["ce"], now=NOW
        )
    db.session.commit()
    assert (tmp_path / "evidence" / stored.stored_name).read_bytes() == b"Faktura 2025-117\n"
    report = check_storage(
        db.session,
        reports_dir=tmp_path / "reports",
        evidence_dir=tmp_path / "evidence",
        now=datetime(2099, 1, 1, tzinfo=UTC),
    )
    assert report.orphans == () and report.missing == ()
