"""The control workflow: plan a control, move it through its statuses, raise and close actions.

Plain functions that flush and never commit. Permission checks happen in the views; the rules
that hold whoever acts (segregation of duties, reasons for reopening) are enforced here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy.orm import Session

from riskreg.auth.models import Role, Unit, User
from riskreg.controls.models import (
    Action,
    ActionStatus,
    CheckType,
    Control,
    ControlEvent,
    ControlStatus,
    Deviation,
)
from riskreg.errors import NotAllowed, ServiceError, StaleObject
from riskreg.plans.models import Risk

# to_status -> the statuses it may be reached from
TRANSITIONS: dict[ControlStatus, set[ControlStatus]] = {
    ControlStatus.IN_PROGRESS: {
        ControlStatus.PLANNED,
        ControlStatus.READY_FOR_REVIEW,  # sent back by the approver
        ControlStatus.APPROVED,  # reopened
    },
    ControlStatus.READY_FOR_REVIEW: {ControlStatus.IN_PROGRESS},
    ControlStatus.APPROVED: {ControlStatus.READY_FOR_REVIEW},
}


def create_control(
    session: Session,
    risk: Risk,
    *,
    title: str,
    check_type: CheckType | str,
    responsible_unit: Unit,
    controllers: Iterable[User],
    deviation_definition: str,
    deadline: date | None = None,
    attributes_text: str = "",
    actor: User | None,
    now: datetime,
) -> Control:
    """Plan a control of a plan row. The deadline defaults to the plan's "granskning klar"."""
    controllers = list(controllers)
    if not title.strip():
        raise ServiceError("Ange vad granskningen gäller.")
    if not controllers:
        raise ServiceError("Minst en granskare måste tilldelas.")
    not_controllers = [u.username for u in controllers if u.role != Role.CONTROLLER]
    if not_controllers:
        raise ServiceError("Bara granskare kan tilldelas: " + ", ".join(not_controllers))
    deadline = deadline or risk.deadline
    if deadline is None:
        raise ServiceError("Ange när granskningen ska vara klar; planraden saknar datum.")
    check_type = CheckType(check_type)
    if check_type == CheckType.GENERIC and not attributes_text.strip():
        raise ServiceError("Ange vilka attribut som kontrolleras per post (ett per rad).")
    control = Control(
        risk=risk,
        title=title.strip(),
        check_type=check_type.value,
        responsible_unit=responsible_unit,
        deadline=deadline,
        deviation_definition=deviation_definition.strip(),
        attributes_text=attributes_text.strip(),
        controllers=controllers,
        created_by=actor,
        created_at=now,
    )
    session.add(control)
    control.events.append(
        ControlEvent(at=now, actor=actor, from_status=None, to_status=ControlStatus.PLANNED.value)
    )
    session.flush()
    return control


def change_status(
    session: Session,
    control: Control,
    to_status: ControlStatus | str,
    *,
    actor: User,
    now: datetime,
    note: str = "",
    expected_version: int | None = None,
) -> Control:
    """Move a control to its next status, recording who, when and why."""
    if expected_version is not None and control.version != expected_version:
        raise StaleObject("Granskningen har ändrats av någon annan. Ladda om sidan.")
    to_status = ControlStatus(to_status)
    current = control.status_enum
    if current not in TRANSITIONS.get(to_status, set()):
        raise ServiceError(
            f"Granskningen kan inte gå från {current.value} till {to_status.value}."
        )
    note = note.strip()
    if current == ControlStatus.APPROVED and not note:
        raise ServiceError("Ange skäl för att öppna en godkänd granskning igen.")
    sent_back = current == ControlStatus.READY_FOR_REVIEW and to_status == ControlStatus.IN_PROGRESS
    if sent_back and not note:
        raise ServiceError("Ange varför granskningen skickas tillbaka.")
    if to_status == ControlStatus.IN_PROGRESS and not control.deviation_definition.strip():
        raise ServiceError("Skriv vad som räknas som avvikelse innan granskningen påbörjas.")
    if to_status == ControlStatus.READY_FOR_REVIEW and not control.conclusion.strip():
        raise ServiceError("Skriv granskarens slutsats innan granskningen lämnas för godkännande.")
    if to_status == ControlStatus.APPROVED:
        if control.is_controller(actor):
            raise NotAllowed("Den som har utfört granskningen kan inte godkänna den.")
        if actor.role != Role.APPROVER:
            raise NotAllowed("Bara en godkännare kan godkänna granskningen.")
        control.approved_by = actor
        control.approved_at = now
    elif current == ControlStatus.APPROVED:
        control.approved_by = None
        control.approved_at = None
    control.status = to_status.value
    control.events.append(
        ControlEvent(
            at=now, actor=actor, from_status=current.value, to_status=to_status.value, note=note
        )
    )
    session.flush()
    return control


def set_conclusion(session: Session, control: Control, conclusion: str) -> Control:
    if control.status_enum in (ControlStatus.READY_FOR_REVIEW, ControlStatus.APPROVED):
        raise ServiceError("Slutsatsen kan inte ändras när granskningen är lämnad eller godkänd.")
    control.conclusion = conclusion.strip()
    session.flush()
    return control


def require_open_for_testing(control: Control) -> None:
    """Populations, draws and results may change only while the control is being worked on."""
    if control.status_enum in (ControlStatus.READY_FOR_REVIEW, ControlStatus.APPROVED):
        raise ServiceError(
            "Granskningen är lämnad för godkännande eller godkänd och kan inte ändras. "
            "Den måste öppnas igen först."
        )


def record_deviation(
    session: Session,
    control: Control,
    *,
    description: str,
    actor: User | None,
    now: datetime,
    sample_item_id: int | None = None,
    recovery_claim_ore: int | None = None,
) -> Deviation:
    require_open_for_testing(control)
    if not description.strip():
        raise ServiceError("Beskriv avvikelsen.")
    deviation = Deviation(
        control=control,
        sample_item_id=sample_item_id,
        description=description.strip(),
        recovery_claim_ore=recovery_claim_ore,
        created_by=actor,
        created_at=now,
    )
    session.add(deviation)
    session.flush()
    return deviation


def raise_action(
    session: Session,
    control: Control,
    *,
    description: str,
    owner_unit: Unit,
    due_date: date,
    actor: User | None,
    now: datetime,
    deviation: Deviation | None = None,
) -> Action:
    if not description.strip():
        raise ServiceError("Beskriv åtgärden.")
    if due_date < now.date():
        raise ServiceError("Sista dag för åtgärden kan inte ligga i det förflutna.")
    if deviation is not None and deviation.control_id != control.id:
        raise ServiceError("Avvikelsen hör till en annan granskning.")
    action = Action(
        control=control,
        deviation=deviation,
        owner_unit=owner_unit,
        description=description.strip(),
        due_date=due_date,
        created_by=actor,
        created_at=now,
    )
    session.add(action)
    session.flush()
    return action


def answer_action(
    session: Session, action: Action, *, answer: str, actor: User, now: datetime
) -> Action:
    """The owner unit says what it has done; the controller then verifies it."""
    if action.is_done:
        raise ServiceError("Åtgärden är redan verifierad.")
    if not answer.strip():
        raise ServiceError("Beskriv vad som har gjorts.")
    action.answer = answer.strip()
    action.answered_by = actor
    action.answered_at = now
    action.status = ActionStatus.ANSWERED.value
    session.flush()
    return action


def verify_action(
    session: Session,
    action: Action,
    *,
    accepted: bool,
    note: str,
    actor: User,
    now: datetime,
) -> Action:
    """Accept the unit's answer (done) or send the action back to the unit (open again)."""
    if action.status != ActionStatus.ANSWERED:
        raise ServiceError("Bara en besvarad åtgärd kan verifieras.")
    if not accepted and not note.strip():
        raise ServiceError("Ange varför svaret inte räcker.")
    action.verification_note = note.strip()
    if accepted:
        action.status = ActionStatus.VERIFIED.value
        action.verified_by = actor
        action.verified_at = now
    else:
        action.status = ActionStatus.OPEN.value
    session.flush()
    return action


def change_action_due_date(
    session: Session, action: Action, *, due_date: date, reason: str, now: datetime
) -> Action:
    """A new due date; reminders about the old date stop because their keys name that date."""
    if action.is_done:
        raise ServiceError("Åtgärden är redan verifierad.")
    if not reason.strip():
        raise ServiceError("Ange varför sista dag ändras.")
    if due_date < now.date():
        raise ServiceError("Sista dag kan inte ligga i det förflutna.")
    from riskreg.audit.context import because

    with because(reason.strip()):
        action.due_date = due_date
        session.flush()
    return action
