"""The control workflow: plan a control, move it through its statuses, raise and close actions.

Plain functions that flush and never commit. Permission checks happen in the views; the rules
that hold whoever acts (segregation of duties, reasons for reopening) are enforced here too,
by calling the predicates in riskreg.permissions rather than restating them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, selectinload

from riskreg import permissions
from riskreg.auth.models import Role, Unit, User
from riskreg.controls.guards import approval_note, notify_assigned
from riskreg.controls.models import (
    CONTROL_STATUS_TITLES,
    Action,
    ActionStatus,
    CheckType,
    Control,
    ControlEvent,
    ControlStatus,
    Deviation,
)
from riskreg.db import local_date, table_of
from riskreg.errors import AlreadyDone, NotAllowed, ServiceError, StaleObject
from riskreg.i18n import N_
from riskreg.i18n import gettext_now as _
from riskreg.paging import contains_text
from riskreg.plans.models import Plan
from riskreg.risks.models import Risk
from riskreg.sampling.models import SampleDraw, SampleItem

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
        raise ServiceError(_("Ange vad granskningen gäller."))
    _check_controllers(controllers)
    deadline = deadline or risk.deadline
    if deadline is None:
        raise ServiceError(_("Ange när granskningen ska vara klar; planraden saknar datum."))
    check_type = CheckType(check_type)
    _check_attributes(check_type, attributes_text)
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
    _record_controllers(session, control, None)
    return control


def _check_controllers(controllers: list[User]) -> None:
    if not controllers:
        raise ServiceError(_("Minst en granskare måste tilldelas."))
    not_controllers = [u.username for u in controllers if u.role != Role.CONTROLLER]
    if not_controllers:
        raise ServiceError(
            _("Bara granskare kan tilldelas: %(value)s", value=", ".join(not_controllers))
        )


def _check_attributes(check_type: CheckType, attributes_text: str) -> None:
    if check_type == CheckType.GENERIC and not attributes_text.strip():
        raise ServiceError(_("Ange vilka attribut som kontrolleras per post (ett per rad)."))


def _check_version(obj: Control | Action, expected_version: int | None, message: str) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise StaleObject(_(message))


STALE_CONTROL = N_(
    "Någon annan har sparat granskningen sedan du öppnade sidan. "
    "Dina ändringar har inte sparats; jämför med den aktuella versionen."
)
STALE_ACTION = N_(
    "Någon annan har ändrat åtgärden sedan du öppnade sidan. "
    "Dina ändringar har inte sparats; jämför med den aktuella versionen."
)


def _record_controllers(session: Session, control: Control, before: list[str] | None) -> None:
    """The assignment lives in an association table, which the automatic trail cannot see."""
    from riskreg.audit.trail import record

    after = ", ".join(sorted(u.username for u in control.controllers))
    if before is None:
        record(session, "assign", "control", control.id, {"controllers": after})
        return
    if ", ".join(sorted(before)) != after:
        record(
            session,
            "assign",
            "control",
            control.id,
            {"controllers": after, "previous_controllers": ", ".join(sorted(before))},
        )


def update_control(
    session: Session,
    control: Control,
    *,
    title: str,
    controllers: Iterable[User],
    deadline: date,
    deviation_definition: str,
    attributes_text: str = "",
    expected_version: int | None = None,
) -> Control:
    """Change the plan of a control; only while it is planned, before any testing."""
    _check_version(control, expected_version, STALE_CONTROL)
    if control.status_enum != ControlStatus.PLANNED:
        raise ServiceError(_("En granskning kan bara ändras medan den är planerad."))
    controllers = list(controllers)
    if not title.strip():
        raise ServiceError(_("Ange vad granskningen gäller."))
    _check_controllers(controllers)
    _check_attributes(control.check_type_enum, attributes_text)
    before = [u.username for u in control.controllers]
    control.title = title.strip()
    control.deadline = deadline
    control.deviation_definition = deviation_definition.strip()
    control.attributes_text = attributes_text.strip()
    if sorted(u.id for u in controllers) != sorted(u.id for u in control.controllers):
        control.controllers = controllers
        # A change of the association table alone does not update the control row; bump the
        # version by hand so that other open forms see the save as a conflict.
        control.version = control.version + 1
    session.flush()
    _record_controllers(session, control, before)
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
    expected_status: ControlStatus | str | None = None,
    override_unverified: bool = False,
) -> Control:
    """Move a control to its next status, recording who, when and why.

    `expected_status` names the step the user asked for (sending back and reopening both lead
    to "in progress"): the control must be in that status now. `override_unverified`: approve
    over unverified answers, with the reason in `note` (riskreg.controls.guards.approval_note).
    """
    if expected_version is not None and control.version != expected_version:
        raise StaleObject(_("Granskningen har ändrats av någon annan. Ladda om sidan."))
    to_status = ControlStatus(to_status)
    current = control.status_enum
    if expected_status is not None and current != ControlStatus(expected_status):
        raise ServiceError(
            _(
                "Granskningen har status ”%(value)s”, inte ”%(value2)s”.",
                value=CONTROL_STATUS_TITLES[current],
                value2=CONTROL_STATUS_TITLES[ControlStatus(expected_status)],
            )
        )
    if current not in TRANSITIONS.get(to_status, set()):
        raise ServiceError(
            _(
                "Granskningen kan inte gå från ”%(value)s” till ”%(value2)s”.",
                value=CONTROL_STATUS_TITLES[current],
                value2=CONTROL_STATUS_TITLES[to_status],
            )
        )
    note = note.strip()
    reopening = current == ControlStatus.APPROVED
    approver = control.approved_by  # cleared below when reopening; told afterwards
    if reopening and not (actor.role == Role.ADMIN or actor.id == control.approved_by_id):
        raise NotAllowed(
            _(
                "En godkänd granskning kan bara öppnas igen av godkännaren som godkände den eller "
                "av en administratör."
            )
        )
    if reopening and not note:
        raise ServiceError(_("Ange skäl för att öppna en godkänd granskning igen."))
    sent_back = current == ControlStatus.READY_FOR_REVIEW and to_status == ControlStatus.IN_PROGRESS
    if sent_back and not note:
        raise ServiceError(_("Ange varför granskningen skickas tillbaka."))
    if to_status == ControlStatus.IN_PROGRESS and not control.deviation_definition.strip():
        raise ServiceError(_("Skriv vad som räknas som avvikelse innan granskningen påbörjas."))
    if to_status == ControlStatus.READY_FOR_REVIEW and not control.conclusion.strip():
        raise ServiceError(
            _("Skriv granskarens slutsats innan granskningen lämnas för godkännande.")
        )
    if to_status == ControlStatus.APPROVED:
        if control.is_controller(actor):
            raise NotAllowed(_("Den som har utfört granskningen kan inte godkänna den."))
        if not permissions.can_approve_control(actor, control):
            raise NotAllowed(_("Bara en godkännare för granskningens enhet kan godkänna den."))
        note = approval_note(control, note, override=override_unverified)
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
    if reopening:
        _notify_reopened(session, control, actor=actor, approver=approver, note=note, now=now)
    return control


def _notify_reopened(
    session: Session,
    control: Control,
    *,
    actor: User,
    approver: User | None,
    note: str,
    now: datetime,
) -> None:
    """Tell the other party: the controllers and the approver, except whoever reopened it."""
    from riskreg.reminders.notifications import notify_control_event

    others = [u for u in [*control.controllers, approver] if u is not None and u.id != actor.id]
    name = actor.full_name or actor.username
    notify_control_event(
        session,
        control,
        others,
        reason="reopened",
        title=f"{control.title}: öppnad igen av {name}. Skäl: {note}",
        now=now,
    )


def set_conclusion(
    session: Session, control: Control, conclusion: str, *, expected_version: int | None = None
) -> Control:
    _check_version(control, expected_version, STALE_CONTROL)
    if control.status_enum in (ControlStatus.READY_FOR_REVIEW, ControlStatus.APPROVED):
        raise ServiceError(
            _("Slutsatsen kan inte ändras när granskningen är lämnad eller godkänd.")
        )
    control.conclusion = conclusion.strip()
    session.flush()
    return control


def lock_control(session: Session, control: Control) -> Control:
    """Take the control's row lock for the rest of the transaction and reload the control.

    Every state-changing action on a control (import, plan, draw, extend, sign) starts with
    this, before it reads anything it decides on: on PostgreSQL (SELECT … FOR UPDATE) two
    concurrent requests for one control then run one after the other, and the second sees
    what the first committed (a current draw, a larger sample) instead of acting on the state
    both read at the start. SQLite has no row locks but lets one writer in at a time.
    Call it before the request's first flush: the audit trail takes its own lock at flush.
    """
    if session.get_bind().dialect.name == "sqlite":
        # No row locks: a no-op write takes the database's write lock instead. The driver opens
        # the transaction at this first write, so what is read next is what is committed now.
        table = table_of(Control)
        session.execute(update(table).where(table.c.id == control.id).values(id=table.c.id))
    else:
        session.execute(select(Control.id).where(Control.id == control.id).with_for_update())
    session.refresh(control)
    return control


def require_unchanged(seen: int | None, current: int, message: str) -> None:
    """Idempotency of a repeated form: the form says what it was shown (an id or a count, 0 for
    none); if that is no longer current, the same form was sent twice or someone else acted
    first, and nothing is done again. ``seen`` None (a form without the field): no check."""
    if seen is not None and seen != current:
        raise AlreadyDone(_(message), object_id=current)


def require_open_for_testing(control: Control) -> None:
    """Populations, plans, draws and results may change only while the control is in progress:
    not before it is started (the deviation definition is locked at the start, ISA 530), and
    not once it is submitted or approved."""
    if control.status_enum == ControlStatus.PLANNED:
        raise ServiceError(
            _(
                "Granskningen är inte påbörjad. Påbörja den först: då låses vad som räknas som "
                "avvikelse, och först därefter kan population, urval och resultat registreras."
            )
        )
    if control.status_enum in (ControlStatus.READY_FOR_REVIEW, ControlStatus.APPROVED):
        raise ServiceError(
            _(
                "Granskningen är lämnad för godkännande eller godkänd och kan inte ändras. Den "
                "måste öppnas igen först."
            )
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
        raise ServiceError(_("Beskriv avvikelsen."))
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
    form_token: str | None = None,
) -> Action:
    """A new action. ``form_token`` (the form's one-time token) makes a repeated form, even
    20 concurrent copies of it, create one action: the others raise AlreadyDone."""
    if form_token:
        lock_control(session, control)  # concurrent copies of the form run one at a time
        _refuse_repeated_action_form(session, form_token)
    if not description.strip():
        raise ServiceError(_("Beskriv åtgärden."))
    if due_date < local_date(now):
        raise ServiceError(_("Sista dag för åtgärden kan inte ligga i det förflutna."))
    if deviation is not None and deviation.control_id != control.id:
        raise ServiceError(_("Avvikelsen hör till en annan granskning."))
    action = Action(
        control=control,
        deviation=deviation,
        owner_unit=owner_unit,
        description=description.strip(),
        due_date=due_date,
        created_by=actor,
        created_at=now,
        form_token=form_token or None,
    )
    session.add(action)
    session.flush()  # the unique token is the database's last word (a 409 page, see lost_race)
    notify_assigned(session, action, actor=actor, now=now)
    return action


ACTION_ALREADY_RAISED = N_("Åtgärden var redan registrerad (formuläret skickades två gånger).")


def _refuse_repeated_action_form(session: Session, form_token: str) -> None:
    existing = session.scalar(select(Action.id).where(Action.form_token == form_token))
    if existing is not None:
        raise AlreadyDone(_(ACTION_ALREADY_RAISED), object_id=existing)


def answer_action(
    session: Session,
    action: Action,
    *,
    answer: str,
    actor: User,
    now: datetime,
    expected_version: int | None = None,
) -> Action:
    """The owner unit says what it has done; the controller then verifies it."""
    _check_version(action, expected_version, STALE_ACTION)
    if action.is_done:
        raise ServiceError(_("Åtgärden är redan verifierad."))
    if not answer.strip():
        raise ServiceError(_("Beskriv vad som har gjorts."))
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
    expected_version: int | None = None,
) -> Action:
    """Accept the unit's answer (done) or send the action back to the unit (open again)."""
    _check_version(action, expected_version, STALE_ACTION)
    if action.status != ActionStatus.ANSWERED:
        raise ServiceError(_("Bara en besvarad åtgärd kan verifieras."))
    if not accepted and not note.strip():
        raise ServiceError(_("Ange varför svaret inte räcker."))
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
    session: Session,
    action: Action,
    *,
    due_date: date,
    reason: str,
    now: datetime,
    expected_version: int | None = None,
) -> Action:
    """A new due date; reminders about the old date stop because their keys name that date."""
    _check_version(action, expected_version, STALE_ACTION)
    if action.is_done:
        raise ServiceError(_("Åtgärden är redan verifierad."))
    if not reason.strip():
        raise ServiceError(_("Ange varför sista dag ändras."))
    if due_date < local_date(now):
        raise ServiceError(_("Sista dag kan inte ligga i det förflutna."))
    if due_date == action.due_date:
        raise ServiceError(_("Ange ett annat datum än det nuvarande."))
    from riskreg.audit.context import because

    with because(reason.strip()):
        action.due_date = due_date
        session.flush()
    return action


# --- lists --------------------------------------------------------------------------------------


@dataclass
class ControlFilter:
    plan_id: int | None = None
    status: str | None = None
    unit_id: int | None = None
    check_type: str | None = None
    risk_id: int | None = None
    overdue: bool = False
    text: str | None = None


def control_query(flt: ControlFilter, *, today: date | None = None) -> Select[Control]:
    """Controls matching the filter, soonest deadline first, with what the lists show loaded.

    Callers add the user's scope (``permissions.scope_controls``) and page it."""
    query = (
        select(Control)
        .join(Control.risk)
        .options(
            selectinload(Control.risk).selectinload(Risk.plan).selectinload(Plan.organisation),
            selectinload(Control.responsible_unit),
            selectinload(Control.controllers).selectinload(User.units),
        )
    )
    if flt.plan_id:
        query = query.where(Risk.plan_id == flt.plan_id)
    if flt.status:
        query = query.where(Control.status == flt.status)
    if flt.unit_id:
        query = query.where(Control.responsible_unit_id == flt.unit_id)
    if flt.check_type:
        query = query.where(Control.check_type == flt.check_type)
    if flt.risk_id:
        query = query.where(Control.risk_id == flt.risk_id)
    if flt.overdue and today is not None:
        query = query.where(overdue_controls(today))
    if flt.text:
        query = query.where(contains_text(Control.title, flt.text))
    return query.order_by(Control.deadline, Risk.position, Control.id)


def overdue_controls(today: date) -> Any:
    """SQL twin of :func:`is_overdue` for controls."""
    return (Control.deadline < today) & (Control.status != ControlStatus.APPROVED.value)


def overdue_actions(today: date) -> Any:
    """SQL twin of :func:`is_overdue` for actions."""
    return (Action.due_date < today) & (Action.status != ActionStatus.VERIFIED.value)


@dataclass
class ActionFilter:
    status: str | None = None
    overdue: bool = False
    control_id: int | None = None
    unit_id: int | None = None
    text: str | None = None


def action_query(flt: ActionFilter, *, today: date) -> Select[Action]:
    """Actions matching the filter, soonest due date first, with what the lists show loaded.

    Callers add the user's scope (``permissions.scope_actions``) and page it."""
    query = select(Action).options(
        selectinload(Action.control).selectinload(Control.controllers).selectinload(User.units),
        selectinload(Action.owner_unit),
        # The lists show the sampled item an action came from, in its population's context.
        selectinload(Action.deviation)
        .selectinload(Deviation.sample_item)
        .options(
            selectinload(SampleItem.draw).selectinload(SampleDraw.population),
            selectinload(SampleItem.population_item),
        ),
    )
    if flt.status:
        query = query.where(Action.status == flt.status)
    if flt.overdue:
        query = query.where(overdue_actions(today))
    if flt.control_id:
        query = query.where(Action.control_id == flt.control_id)
    if flt.unit_id:
        query = query.where(Action.owner_unit_id == flt.unit_id)
    if flt.text:
        query = query.where(contains_text(Action.description, flt.text))
    return query.order_by(Action.due_date, Action.id)


def is_overdue(obj: Control | Action, today: date) -> bool:
    """Past its date and not finished (a control approved, an action verified)."""
    if isinstance(obj, Control):
        return obj.deadline < today and obj.status_enum != ControlStatus.APPROVED
    return obj.due_date < today and not obj.is_done


@dataclass(frozen=True)
class DueDateChange:
    at: datetime
    actor_name: str
    old: str
    new: str
    reason: str


def due_date_history(session: Session, action: Action) -> list[DueDateChange]:
    """Every change of the action's due date, read back from the audit trail."""
    from riskreg.audit.models import AuditEntry

    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == Action.__tablename__,
            AuditEntry.object_id == str(action.id),
            AuditEntry.action == "update",
        )
        .order_by(AuditEntry.id)
    )
    found: list[DueDateChange] = []
    for entry in entries:
        change = json.loads(entry.payload).get("changes", {}).get("due_date")
        if change:
            found.append(
                DueDateChange(
                    at=entry.at,
                    actor_name=entry.actor_name,
                    old=change[0] or "",
                    new=change[1] or "",
                    reason=entry.reason or "",
                )
            )
    return found
